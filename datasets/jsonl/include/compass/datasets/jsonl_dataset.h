// The generic JSON Lines dataset: one record per line, turned into items by
// lm-evaluation-harness-style definitions given as task options or read
// from an lm-eval task file (jsonl_options.h, lm_eval_task.h).
//
// Items, as lm-eval builds its requests (lm_eval/api/task.py):
//   multiple_choice  context = description + shots + prompt; choices =
//                    target_delimiter + choice; gold
//   partial          (the prompt gives the gold index) contexts[i] =
//                    description + shots + choices[i]; every choice is
//                    target_delimiter + answer; context = description +
//                    shots; a shot is its gold context + target_delimiter
//                    + answer
//   generate         context as multiple_choice; references = target (or
//                    each element when it renders a list); stop;
//                    max_new_tokens
//   rolling          context = the rendered text, no few-shot examples
// A shot is doc_to_text + target_delimiter + its target + fewshot_delimiter
// (fewshot.h); a multiple-choice shot's target is its gold choice.
#ifndef COMPASS_DATASETS_JSONL_DATASET_H_
#define COMPASS_DATASETS_JSONL_DATASET_H_

#include "compass/datasets/jsonl_options.h"
#include "compass/plugin_support/fewshot_docs.h"

#include <compass/plugin.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace compass::plugin_support {}

namespace compass::datasets::jsonl {

using namespace ::compass::plugin_support;  // the helpers all in-tree plugins share

// One record made ready: what the definitions gave for it.
struct Doc {
  std::string text;                  // the prompt; partial: the gold context
  std::string target;                // the shots' target ("" for rolling)
  std::vector<std::string> choices;  // multiple_choice: without delimiter; partial: the contexts
  std::string continuation;          // partial: the answer every choice shares
  bool partial = false;
  int64_t gold = -1;
  std::vector<std::string> references;  // generate
  std::string description;
  std::string group;
  uint64_t line = 0;
  std::string json;
  nlohmann::json value;
};

// Reads a file and renders every record (errors name file, line and the
// option or task-file key). `partial` is lm-eval's multiple-input rule,
// decided by the first record of the evaluated file when unset, and then
// required of every record of this file and of the few-shot file.
std::vector<Doc> read_docs(const std::filesystem::path& file, const Options& options,
                           std::optional<bool>& partial);

struct Config : RunSettings {
  std::filesystem::path file;
  Options options;
};
Config config_from_abi(const compass_dataset_config& config);

// What a task will deliver, from its options alone: its kind, the scorer
// (the task file's metric_list, else by kind) and the task file's
// num_fewshot.
sdk::TaskInfo describe(const compass_dataset_config& config);

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
