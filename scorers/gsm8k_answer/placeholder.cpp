// Placeholder for the gsm8k_answer scorer: listed, but create() fails.
#include <compass/plugin.hpp>

namespace {

class Gsm8kAnswerScorer final : public compass::sdk::Scorer {
 public:
  Gsm8kAnswerScorer(const compass::sdk::Host&, std::string_view) {
    throw compass::sdk::Error(
        COMPASS_UNSUPPORTED, "scorer 'gsm8k_answer' is not implemented in this version of Compass");
  }
  void score(const compass_item&, const compass_model_output&,
             const compass::sdk::MetricSink&) override {}
};

}  // namespace

COMPASS_EXPORT_SCORER(
    Gsm8kAnswerScorer, "gsm8k_answer", "0.0.0-unimplemented",
    "(not implemented yet) GSM8K accuracy: the final number of the answer against the reference")
