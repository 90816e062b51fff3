// Placeholder for the exact_match scorer: listed, but create() fails.
#include <compass/plugin.hpp>

namespace {

class ExactMatchScorer final : public compass::sdk::Scorer {
 public:
  ExactMatchScorer(const compass::sdk::Host&, std::string_view) {
    throw compass::sdk::Error(COMPASS_UNSUPPORTED,
                              "scorer 'exact_match' is not implemented in this version of Compass");
  }
  void score(const compass_item&, const compass_model_output&,
             const compass::sdk::MetricSink&) override {}
};

}  // namespace

COMPASS_EXPORT_SCORER(
    ExactMatchScorer, "exact_match", "0.0.0-unimplemented",
    "(not implemented yet) exact match of the generated text against the references")
