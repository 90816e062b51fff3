#include "compass/datasets/arc.h"

#include "compass/plugin_support/fewshot.h"
#include "compass/plugin_support/items.h"
#include "compass/plugin_support/jsonl.h"
#include "compass/plugin_support/options.h"
#include "compass/plugin_support/text.h"

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
  return read_jsonl_docs(file, [](const JsonlRecord& record, const std::string& source) {
    Question q;
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
    return q;
  });
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
  const auto json = plugin_support::parse_options(options_json);
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
  Config config;
  config.root = read_abi_config(
      abi, "arc", "arc: needs `path`: the folder holding ARC-{Easy,Challenge}-{Dev,Test}.jsonl",
      config);
  config.options = parse_options(sdk::view(abi.options_json));
  return config;
}

Arc::Arc(Config config) : config_(std::move(config)) {
  check_options(config_.options);
  file_ = file_of(config_.root, config_.options.subset, config_.options.split);
  pool_file_ = file_of(config_.root, config_.options.subset, "Dev");
  docs_ = FewshotDocs<Question>(read_questions(file_), config_, config_.options.split == "Dev",
                                pool_file_, read_questions);
}

uint64_t Arc::size() const {
  return docs_.size();
}

void Arc::for_each_item(const std::function<bool(const sdk::Item&)>& fn) const {
  const std::string prefix = file_.stem().string() + "/";
  docs_.for_each_item(
      [&](uint64_t index, const Question& q, const FewshotDocs<Question>::Shots& shots) {
        sdk::Item item = multiple_choice_item(q.texts, q.gold);
        item.id = prefix + std::to_string(index);
        item.context = build_context(shots, q);
        item.doc_json = q.json;
        return item;
      },
      fn);
}

}  // namespace compass::datasets::arc
