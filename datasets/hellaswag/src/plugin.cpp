// The hellaswag dataset plugin: a thin wrapper over
// compass_dataset_hellaswag_lib. It takes no options.
#include "compass/datasets/hellaswag.h"
#include "compass/plugin_support/plugin_glue.h"

namespace {

namespace hellaswag = compass::datasets::hellaswag;

using HellaswagDataset = compass::plugin_support::PluginDataset<
    "hellaswag", hellaswag::Hellaswag, hellaswag::config_from_abi, nullptr,
    compass::plugin_support::items_of_kind<COMPASS_ITEM_MULTIPLE_CHOICE>>;

}  // namespace

COMPASS_EXPORT_DATASET(HellaswagDataset, "hellaswag", "0.1.0",
                       "HellaSwag sentence completion from its jsonl release, prompts and "
                       "preprocessing as lm-evaluation-harness's hellaswag",
                       "mcq_accuracy")
