// The mcq_accuracy scorer plugin: a thin wrapper over
// compass_scorer_mcq_accuracy_lib; aggregation is the SDK's weighted mean.
#include "compass/scorers/mcq_accuracy.h"

#include <compass/plugin.hpp>

namespace {

class McqAccuracyScorer final : public compass::sdk::Scorer {
 public:
  static constexpr uint64_t item_kinds = COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_MULTIPLE_CHOICE);
  McqAccuracyScorer(const compass::sdk::Host& /*host*/, std::string_view /*options_json*/) {}

  void score(const compass_item& item, const compass_model_output& output,
             const compass::sdk::MetricSink& sink) override {
    for (const auto& metric : compass::scorers::mcq::score(item, output)) {
      sink(metric.name, metric.value, 1.0, metric.prediction);
    }
  }
};

}  // namespace

COMPASS_EXPORT_SCORER(McqAccuracyScorer, "mcq_accuracy", "0.1.0",
                      "Multiple-choice accuracy: acc and length-normalised acc_norm, as lm-eval")
