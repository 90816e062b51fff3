// Placeholder for the arc dataset: listed, but create() fails.
#include <compass/plugin.hpp>

namespace {

class ArcDataset final : public compass::sdk::Dataset {
 public:
  ArcDataset(const compass::sdk::Host&, const compass_dataset_config&) {
    throw compass::sdk::Error(COMPASS_UNSUPPORTED,
                              "dataset 'arc' is not implemented in this version of Compass");
  }
  void items(const compass::sdk::ItemSink&) override {}
};

}  // namespace

COMPASS_EXPORT_DATASET(
    ArcDataset, "arc", "0.0.0-unimplemented",
    "(not implemented yet) AI2 Reasoning Challenge, Easy and Challenge, from AI2 jsonl",
    "mcq_accuracy")
