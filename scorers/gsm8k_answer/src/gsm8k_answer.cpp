#include "compass/scorers/gsm8k_answer.h"

#include "compass/plugin_support/regex.h"
#include "compass/plugin_support/text.h"
#include "compass/scorers/exact_match.h"

namespace compass::scorers::gsm8k {

using plugin_support::Regex;

namespace {

exact_match::Options normalisation() {
  exact_match::Options options;
  options.strip = false;
  options.ignore_case = true;
  options.ignore_punctuation = false;
  options.regexes_to_ignore = {",", "\\$", "(?s).*#### ", "\\.$"};
  return options;
}

}  // namespace

struct Gsm8kAnswer::Impl {
  Regex strict{"#### (\\-?[0-9\\.\\,]+)"};
  Regex flexible{"(-?[$0-9.,]{2,})|(-?[0-9]+)"};
  exact_match::Normalizer normalize{normalisation()};
};

Gsm8kAnswer::Gsm8kAnswer() : impl_(new Impl) {}
Gsm8kAnswer::~Gsm8kAnswer() {
  delete impl_;
}

std::optional<std::string> Gsm8kAnswer::strict(std::string_view text) const {
  const auto matches = impl_->strict.find_all(text);
  if (matches.empty()) return std::nullopt;  // group_select 0: the first match
  return std::string(plugin_support::python_strip(matches.front()[0]));
}

std::optional<std::string> Gsm8kAnswer::flexible(std::string_view text) const {
  const auto matches = impl_->flexible.find_all(text);
  if (matches.empty()) return std::nullopt;
  // group_select -1: the last match; of its groups, the first non-empty.
  for (const std::string& group : matches.back()) {
    if (!group.empty()) return std::string(plugin_support::python_strip(group));
  }
  return std::nullopt;
}

std::string Gsm8kAnswer::normalize(std::string_view text) const {
  return impl_->normalize(text);
}

std::vector<Metric> Gsm8kAnswer::score(const compass_item& item,
                                       const compass_model_output& output) const {
  exact_match::check_generate_item("gsm8k_answer", item, output);
  std::vector<std::string> references;
  for (uint64_t i = 0; i < item.num_references; ++i) {
    references.push_back(normalize(sdk::view(item.references[i])));
  }
  const std::string_view text = sdk::view(output.text);
  std::vector<Metric> metrics;
  const auto add = [&](const std::string& suffix, const std::optional<std::string>& answer) {
    double correct = 0;
    if (answer) {
      const std::string prediction = normalize(*answer);
      for (const auto& reference : references) {
        if (prediction == reference) correct = 1;
      }
    }
    const std::string shown = answer ? *answer : std::string(kInvalid);
    metrics.push_back({"exact_match_" + suffix, correct, shown});
    metrics.push_back({"unparsed_" + suffix, answer ? 0.0 : 1.0, shown});
  };
  add("strict", strict(text));
  add("flexible", flexible(text));
  return metrics;
}

bool lower_is_better(std::string_view metric) {
  return metric.starts_with("unparsed_");
}

}  // namespace compass::scorers::gsm8k
