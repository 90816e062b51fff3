// ARC (AI2 Reasoning Challenge) from AI2's jsonl files, with prompts as
// lm-evaluation-harness's arc_easy / arc_challenge tasks write them:
//
//   doc_to_text   "Question: {question.stem}\nAnswer:"
//   choices       " " + each choice text (target delimiter " ")
//   gold          index of answerKey among the choice labels (A-E or 1-5)
//
// Few-shot examples come from ARC-<subset>-Dev.jsonl (lm-eval draws them
// from the HF train split, which is not shipped here), drawn as
// fewshot.h describes with the task seed.
#ifndef COMPASS_DATASETS_ARC_H_
#define COMPASS_DATASETS_ARC_H_

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

namespace compass::datasets::arc {

using namespace ::compass::plugin_support;  // the helpers all in-tree plugins share

// One line of an ARC file.
struct Question {
  std::string id;                   // the record's "id" ("" when absent)
  std::string stem;                 // question.stem, as in the file
  std::vector<std::string> texts;   // question.choices[].text
  std::vector<std::string> labels;  // question.choices[].label
  int64_t gold = 0;                 // index of answerKey among labels
  uint64_t line = 0;
  std::string json;      // the line as written
  nlohmann::json value;  // the parsed record (few-shot equality)
};

// Reads and validates an ARC jsonl file. Throws sdk::Error
// COMPASS_NOT_FOUND when missing and COMPASS_DATA_LOSS "<file>:<line>: ..."
// for a line that is not JSON, lacks question.stem, question.choices (a
// non-empty list of {text, label}) or answerKey, or whose answerKey is not
// one of the labels; "<file>: empty file" when it has no record.
std::vector<Question> read_questions(const std::filesystem::path& file);

std::string doc_to_text(const Question& question);
// The full prompt: the shots (text, " ", gold choice text, "\n\n"), then
// doc_to_text(question).
std::string build_context(const std::vector<const Question*>& shots, const Question& question);

// Plugin options: `subset` (Easy|Challenge, required) and `split`
// (Test|Dev, default Test).
struct Options {
  std::string subset;
  std::string split = "Test";
};
Options parse_options(std::string_view options_json);
compass_option_list option_specs();

// <root>/ARC-<subset>-<split>.jsonl
std::filesystem::path file_of(const std::filesystem::path& root, std::string_view subset,
                              std::string_view split);

struct Config : RunSettings {
  std::filesystem::path root;  // folder holding ARC-{Easy,Challenge}-{Dev,Test}.jsonl
  Options options;
};
Config config_from_abi(const compass_dataset_config& config);

class Arc {
 public:
  // Reads the evaluated file and, with shots, the Dev file.
  explicit Arc(Config config);

  uint64_t size() const;  // items for_each_item delivers (limit applied)
  const std::filesystem::path& file() const { return file_; }

  // Calls `fn` for each item in order until it returns false. Few-shot
  // draws restart from the seed on every call.
  void for_each_item(const std::function<bool(const sdk::Item&)>& fn) const;

 private:
  Config config_;
  std::filesystem::path file_, pool_file_;
  FewshotDocs<Question> docs_;  // few-shot pool: Dev
};

}  // namespace compass::datasets::arc

#endif  // COMPASS_DATASETS_ARC_H_
