// Accuracy for multiple-choice items, as lm-evaluation-harness computes it:
//   acc      = argmax_i logprob_i == gold
//   acc_norm = argmax_i logprob_i / len(choice_i) == gold
// where argmax is numpy's (first maximum wins; a NaN counts as the maximum)
// and len is lm-eval's: the number of Unicode code points of the choice
// WITHOUT the " " target delimiter that precedes it in the continuation
// (lm-eval scores " B" but divides by len("B")). Each metric is reported with
// weight 1 and the chosen choice's label (its text trimmed) as prediction.
//
// Partial evaluation (an item with one context per choice, ABI 2.1): the
// choices are one shared continuation, and lm-eval's len is that of the
// choice's own context, the option (Winogrande's "The trophy didn't fit
// because the suitcase"): the choice's context less the item's `context`
// (the few-shot examples every context starts with). The prediction is that
// option, trimmed.
#ifndef COMPASS_SCORERS_MCQ_ACCURACY_H_
#define COMPASS_SCORERS_MCQ_ACCURACY_H_

#include <compass/plugin.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace compass::scorers::mcq {

// Index of the first maximum, numpy.argmax semantics. `values` is non-empty.
size_t argmax(const std::vector<double>& values);

// Code points of UTF-8 text (Python's len).
size_t code_points(std::string_view text);

// Code points of `choice` after dropping one leading ' ' (lm-eval's
// target delimiter); at least 1, so an empty choice never divides by zero.
size_t norm_length(std::string_view choice);

// The choice as a prediction string: ASCII whitespace trimmed (" A" -> "A").
std::string_view label(std::string_view choice);

// Partial evaluation: the text that tells choice `i` apart, its context
// after the shared prefix item.context.
std::string_view option_text(const compass_item& item, uint64_t i);

struct Metric {
  std::string name;  // "acc" | "acc_norm"
  double value = 0;  // 0 or 1
  std::string prediction;
};

// Scores one item. Throws sdk::Error COMPASS_INVALID_ARGUMENT when the item
// is not multiple choice, has no choices, its gold is outside the choices,
// the output's number of choices differs from the item's, or it has
// contexts but not one per choice.
std::vector<Metric> score(const compass_item& item, const compass_model_output& output);

}  // namespace compass::scorers::mcq

#endif  // COMPASS_SCORERS_MCQ_ACCURACY_H_
