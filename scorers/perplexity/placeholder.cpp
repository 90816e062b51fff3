// Placeholder for the perplexity scorer: listed, but create() fails.
#include <compass/plugin.hpp>

namespace {

class PerplexityScorer final : public compass::sdk::Scorer {
 public:
  PerplexityScorer(const compass::sdk::Host&, std::string_view) {
    throw compass::sdk::Error(COMPASS_UNSUPPORTED,
                              "scorer 'perplexity' is not implemented in this version of Compass");
  }
  void score(const compass_item&, const compass_model_output&,
             const compass::sdk::MetricSink&) override {}
};

}  // namespace

COMPASS_EXPORT_SCORER(
    PerplexityScorer, "perplexity", "0.0.0-unimplemented",
    "(not implemented yet) word and byte perplexity and bits per byte of rolling loglikelihoods")
