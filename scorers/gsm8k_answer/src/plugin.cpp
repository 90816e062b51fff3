// The gsm8k_answer scorer plugin: a thin wrapper over
// compass_scorer_gsm8k_answer_lib; aggregation is the SDK's weighted mean.
#include "compass/scorers/gsm8k_answer.h"

#include <compass/plugin.hpp>

namespace {

namespace gsm8k = compass::scorers::gsm8k;

class Gsm8kAnswerScorer final : public compass::sdk::Scorer {
 public:
  static constexpr uint64_t item_kinds = COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_GENERATE);
  Gsm8kAnswerScorer(const compass::sdk::Host& /*host*/, std::string_view /*options_json*/) {}

  void score(const compass_item& item, const compass_model_output& output,
             const compass::sdk::MetricSink& sink) override {
    for (const auto& metric : scorer_.score(item, output)) {
      sink(metric.name, metric.value, 1.0, metric.prediction);
    }
  }

  compass_aggregate aggregate(std::string_view metric, const double* values, const double* weights,
                              uint64_t count) override {
    return compass::sdk::weighted_mean(values, weights, count, !gsm8k::lower_is_better(metric));
  }

 private:
  gsm8k::Gsm8kAnswer scorer_;
};

}  // namespace

COMPASS_EXPORT_SCORER(Gsm8kAnswerScorer, "gsm8k_answer", "0.1.0",
                      "GSM8K accuracy with lm-evaluation-harness's strict and flexible answer "
                      "extraction, and the fraction of unparsed answers")
