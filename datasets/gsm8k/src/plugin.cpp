// The gsm8k dataset plugin: a thin wrapper over compass_dataset_gsm8k_lib.
#include "compass/datasets/gsm8k.h"

#include <compass/plugin.hpp>

namespace {

namespace gsm8k = compass::datasets::gsm8k;

class Gsm8kDataset final : public compass::sdk::Dataset {
 public:
  Gsm8kDataset(const compass::sdk::Host& host, const compass_dataset_config& config)
      : host_(host), data_(gsm8k::config_from_abi(config)) {
    host_.log(COMPASS_LOG_DEBUG,
              "gsm8k: " + std::to_string(data_.size()) + " items from " + data_.file().string());
  }

  static compass_option_list options() { return gsm8k::option_specs(); }

  void items(const compass::sdk::ItemSink& sink) override {
    data_.for_each_item([&](const compass::sdk::Item& item) {
      host_.check_cancelled();
      return sink(item);
    });
  }

 private:
  compass::sdk::Host host_;
  gsm8k::Gsm8k data_;
};

}  // namespace

COMPASS_EXPORT_DATASET(Gsm8kDataset, "gsm8k", "0.1.0",
                       "GSM8K grade-school math: generated chain-of-thought answers, prompts as "
                       "lm-evaluation-harness's gsm8k",
                       "gsm8k_answer")
