// The hellaswag dataset plugin: a thin wrapper over
// compass_dataset_hellaswag_lib.
#include "compass/datasets/hellaswag.h"

#include <compass/plugin.hpp>

namespace {

namespace hellaswag = compass::datasets::hellaswag;

class HellaswagDataset final : public compass::sdk::Dataset {
 public:
  HellaswagDataset(const compass::sdk::Host& host, const compass_dataset_config& config)
      : host_(host), data_(hellaswag::config_from_abi(config)) {
    host_.log(COMPASS_LOG_DEBUG, "hellaswag: " + std::to_string(data_.size()) + " items");
  }

  void items(const compass::sdk::ItemSink& sink) override {
    data_.for_each_item([&](const compass::sdk::Item& item) {
      host_.check_cancelled();
      return sink(item);
    });
  }

 private:
  compass::sdk::Host host_;
  hellaswag::Hellaswag data_;
};

}  // namespace

COMPASS_EXPORT_DATASET(HellaswagDataset, "hellaswag", "0.1.0",
                       "HellaSwag sentence completion from its jsonl release, prompts and "
                       "preprocessing as lm-evaluation-harness's hellaswag",
                       "mcq_accuracy")
