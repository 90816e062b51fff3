// The perplexity scorer plugin: a thin wrapper over
// compass_scorer_perplexity_lib.
#include "compass/scorers/perplexity.h"

#include <compass/plugin.hpp>

namespace {

namespace ppl = compass::scorers::perplexity;

class PerplexityScorer final : public compass::sdk::Scorer {
 public:
  static constexpr uint64_t item_kinds = COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_ROLLING);
  PerplexityScorer(const compass::sdk::Host& /*host*/, std::string_view options_json)
      : options_(ppl::parse_options(options_json)) {}

  static compass_option_list options() { return ppl::option_specs(); }

  void score(const compass_item& item, const compass_model_output& output,
             const compass::sdk::MetricSink& sink) override {
    for (const auto& metric : ppl::score(item, output))
      sink(metric.name, metric.value, metric.weight);
  }

  compass_aggregate aggregate(std::string_view metric, const double* values, const double* weights,
                              uint64_t count) override {
    return ppl::aggregate(metric, values, weights, count, options_.bootstrap_iters);
  }

 private:
  ppl::Options options_;
};

}  // namespace

COMPASS_EXPORT_SCORER(PerplexityScorer, "perplexity", "0.1.0",
                      "Word and byte perplexity and bits per byte of rolling log-likelihoods, as "
                      "lm-evaluation-harness; bootstrap standard errors")
