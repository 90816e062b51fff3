// GSM8K from the original jsonl files ({"question", "answer"}), with prompts
// as lm-evaluation-harness's `gsm8k` task writes them:
//
//   doc_to_text   "Question: {question}\nAnswer:"
//   target        the whole answer (worked solution ending "#### N"), after
//                 the target delimiter " ": the shots are chain of thought
//   stop          "Question:", "</s>", "<|im_end|>"
//   reference     the final answer: the text after the last "#### ",
//                 stripped, commas removed (what lm-eval's exact_match
//                 regexes leave of the target)
//
// Few-shot examples come from train.jsonl, drawn as fewshot.h describes
// with the task seed.
#ifndef COMPASS_DATASETS_GSM8K_H_
#define COMPASS_DATASETS_GSM8K_H_

#include "compass/plugin_support/fewshot_docs.h"

#include <compass/plugin.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace compass::plugin_support {}

namespace compass::datasets::gsm8k {

using namespace ::compass::plugin_support;  // the helpers all in-tree plugins share

struct Problem {
  std::string question;
  std::string answer;  // full worked answer
  uint64_t line = 0;
  std::string json;
  nlohmann::json value;
};

// Reads and validates a GSM8K jsonl file: every line needs string fields
// question and answer (sdk::Error COMPASS_DATA_LOSS "<file>:<line>: ...").
std::vector<Problem> read_problems(const std::filesystem::path& file);

std::string doc_to_text(const Problem& problem);
std::string build_context(const std::vector<const Problem*>& shots, const Problem& problem);
// The final answer after the last "#### " ("####" when no space follows),
// Python-stripped, commas removed; "" when the answer has no "####".
std::string final_answer(std::string_view answer);

// lm-eval's generation stop strings for gsm8k.
const std::vector<std::string>& stop_strings();

// Plugin option: `split` (test|train, default test).
struct Options {
  std::string split = "test";
};
Options parse_options(std::string_view options_json);
compass_option_list option_specs();

struct Config : RunSettings {
  std::filesystem::path root;  // folder holding train.jsonl and test.jsonl
  Options options;
};
Config config_from_abi(const compass_dataset_config& config);

class Gsm8k {
 public:
  // Reads the evaluated split and, with shots, train.jsonl. Every evaluated
  // answer must hold a "#### " final answer.
  explicit Gsm8k(Config config);

  uint64_t size() const;
  const std::filesystem::path& file() const { return file_; }
  void for_each_item(const std::function<bool(const sdk::Item&)>& fn) const;

 private:
  Config config_;
  std::filesystem::path file_, pool_file_;
  FewshotDocs<Problem> docs_;            // few-shot pool: train
  std::vector<std::string> references_;  // final_answer of each row
};

}  // namespace compass::datasets::gsm8k

#endif  // COMPASS_DATASETS_GSM8K_H_
