// The gsm8k dataset plugin: a thin wrapper over compass_dataset_gsm8k_lib.
#include "compass/datasets/gsm8k.h"
#include "compass/plugin_support/plugin_glue.h"

namespace {

namespace gsm8k = compass::datasets::gsm8k;

using Gsm8kDataset = compass::plugin_support::PluginDataset<
    "gsm8k", gsm8k::Gsm8k, gsm8k::config_from_abi, gsm8k::option_specs,
    compass::plugin_support::items_of_kind<COMPASS_ITEM_GENERATE>>;

}  // namespace

COMPASS_EXPORT_DATASET(Gsm8kDataset, "gsm8k", "0.1.0",
                       "GSM8K grade-school math: generated chain-of-thought answers, prompts as "
                       "lm-evaluation-harness's gsm8k",
                       "gsm8k_answer")
