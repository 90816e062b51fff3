// GSM8K accuracy as lm-evaluation-harness's gsm8k task computes it: two
// filters extract an answer from the generated text, then exact_match with
// ignore_case, regexes_to_ignore [",", "\$", "(?s).*#### ", "\.$"] (no
// strip, no punctuation removal) compares it to the reference.
//
//   strict    regex "#### (\-?[0-9\.\,]+)", the FIRST match's group
//   flexible  regex "(-?[$0-9.,]{2,})|(-?[0-9]+)", the LAST match, its
//             first non-empty group
//
// The extracted text is Python-stripped. No match: the prediction is
// lm-eval's fallback "[invalid]", scored 0 (never a guess).
//
// Metrics per item (weight 1): exact_match_strict, exact_match_flexible
// (0/1, higher is better) and unparsed_strict, unparsed_flexible (1 when the
// filter found nothing, so the aggregate is the fraction of unparsed
// answers; lower is better). Aggregates: mean, analytic standard error.
#ifndef COMPASS_SCORERS_GSM8K_ANSWER_H_
#define COMPASS_SCORERS_GSM8K_ANSWER_H_

#include <compass/plugin.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace compass::scorers::gsm8k {

inline constexpr std::string_view kInvalid = "[invalid]";

struct Metric {
  std::string name;
  double value = 0;
  std::string prediction;
};

class Gsm8kAnswer {
 public:
  Gsm8kAnswer();
  ~Gsm8kAnswer();
  Gsm8kAnswer(const Gsm8kAnswer&) = delete;
  Gsm8kAnswer& operator=(const Gsm8kAnswer&) = delete;

  // The filters' answers, or nullopt when the regex does not match.
  std::optional<std::string> strict(std::string_view text) const;
  std::optional<std::string> flexible(std::string_view text) const;
  // lm-eval's gsm8k exact_match normalisation.
  std::string normalize(std::string_view text) const;

  // Throws sdk::Error COMPASS_INVALID_ARGUMENT for a non-generate item or
  // one without a reference.
  std::vector<Metric> score(const compass_item& item, const compass_model_output& output) const;

 private:
  struct Impl;
  Impl* impl_;
};

// True for the unparsed_* metrics (lower is better).
bool lower_is_better(std::string_view metric);

}  // namespace compass::scorers::gsm8k

#endif  // COMPASS_SCORERS_GSM8K_ANSWER_H_
