// Placeholder for the gsm8k dataset: listed, but create() fails.
#include <compass/plugin.hpp>

namespace {

class Gsm8kDataset final : public compass::sdk::Dataset {
 public:
  Gsm8kDataset(const compass::sdk::Host&, const compass_dataset_config&) {
    throw compass::sdk::Error(COMPASS_UNSUPPORTED,
                              "dataset 'gsm8k' is not implemented in this version of Compass");
  }
  void items(const compass::sdk::ItemSink&) override {}
};

}  // namespace

COMPASS_EXPORT_DATASET(Gsm8kDataset, "gsm8k", "0.0.0-unimplemented",
                       "(not implemented yet) GSM8K grade-school math, generated answers after "
                       "few-shot chain of thought",
                       "gsm8k_answer")
