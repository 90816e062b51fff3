// Plugins whose methods throw, to check that exceptions become statuses.
#include <compass/plugin.hpp>

#include <stdexcept>

namespace {

class ThrowingDataset final : public compass::sdk::Dataset {
 public:
  ThrowingDataset(const compass::sdk::Host&, const compass_dataset_config& config) {
    if (config.num_shots == 99) throw std::runtime_error("constructor exploded");
  }
  // ABI 2.1: describes a multiple-choice task, or throws for num_shots 99.
  static compass::sdk::TaskInfo describe(const compass::sdk::Host&,
                                         const compass_dataset_config& config) {
    if (config.num_shots == 99) {
      throw compass::sdk::Error(COMPASS_INVALID_ARGUMENT, "task.yaml:3: doc_to_text: bad");
    }
    compass::sdk::TaskInfo info;
    info.item_kinds = COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_MULTIPLE_CHOICE);
    info.scorer = "mcq_accuracy";
    info.scorer_options_json = R"({"x":1})";
    info.num_shots = 5;
    return info;
  }
  void items(const compass::sdk::ItemSink& sink) override {
    compass::sdk::Item item;
    item.id = "first";
    item.context = "ctx";
    item.choices = {" a"};
    item.gold = 0;
    sink(item);
    throw compass::sdk::Error(COMPASS_DATA_LOSS, "corrupt.csv:7: row has 3 fields");
  }
};

class ThrowingScorer final : public compass::sdk::Scorer {
 public:
  ThrowingScorer(const compass::sdk::Host&, std::string_view) {}
  void score(const compass_item&, const compass_model_output&,
             const compass::sdk::MetricSink&) override {
    throw 17;  // not even a std::exception
  }
};

}  // namespace

COMPASS_EXPORT_DATASET(ThrowingDataset, "throwing", "1.0.0", "throws", "throwing")
COMPASS_EXPORT_SCORER(ThrowingScorer, "throwing", "1.0.0", "throws")
