// The jsonl dataset plugin: a thin wrapper over compass_dataset_jsonl_lib.
#include "compass/datasets/jsonl_dataset.h"
#include "compass/plugin_support/plugin_glue.h"

namespace {

namespace jsonl = compass::datasets::jsonl;

using JsonlDataset =
    compass::plugin_support::PluginDataset<"jsonl", jsonl::JsonlDataset, jsonl::config_from_abi,
                                           jsonl::option_specs>;

}  // namespace

COMPASS_EXPORT_DATASET(JsonlDataset, "jsonl", "0.1.0",
                       "Generic JSON Lines dataset: multiple choice, generation or rolling "
                       "loglikelihood items from prompt templates given as task options",
                       "exact_match")
