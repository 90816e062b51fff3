#include "compass/datasets/arc.h"

#include "compass/datasets/fewshot.h"
#include "compass/datasets/jsonl.h"
#include "compass/datasets/options.h"
#include "compass/datasets/text.h"

#include <algorithm>

namespace compass::datasets::arc {

namespace {

constexpr compass_option_spec kOptionSpecs[] = {
    sdk::option("subset", COMPASS_OPT_STRING, "ARC subset to evaluate (required)",
                "Easy|Challenge"),
    sdk::option("split", COMPASS_OPT_STRING,
                "split to evaluate (default Test); few-shot examples come from Dev", "Test|Dev"),
};

[[noreturn]] void invalid(const std::string& message) {
  throw sdk::Error(COMPASS_INVALID_ARGUMENT, "arc: " + message);
}

void check_options(const Options& options) {
  if (options.subset.empty()) {
    invalid("option 'subset' is required: \"Easy\" or \"Challenge\"");
  }
  if (options.subset != "Easy" && options.subset != "Challenge") {
    invalid("option 'subset' must be \"Easy\" or \"Challenge\", got '" + options.subset + "'");
  }
  if (options.split != "Test" && options.split != "Dev") {
    invalid("option 'split' must be \"Test\" or \"Dev\", got '" + options.split + "'");
  }
}

}  // namespace

std::vector<Question> read_questions(const std::filesystem::path& file) {
  const std::string source = file.string();
  std::vector<Question> questions;
  for (auto& record : read_jsonl_file(file)) {
    Question q;
    q.line = record.line;
    if (const auto* id = find_field(record.value, "id"); id != nullptr && id->is_string()) {
      q.id = id->get<std::string>();
    }
    q.stem = require_string(record, source, "question.stem");
    const nlohmann::json& choices = require_field(record, source, "question.choices");
    if (!choices.is_array() || choices.empty()) {
      throw JsonlError(source, record.line,
                       "field 'question.choices' must be a non-empty list of {text, label}, got " +
                           json_type_name(choices));
    }
    for (size_t i = 0; i < choices.size(); ++i) {
      const std::string prefix = "question.choices." + std::to_string(i);
      q.texts.push_back(require_string(record, source, prefix + ".text"));
      q.labels.push_back(require_string(record, source, prefix + ".label"));
    }
    const std::string key = require_string(record, source, "answerKey");
    const auto it = std::find(q.labels.begin(), q.labels.end(), key);
    if (it == q.labels.end()) {
      throw JsonlError(
          source, record.line,
          "answerKey '" + key + "' is not one of the choice labels " + join(q.labels, ", "));
    }
    q.gold = it - q.labels.begin();
    q.json = std::move(record.text);
    q.value = std::move(record.value);
    questions.push_back(std::move(q));
  }
  return questions;
}

std::string doc_to_text(const Question& q) {
  return "Question: " + q.stem + "\nAnswer:";
}

std::string build_context(const std::vector<const Question*>& shots, const Question& q) {
  std::vector<Shot> texts;
  for (const Question* shot : shots) {
    texts.push_back({doc_to_text(*shot), shot->texts[static_cast<size_t>(shot->gold)]});
  }
  return fewshot_context(texts, doc_to_text(q));
}

Options parse_options(std::string_view options_json) {
  const auto json = datasets::parse_options(options_json);
  Options options;
  if (auto subset = get_string(json, "subset")) options.subset = std::move(*subset);
  if (auto split = get_string(json, "split")) options.split = std::move(*split);
  check_options(options);
  return options;
}

compass_option_list option_specs() {
  return compass_option_list{kOptionSpecs, std::size(kOptionSpecs)};
}

std::filesystem::path file_of(const std::filesystem::path& root, std::string_view subset,
                              std::string_view split) {
  return root / ("ARC-" + std::string(subset) + "-" + std::string(split) + ".jsonl");
}

Config config_from_abi(const compass_dataset_config& abi) {
  if (!COMPASS_HAS_FIELD(compass_dataset_config, abi.struct_size, options_json)) {
    invalid("dataset config from an unknown ABI");
  }
  if (abi.path.size == 0) {
    invalid("needs `path`: the folder holding ARC-{Easy,Challenge}-{Dev,Test}.jsonl");
  }
  Config config;
  config.root = std::filesystem::path(std::string(sdk::view(abi.path)));
  config.num_shots = abi.num_shots;
  config.seed = abi.seed;
  config.limit = abi.limit;
  config.options = parse_options(sdk::view(abi.options_json));
  return config;
}

Arc::Arc(Config config) : config_(std::move(config)) {
  check_options(config_.options);
  file_ = file_of(config_.root, config_.options.subset, config_.options.split);
  pool_file_ = file_of(config_.root, config_.options.subset, "Dev");
  rows_ = read_questions(file_);
  if (config_.num_shots > 0) {
    const bool same = config_.options.split == "Dev";
    pool_ = same ? rows_ : read_questions(pool_file_);
    check_fewshot_pool(pool_.size(), config_.num_shots, same, pool_file_.string());
  }
}

uint64_t Arc::size() const {
  const uint64_t total = rows_.size();
  return config_.limit > 0 ? std::min(total, config_.limit) : total;
}

void Arc::for_each_item(const std::function<bool(const sdk::Item&)>& fn) const {
  FewshotSampler sampler(config_.seed, pool_.size(), config_.num_shots,
                         config_.options.split == "Dev");
  const std::string prefix = file_.stem().string() + "/";
  const uint64_t count = size();
  for (uint64_t index = 0; index < count; ++index) {
    const Question& q = rows_[index];
    std::vector<const Question*> shots;
    for (const size_t i : sampler.next([&](size_t i) { return pool_[i].value == q.value; })) {
      shots.push_back(&pool_[i]);
    }
    sdk::Item item;
    item.id = prefix + std::to_string(index);
    item.kind = COMPASS_ITEM_MULTIPLE_CHOICE;
    item.context = build_context(shots, q);
    for (const auto& text : q.texts) item.choices.push_back(" " + text);
    item.gold = q.gold;
    item.doc_json = q.json;
    if (!fn(item)) return;
  }
}

}  // namespace compass::datasets::arc
