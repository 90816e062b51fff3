// The arc dataset plugin: a thin wrapper over compass_dataset_arc_lib.
#include "compass/datasets/arc.h"

#include <compass/plugin.hpp>

namespace {

namespace arc = compass::datasets::arc;

class ArcDataset final : public compass::sdk::Dataset {
 public:
  ArcDataset(const compass::sdk::Host& host, const compass_dataset_config& config)
      : host_(host), data_(arc::config_from_abi(config)) {
    host_.log(COMPASS_LOG_DEBUG,
              "arc: " + std::to_string(data_.size()) + " items from " + data_.file().string());
  }

  static compass_option_list options() { return arc::option_specs(); }

  void items(const compass::sdk::ItemSink& sink) override {
    data_.for_each_item([&](const compass::sdk::Item& item) {
      host_.check_cancelled();
      return sink(item);
    });
  }

 private:
  compass::sdk::Host host_;
  arc::Arc data_;
};

}  // namespace

COMPASS_EXPORT_DATASET(ArcDataset, "arc", "0.1.0",
                       "AI2 Reasoning Challenge (Easy, Challenge) from AI2 jsonl, prompts as "
                       "lm-evaluation-harness's arc_easy / arc_challenge",
                       "mcq_accuracy")
