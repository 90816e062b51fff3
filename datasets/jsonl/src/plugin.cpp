// The jsonl dataset plugin: a thin wrapper over compass_dataset_jsonl_lib.
#include "compass/datasets/jsonl_dataset.h"

#include <compass/plugin.hpp>

namespace {

namespace jsonl = compass::datasets::jsonl;

class JsonlDataset final : public compass::sdk::Dataset {
 public:
  JsonlDataset(const compass::sdk::Host& host, const compass_dataset_config& config)
      : host_(host), data_(jsonl::config_from_abi(config)) {
    host_.log(COMPASS_LOG_DEBUG, "jsonl: " + std::to_string(data_.size()) + " items");
  }

  static compass_option_list options() { return jsonl::option_specs(); }

  void items(const compass::sdk::ItemSink& sink) override {
    data_.for_each_item([&](const compass::sdk::Item& item) {
      host_.check_cancelled();
      return sink(item);
    });
  }

 private:
  compass::sdk::Host host_;
  jsonl::JsonlDataset data_;
};

}  // namespace

COMPASS_EXPORT_DATASET(JsonlDataset, "jsonl", "0.1.0",
                       "Generic JSON Lines dataset: multiple choice, generation or rolling "
                       "loglikelihood items from prompt templates given as task options",
                       "exact_match")
