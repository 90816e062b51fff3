#include "compass/scorers/mcq_accuracy.h"

#include <algorithm>
#include <cmath>

namespace compass::scorers::mcq {

namespace {

std::string item_name(const compass_item& item) {
  return item.id.size > 0 ? "item '" + std::string(sdk::view(item.id)) + "'" : "item";
}

[[noreturn]] void invalid(const std::string& message) {
  throw sdk::Error(COMPASS_INVALID_ARGUMENT, "mcq_accuracy: " + message);
}

}  // namespace

size_t argmax(const std::vector<double>& values) {
  size_t best = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) return i;
    if (values[i] > values[best]) best = i;
  }
  return best;
}

size_t code_points(std::string_view text) {
  size_t count = 0;
  for (const char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return count;
}

size_t norm_length(std::string_view choice) {
  if (!choice.empty() && choice.front() == ' ') choice.remove_prefix(1);
  return std::max<size_t>(1, code_points(choice));
}

std::string_view label(std::string_view choice) {
  constexpr std::string_view kSpace = " \t\n\r\f\v";
  const size_t begin = choice.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return choice.substr(begin, choice.find_last_not_of(kSpace) - begin + 1);
}

std::string_view option_text(const compass_item& item, uint64_t i) {
  const std::string_view context = sdk::view(item.contexts[i]);
  const std::string_view prefix = sdk::view(item.context);
  return context.substr(0, prefix.size()) == prefix ? context.substr(prefix.size()) : context;
}

std::vector<Metric> score(const compass_item& item, const compass_model_output& output) {
  if (!COMPASS_HAS_FIELD(compass_item, item.struct_size, gold) ||
      !COMPASS_HAS_FIELD(compass_model_output, output.struct_size, num_choices)) {
    invalid("item or model output from an unknown ABI");
  }
  if (item.kind != COMPASS_ITEM_MULTIPLE_CHOICE) {
    invalid(item_name(item) + " is not a multiple-choice item (kind " + std::to_string(item.kind) +
            ")");
  }
  if (item.num_choices == 0) invalid(item_name(item) + " has no choices");
  if (output.num_choices != item.num_choices) {
    invalid(item_name(item) + " has " + std::to_string(item.num_choices) +
            " choices but the model output has " + std::to_string(output.num_choices));
  }
  if (item.gold < 0 || static_cast<uint64_t>(item.gold) >= item.num_choices) {
    invalid(item_name(item) + " has gold " + std::to_string(item.gold) + ", expected 0.." +
            std::to_string(item.num_choices - 1));
  }
  const bool partial =
      COMPASS_HAS_FIELD(compass_item, item.struct_size, num_contexts) && item.num_contexts > 0;
  if (partial && item.num_contexts != item.num_choices) {
    invalid(item_name(item) + " has " + std::to_string(item.num_contexts) + " contexts for " +
            std::to_string(item.num_choices) + " choices");
  }
  // What tells the choices apart: the continuation, or with partial
  // evaluation the choice's own context.
  const auto distinct = [&](uint64_t i) {
    return partial ? option_text(item, i) : sdk::view(item.choices[i]);
  };
  std::vector<double> raw(item.num_choices), normed(item.num_choices);
  for (uint64_t i = 0; i < item.num_choices; ++i) {
    raw[i] = COMPASS_AT(compass_choice_output, output.choices, i)->logprob;
    // lm-eval divides by len() of the doc_to_choice string: a choice
    // without its target delimiter, or a partial evaluation's option.
    const std::string_view text = distinct(i);
    const size_t length = partial ? std::max<size_t>(1, code_points(text)) : norm_length(text);
    normed[i] = raw[i] / static_cast<double>(length);
  }
  const size_t pred = argmax(raw), pred_norm = argmax(normed);
  const auto gold = static_cast<size_t>(item.gold);
  return {
      Metric{"acc", pred == gold ? 1.0 : 0.0, std::string(label(distinct(pred)))},
      Metric{"acc_norm", pred_norm == gold ? 1.0 : 0.0, std::string(label(distinct(pred_norm)))},
  };
}

}  // namespace compass::scorers::mcq
