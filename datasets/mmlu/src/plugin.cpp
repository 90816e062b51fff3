// The mmlu dataset plugin: a thin wrapper over compass_dataset_mmlu_lib.
#include "compass/datasets/mmlu.h"
#include "compass/plugin_support/plugin_glue.h"

namespace {

namespace mmlu = compass::datasets::mmlu;

using MmluDataset = compass::plugin_support::PluginDataset<
    "mmlu", mmlu::Mmlu, mmlu::config_from_abi, mmlu::option_specs,
    compass::plugin_support::items_of_kind<COMPASS_ITEM_MULTIPLE_CHOICE>>;

}  // namespace

COMPASS_EXPORT_DATASET(
    MmluDataset, "mmlu", "0.1.0",
    "MMLU multiple choice (57 subjects), prompts as lm-evaluation-harness's mmlu", "mcq_accuracy")
