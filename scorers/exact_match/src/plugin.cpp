// The exact_match scorer plugin: a thin wrapper over
// compass_scorer_exact_match_lib; aggregation is the SDK's weighted mean.
#include "compass/scorers/exact_match.h"

#include <compass/plugin.hpp>

namespace {

namespace em = compass::scorers::exact_match;

class ExactMatchScorer final : public compass::sdk::Scorer {
 public:
  static constexpr uint64_t item_kinds = COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_GENERATE);
  ExactMatchScorer(const compass::sdk::Host& /*host*/, std::string_view options_json)
      : normalize_(em::parse_options(options_json)) {}

  static compass_option_list options() { return em::option_specs(); }

  void score(const compass_item& item, const compass_model_output& output,
             const compass::sdk::MetricSink& sink) override {
    const em::Result result = em::score(normalize_, item, output);
    sink("exact_match", result.value, 1.0, result.prediction);
  }

 private:
  em::Normalizer normalize_;
};

}  // namespace

COMPASS_EXPORT_SCORER(ExactMatchScorer, "exact_match", "0.1.0",
                      "Exact match of the generated text against the references, with "
                      "lm-evaluation-harness's exact_match options")
