// Placeholder for the jsonl dataset: listed, but create() fails.
#include <compass/plugin.hpp>

namespace {

class JsonlDataset final : public compass::sdk::Dataset {
 public:
  JsonlDataset(const compass::sdk::Host&, const compass_dataset_config&) {
    throw compass::sdk::Error(COMPASS_UNSUPPORTED,
                              "dataset 'jsonl' is not implemented in this version of Compass");
  }
  void items(const compass::sdk::ItemSink&) override {}
};

}  // namespace

COMPASS_EXPORT_DATASET(
    JsonlDataset, "jsonl", "0.0.0-unimplemented",
    "(not implemented yet) generic JSON Lines dataset with prompt, choices or references per line",
    "exact_match")
