// The jsonl dataset plugin: a thin wrapper over compass_dataset_jsonl_lib.
#include "compass/datasets/jsonl_dataset.h"
#include "compass/plugin_support/plugin_glue.h"

namespace {

namespace jsonl = compass::datasets::jsonl;

using JsonlDataset =
    compass::plugin_support::PluginDataset<"jsonl", jsonl::JsonlDataset, jsonl::config_from_abi,
                                           jsonl::option_specs, jsonl::describe>;

}  // namespace

// The default scorer below is for hosts of ABI 2.0; newer hosts take the
// scorer describe() chooses from the task's kind or task file.
COMPASS_EXPORT_DATASET(JsonlDataset, "jsonl", "0.1.0",
                       "Generic JSON Lines dataset: multiple choice (partial evaluation included), "
                       "generation or rolling loglikelihood items from lm-evaluation-harness "
                       "templates given as task options or read from an lm-eval task YAML",
                       "exact_match")
