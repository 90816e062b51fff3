// Exact match of generated text against the item's references, with the
// options of lm-evaluation-harness's exact_match (HF evaluate's), applied
// to the prediction and to each reference in this order:
//
//   strip              Python str.strip() (default true; not an lm-eval
//                      option: lm-eval compares unstripped text, as
//                      strip = false does)
//   regexes_to_ignore  re.sub(pattern, "", text) for each, in order
//   ignore_case        str.lower()
//   ignore_punctuation remove string.punctuation (ASCII !"#$%&'()*+,-./:;<=>?@[\]^_`{|}~)
//   ignore_numbers     remove string.digits (0-9)
//
// The metric `exact_match` is 1 when the normalised prediction equals any
// normalised reference, else 0 (weight 1, prediction = the normalised
// text). Aggregate: mean with its analytic standard error.
#ifndef COMPASS_SCORERS_EXACT_MATCH_H_
#define COMPASS_SCORERS_EXACT_MATCH_H_

#include "compass/plugin_support/regex.h"

#include <compass/plugin.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace compass::scorers::exact_match {

using plugin_support::Regex;

struct Options {
  bool strip = true;
  std::vector<std::string> regexes_to_ignore;
  bool ignore_case = false;
  bool ignore_punctuation = false;
  bool ignore_numbers = false;
};
// Parses the scorer's options JSON ("" = {}). Throws sdk::Error
// COMPASS_INVALID_ARGUMENT for bad JSON, a wrong type or an invalid regex.
Options parse_options(std::string_view options_json);
compass_option_list option_specs();

class Normalizer {
 public:
  // Compiles the regexes (errors as Regex).
  explicit Normalizer(Options options);
  std::string operator()(std::string_view text) const;

 private:
  Options options_;
  std::vector<Regex> regexes_;
};

// Removes the ASCII punctuation of Python's string.punctuation.
std::string remove_punctuation(std::string_view text);
// Removes the ASCII digits 0-9.
std::string remove_digits(std::string_view text);

struct Result {
  double value = 0;        // 1 or 0
  std::string prediction;  // the normalised output
};
// Throws sdk::Error COMPASS_INVALID_ARGUMENT "<scorer>: ..." when the item
// or output is from an unknown ABI, or the item is not a generate item or
// has no reference.
void check_generate_item(std::string_view scorer, const compass_item& item,
                         const compass_model_output& output);

// Throws as check_generate_item.
Result score(const Normalizer& normalize, const compass_item& item,
             const compass_model_output& output);

}  // namespace compass::scorers::exact_match

#endif  // COMPASS_SCORERS_EXACT_MATCH_H_
