// Placeholder for the hellaswag dataset: listed, but create() fails.
#include <compass/plugin.hpp>

namespace {

class HellaswagDataset final : public compass::sdk::Dataset {
 public:
  HellaswagDataset(const compass::sdk::Host&, const compass_dataset_config&) {
    throw compass::sdk::Error(COMPASS_UNSUPPORTED,
                              "dataset 'hellaswag' is not implemented in this version of Compass");
  }
  void items(const compass::sdk::ItemSink&) override {}
};

}  // namespace

COMPASS_EXPORT_DATASET(
    HellaswagDataset, "hellaswag", "0.0.0-unimplemented",
    "(not implemented yet) HellaSwag sentence completion, four endings scored by likelihood",
    "mcq_accuracy")
