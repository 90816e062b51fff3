// The mmlu dataset plugin: a thin wrapper over compass_dataset_mmlu_lib.
#include "compass/datasets/mmlu.h"

#include <compass/plugin.hpp>

namespace {

namespace mmlu = compass::datasets::mmlu;

class MmluDataset final : public compass::sdk::Dataset {
 public:
  MmluDataset(const compass::sdk::Host& host, const compass_dataset_config& config)
      : host_(host), data_(mmlu::config_from_abi(config)) {
    host_.log(COMPASS_LOG_DEBUG, "mmlu: " + std::to_string(data_.subjects().size()) +
                                     " subjects, " + std::to_string(data_.size()) + " items");
  }

  static compass_option_list options() { return mmlu::option_specs(); }

  void items(const compass::sdk::ItemSink& sink) override {
    data_.for_each_item([&](const compass::sdk::Item& item) {
      host_.check_cancelled();
      return sink(item);
    });
  }

 private:
  compass::sdk::Host host_;
  mmlu::Mmlu data_;
};

}  // namespace

COMPASS_EXPORT_DATASET(
    MmluDataset, "mmlu", "0.1.0",
    "MMLU multiple choice (57 subjects), prompts as lm-evaluation-harness's mmlu", "mcq_accuracy")
