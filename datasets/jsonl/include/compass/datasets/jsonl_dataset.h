// The generic JSON Lines dataset: one record per line, turned into items by
// templates given as task options (see template.h for the syntax).
//
//   kind               "multiple_choice" | "generate" | "rolling" (required)
//   prompt             template of doc_to_text (required)
//   choices            multiple_choice: the name of a field holding a list,
//                      or a list of templates (one per choice)
//   answer             multiple_choice: field holding the gold answer: an
//                      index (integer or string of digits, as lm-eval reads
//                      a digit target), else a choice's text, else a letter
//                      A-Z
//   target             generate: template of the reference answer (also the
//                      target of the few-shot examples)
//   stop               generate: stop strings (default [fewshot_delimiter],
//                      lm-eval's default `until`)
//   target_delimiter   default " "
//   fewshot_delimiter  default "\n\n"
//   fewshot_path       file of few-shot examples (relative to the data
//                      file's folder); default: the data file, the item
//                      itself excluded
//   group              field whose value is the item's group
//
// Items: multiple_choice -> context = shots + prompt, choices =
// target_delimiter + choice; generate -> context, references = [target],
// stop, max_new_tokens 0 (the task's max_new_tokens); rolling -> context =
// the rendered prompt (no few-shot examples).
#ifndef COMPASS_DATASETS_JSONL_DATASET_H_
#define COMPASS_DATASETS_JSONL_DATASET_H_

#include "compass/datasets/template.h"
#include "compass/plugin_support/fewshot_docs.h"

#include <compass/plugin.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace compass::plugin_support {}

namespace compass::datasets::jsonl {

using namespace ::compass::plugin_support;  // the helpers all in-tree plugins share

enum class Kind { kMultipleChoice, kGenerate, kRolling };

struct Options {
  Kind kind = Kind::kGenerate;
  Template prompt;
  std::optional<std::string> choices_field;  // choices = "field"
  std::vector<Template> choice_templates;    // choices = ["{a}", "{b}"]
  std::string answer;                        // field path
  std::optional<Template> target;
  std::vector<std::string> stop;
  std::string target_delimiter = " ";
  std::string fewshot_delimiter = "\n\n";
  std::string fewshot_path;  // "" = the data file
  std::string group;         // field path, "" = none
};
// Throws sdk::Error COMPASS_INVALID_ARGUMENT naming the option for a missing
// required option, a wrong type, an option that does not apply to the
// kind, or a malformed template.
Options parse_options(std::string_view options_json);
compass_option_list option_specs();

// One record made ready: what the templates produced.
struct Doc {
  std::string text;                  // rendered prompt
  std::string target;                // few-shot target ("" for rolling)
  std::vector<std::string> choices;  // multiple_choice, without delimiter
  int64_t gold = -1;
  std::vector<std::string> references;  // generate
  std::string group;
  uint64_t line = 0;
  std::string json;
  nlohmann::json value;
};

// Reads a file and renders every record (errors name file, line and
// option or field).
std::vector<Doc> read_docs(const std::filesystem::path& file, const Options& options);

struct Config : RunSettings {
  std::filesystem::path file;
  Options options;
};
Config config_from_abi(const compass_dataset_config& config);

class JsonlDataset {
 public:
  explicit JsonlDataset(Config config);
  uint64_t size() const;
  void for_each_item(const std::function<bool(const sdk::Item&)>& fn) const;

 private:
  Config config_;
  FewshotDocs<Doc> docs_;  // few-shot pool: fewshot_path, else these
};

}  // namespace compass::datasets::jsonl

#endif  // COMPASS_DATASETS_JSONL_DATASET_H_
