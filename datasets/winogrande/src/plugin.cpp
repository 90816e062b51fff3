// The winogrande dataset plugin: the jsonl dataset with Winogrande's
// definition. It takes no options.
#include "compass/datasets/winogrande.h"
#include "compass/plugin_support/plugin_glue.h"

namespace {

namespace winogrande = compass::datasets::winogrande;

using WinograndeDataset = compass::plugin_support::PluginDataset<
    "winogrande", compass::datasets::jsonl::JsonlDataset, winogrande::config_from_abi, nullptr,
    compass::plugin_support::items_of_kind<COMPASS_ITEM_MULTIPLE_CHOICE>>;

}  // namespace

COMPASS_EXPORT_DATASET(WinograndeDataset, "winogrande", "0.1.0",
                       "Winogrande from its jsonl release, scored by partial evaluation as "
                       "lm-evaluation-harness's winogrande",
                       "mcq_accuracy")
