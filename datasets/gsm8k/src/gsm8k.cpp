#include "compass/datasets/gsm8k.h"

#include "compass/plugin_support/fewshot.h"
#include "compass/plugin_support/jsonl.h"
#include "compass/plugin_support/options.h"
#include "compass/plugin_support/text.h"

#include <algorithm>

namespace compass::datasets::gsm8k {

namespace {

constexpr compass_option_spec kOptionSpecs[] = {
    sdk::option("split", COMPASS_OPT_STRING,
                "split to evaluate (default test); few-shot examples come from train",
                "test|train"),
};

[[noreturn]] void invalid(const std::string& message) {
  throw sdk::Error(COMPASS_INVALID_ARGUMENT, "gsm8k: " + message);
}

void check_options(const Options& options) {
  if (options.split != "test" && options.split != "train") {
    invalid("option 'split' must be \"test\" or \"train\", got '" + options.split + "'");
  }
}

}  // namespace

std::vector<Problem> read_problems(const std::filesystem::path& file) {
  return read_jsonl_docs(file, [](const JsonlRecord& record, const std::string& source) {
    Problem p;
    p.question = require_string(record, source, "question");
    p.answer = require_string(record, source, "answer");
    return p;
  });
}

std::string doc_to_text(const Problem& p) {
  return "Question: " + p.question + "\nAnswer:";
}

std::string build_context(const std::vector<const Problem*>& shots, const Problem& p) {
  std::vector<Shot> texts;
  for (const Problem* shot : shots) texts.push_back({doc_to_text(*shot), shot->answer});
  return fewshot_context(texts, doc_to_text(p));
}

std::string final_answer(std::string_view answer) {
  size_t at = answer.rfind("#### ");
  size_t skip = 5;
  if (at == std::string_view::npos) {
    at = answer.rfind("####");
    skip = 4;
  }
  if (at == std::string_view::npos) return "";
  std::string out(python_strip(answer.substr(at + skip)));
  out.erase(std::remove(out.begin(), out.end(), ','), out.end());
  return out;
}

const std::vector<std::string>& stop_strings() {
  static const std::vector<std::string> stops = {"Question:", "</s>", "<|im_end|>"};
  return stops;
}

Options parse_options(std::string_view options_json) {
  const auto json = plugin_support::parse_options(options_json);
  Options options;
  if (auto split = get_string(json, "split")) options.split = std::move(*split);
  check_options(options);
  return options;
}

compass_option_list option_specs() {
  return compass_option_list{kOptionSpecs, std::size(kOptionSpecs)};
}

Config config_from_abi(const compass_dataset_config& abi) {
  Config config;
  config.root = read_abi_config(
      abi, "gsm8k", "gsm8k: needs `path`: the folder holding train.jsonl and test.jsonl", config);
  config.options = parse_options(sdk::view(abi.options_json));
  return config;
}

Gsm8k::Gsm8k(Config config) : config_(std::move(config)) {
  check_options(config_.options);
  file_ = config_.root / (config_.options.split + ".jsonl");
  pool_file_ = config_.root / "train.jsonl";
  std::vector<Problem> rows = read_problems(file_);
  for (const Problem& p : rows) {
    std::string reference = final_answer(p.answer);
    if (reference.empty()) {
      throw JsonlError(file_.string(), p.line, "field 'answer' has no final answer after '#### '");
    }
    references_.push_back(std::move(reference));
  }
  docs_ = FewshotDocs<Problem>(std::move(rows), config_, config_.options.split == "train",
                               pool_file_, read_problems);
}

uint64_t Gsm8k::size() const {
  return docs_.size();
}

void Gsm8k::for_each_item(const std::function<bool(const sdk::Item&)>& fn) const {
  docs_.for_each_item(
      [&](uint64_t index, const Problem& p, const FewshotDocs<Problem>::Shots& shots) {
        sdk::Item item;
        item.id = config_.options.split + "/" + std::to_string(index);
        item.kind = COMPASS_ITEM_GENERATE;
        item.context = build_context(shots, p);
        item.references = {references_[index]};
        item.stop = stop_strings();
        item.max_new_tokens = 0;  // the task's max_new_tokens
        item.doc_json = p.json;
        return item;
      },
      fn);
}

}  // namespace compass::datasets::gsm8k
