#include "compass/datasets/hellaswag.h"

#include "compass/datasets/fewshot.h"
#include "compass/datasets/jsonl.h"
#include "compass/datasets/options.h"
#include "compass/datasets/text.h"

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
  const std::string source = file.string();
  std::vector<Example> examples;
  for (auto& record : read_jsonl_file(file)) {
    Example e;
    e.line = record.line;
    const std::string activity = require_string(record, source, "activity_label");
    const std::string ctx_a = require_string(record, source, "ctx_a");
    const std::string ctx_b = require_string(record, source, "ctx_b");
    e.query = preprocess(activity + ": " + ctx_a + " " + python_capitalize(ctx_b));
    const auto endings = require_string_list(record, source, "endings");
    if (endings.empty()) throw JsonlError(source, record.line, "field 'endings' is empty");
    for (const auto& ending : endings) e.endings.push_back(preprocess(ending));
    e.gold = read_label(record, source, endings.size());
    e.json = std::move(record.text);
    e.value = std::move(record.value);
    examples.push_back(std::move(e));
  }
  return examples;
}

std::string build_context(const std::vector<const Example*>& shots, const Example& e) {
  std::vector<Shot> texts;
  for (const Example* shot : shots) {
    texts.push_back({shot->query, shot->endings[static_cast<size_t>(shot->gold)]});
  }
  return fewshot_context(texts, e.query);
}

Config config_from_abi(const compass_dataset_config& abi) {
  if (!COMPASS_HAS_FIELD(compass_dataset_config, abi.struct_size, options_json)) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT, "hellaswag: dataset config from an unknown ABI");
  }
  if (abi.path.size == 0) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT, "hellaswag needs `path`: a HellaSwag jsonl file");
  }
  datasets::parse_options(sdk::view(abi.options_json));  // no options; must be an object
  Config config;
  config.file = std::filesystem::path(std::string(sdk::view(abi.path)));
  config.num_shots = abi.num_shots;
  config.seed = abi.seed;
  config.limit = abi.limit;
  return config;
}

Hellaswag::Hellaswag(Config config) : config_(std::move(config)) {
  rows_ = read_examples(config_.file);
  check_fewshot_pool(rows_.size(), config_.num_shots, true, config_.file.string());
}

uint64_t Hellaswag::size() const {
  const uint64_t total = rows_.size();
  return config_.limit > 0 ? std::min(total, config_.limit) : total;
}

void Hellaswag::for_each_item(const std::function<bool(const sdk::Item&)>& fn) const {
  FewshotSampler sampler(config_.seed, rows_.size(), config_.num_shots, true);
  const uint64_t count = size();
  for (uint64_t index = 0; index < count; ++index) {
    const Example& e = rows_[index];
    std::vector<const Example*> shots;
    for (const size_t i : sampler.next([&](size_t i) { return rows_[i].value == e.value; })) {
      shots.push_back(&rows_[i]);
    }
    sdk::Item item;
    item.id = std::to_string(index);
    item.kind = COMPASS_ITEM_MULTIPLE_CHOICE;
    item.context = build_context(shots, e);
    for (const auto& ending : e.endings) item.choices.push_back(" " + ending);
    item.gold = e.gold;
    item.doc_json = e.json;
    if (!fn(item)) return;
  }
}

}  // namespace compass::datasets::hellaswag
