// The arc dataset plugin: a thin wrapper over compass_dataset_arc_lib.
#include "compass/datasets/arc.h"
#include "compass/plugin_support/plugin_glue.h"

namespace {

namespace arc = compass::datasets::arc;

using ArcDataset = compass::plugin_support::PluginDataset<
    "arc", arc::Arc, arc::config_from_abi, arc::option_specs,
    compass::plugin_support::items_of_kind<COMPASS_ITEM_MULTIPLE_CHOICE>>;

}  // namespace

COMPASS_EXPORT_DATASET(ArcDataset, "arc", "0.1.0",
                       "AI2 Reasoning Challenge (Easy, Challenge) from AI2 jsonl, prompts as "
                       "lm-evaluation-harness's arc_easy / arc_challenge",
                       "mcq_accuracy")
