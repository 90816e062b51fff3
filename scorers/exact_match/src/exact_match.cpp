#include "compass/scorers/exact_match.h"

#include "compass/plugin_support/options.h"
#include "compass/plugin_support/text.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace compass::scorers::exact_match {

namespace {

constexpr compass_option_spec kOptionSpecs[] = {
    sdk::option("ignore_case", COMPASS_OPT_BOOL, "lower-case both texts (default false)"),
    sdk::option("ignore_punctuation", COMPASS_OPT_BOOL,
                "remove ASCII punctuation from both texts (default false)"),
    sdk::option("ignore_numbers", COMPASS_OPT_BOOL,
                "remove digits 0-9 from both texts (default false)"),
    sdk::option("regexes_to_ignore", COMPASS_OPT_STRING_LIST,
                "regular expressions whose matches are removed from both texts, in order"),
    sdk::option("strip", COMPASS_OPT_BOOL,
                "strip leading and trailing whitespace first (default true)"),
};

constexpr std::string_view kPunctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

std::string item_name(const compass_item& item) {
  return item.id.size > 0 ? "item '" + std::string(sdk::view(item.id)) + "'" : "item";
}

}  // namespace

Options parse_options(std::string_view options_json) {
  const nlohmann::json json =
      plugin_support::parse_options(options_json, "exact_match: scorer options");
  Options options;
  if (auto v = plugin_support::get_bool(json, "strip")) options.strip = *v;
  if (auto v = plugin_support::get_string_list(json, "regexes_to_ignore")) {
    options.regexes_to_ignore = std::move(*v);
    for (const auto& pattern : options.regexes_to_ignore) Regex{pattern};  // rejects bad ones now
  }
  if (auto v = plugin_support::get_bool(json, "ignore_case")) options.ignore_case = *v;
  if (auto v = plugin_support::get_bool(json, "ignore_punctuation"))
    options.ignore_punctuation = *v;
  if (auto v = plugin_support::get_bool(json, "ignore_numbers")) options.ignore_numbers = *v;
  return options;
}

compass_option_list option_specs() {
  return compass_option_list{kOptionSpecs, std::size(kOptionSpecs)};
}

Normalizer::Normalizer(Options options) : options_(std::move(options)) {
  for (const auto& pattern : options_.regexes_to_ignore) regexes_.emplace_back(pattern);
}

std::string Normalizer::operator()(std::string_view raw) const {
  std::string text = plugin_support::to_valid_utf8(raw);
  if (options_.strip) text = std::string(plugin_support::python_strip(text));
  for (const Regex& regex : regexes_) text = regex.replace_all(text);
  if (options_.ignore_case) text = plugin_support::python_lower(text);
  if (options_.ignore_punctuation) text = remove_punctuation(text);
  if (options_.ignore_numbers) text = remove_digits(text);
  return text;
}

std::string remove_punctuation(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (kPunctuation.find(c) == std::string_view::npos) out += c;
  }
  return out;
}

std::string remove_digits(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c < '0' || c > '9') out += c;
  }
  return out;
}

void check_generate_item(std::string_view scorer, const compass_item& item,
                         const compass_model_output& output) {
  const auto invalid = [&](const std::string& message) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT, std::string(scorer) + ": " + message);
  };
  if (!COMPASS_HAS_FIELD(compass_item, item.struct_size, num_references) ||
      !COMPASS_HAS_FIELD(compass_model_output, output.struct_size, text)) {
    invalid("item or model output from an unknown ABI");
  }
  if (item.kind != COMPASS_ITEM_GENERATE) {
    invalid(item_name(item) + " is not a generate item (kind " + std::to_string(item.kind) + ")");
  }
  if (item.num_references == 0) invalid(item_name(item) + " has no reference answer");
}

Result score(const Normalizer& normalize, const compass_item& item,
             const compass_model_output& output) {
  check_generate_item("exact_match", item, output);
  Result result;
  result.prediction = normalize(sdk::view(output.text));
  for (uint64_t i = 0; i < item.num_references; ++i) {
    if (normalize(sdk::view(item.references[i])) == result.prediction) {
      result.value = 1;
      break;
    }
  }
  return result;
}

}  // namespace compass::scorers::exact_match
