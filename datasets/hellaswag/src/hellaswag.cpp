#include "compass/datasets/hellaswag.h"

#include "compass/plugin_support/fewshot.h"
#include "compass/plugin_support/items.h"
#include "compass/plugin_support/jsonl.h"
#include "compass/plugin_support/options.h"
#include "compass/plugin_support/text.h"

#include <algorithm>

namespace compass::datasets::hellaswag {

namespace {

// re.sub("\\[.*?\\]", "", text): from each '[', the nearest ']' with no
// line break in between ('.' does not match "\n"); a '[' without one is kept
// and the scan goes on from the next character.
std::string remove_brackets(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '[') {
      size_t j = i + 1;
      while (j < text.size() && text[j] != ']' && text[j] != '\n') ++j;
      if (j < text.size() && text[j] == ']') {
        i = j + 1;
        continue;
      }
    }
    out += text[i];
    ++i;
  }
  return out;
}

int64_t read_label(const JsonlRecord& record, const std::string& source, size_t num_endings) {
  const nlohmann::json& label = require_field(record, source, "label");
  int64_t gold = -1;
  if (label.is_number_integer()) {
    gold = label.get<int64_t>();
  } else if (label.is_string()) {
    // int(label): optional surrounding whitespace, an optional sign, digits.
    const std::string text(python_strip(label.get<std::string>()));
    const bool digits =
        !text.empty() && text.size() <= 9 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits) gold = std::stoll(text);
  } else {
    throw JsonlError(source, record.line,
                     "field 'label' must be an integer, got " + json_type_name(label));
  }
  if (gold < 0 || static_cast<size_t>(gold) >= num_endings) {
    throw JsonlError(source, record.line,
                     "field 'label' must be an ending index 0.." + std::to_string(num_endings - 1) +
                         ", got " + label.dump());
  }
  return gold;
}

}  // namespace

std::string preprocess(std::string_view text) {
  std::string out(python_strip(text));
  out = replace_all(out, " [title]", ". ");
  out = remove_brackets(out);
  return replace_all(out, "  ", " ");
}

std::vector<Example> read_examples(const std::filesystem::path& file) {
  return read_jsonl_docs(file, [](const JsonlRecord& record, const std::string& source) {
    Example e;
    const std::string activity = require_string(record, source, "activity_label");
    const std::string ctx_a = require_string(record, source, "ctx_a");
    const std::string ctx_b = require_string(record, source, "ctx_b");
    e.query = preprocess(activity + ": " + ctx_a + " " + python_capitalize(ctx_b));
    const auto endings = require_string_list(record, source, "endings");
    if (endings.empty()) throw JsonlError(source, record.line, "field 'endings' is empty");
    for (const auto& ending : endings) e.endings.push_back(preprocess(ending));
    e.gold = read_label(record, source, endings.size());
    return e;
  });
}

std::string build_context(const std::vector<const Example*>& shots, const Example& e) {
  std::vector<Shot> texts;
  for (const Example* shot : shots) {
    texts.push_back({shot->query, shot->endings[static_cast<size_t>(shot->gold)]});
  }
  return fewshot_context(texts, e.query);
}

Config config_from_abi(const compass_dataset_config& abi) {
  Config config;
  config.file =
      read_abi_config(abi, "hellaswag", "hellaswag needs `path`: a HellaSwag jsonl file", config);
  plugin_support::parse_options(sdk::view(abi.options_json));  // no options; must be an object
  return config;
}

Hellaswag::Hellaswag(Config config) : config_(std::move(config)) {
  docs_ = FewshotDocs<Example>(read_examples(config_.file), config_, true, config_.file, {});
}

uint64_t Hellaswag::size() const {
  return docs_.size();
}

void Hellaswag::for_each_item(const std::function<bool(const sdk::Item&)>& fn) const {
  docs_.for_each_item(
      [](uint64_t index, const Example& e, const FewshotDocs<Example>::Shots& shots) {
        sdk::Item item = multiple_choice_item(e.endings, e.gold);
        item.id = std::to_string(index);
        item.context = build_context(shots, e);
        item.doc_json = e.json;
        return item;
      },
      fn);
}

}  // namespace compass::datasets::hellaswag
