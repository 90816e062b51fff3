// HellaSwag from its jsonl release (activity_label, ctx_a, ctx_b, endings,
// label, ...), with prompts as lm-evaluation-harness's `hellaswag` task:
//
//   preprocess(t) = t.strip(), " [title]" -> ". ", re.sub("\\[.*?\\]", "", t),
//                   "  " -> " "
//   query         = preprocess(activity_label + ": " + ctx_a + " " +
//                              ctx_b.capitalize())
//   choices       = " " + preprocess(ending) for each ending
//   gold          = int(label)
//
// Few-shot examples come from the same file, the item itself excluded (as
// lm-eval does when the few-shot split is the evaluated one).
#ifndef COMPASS_DATASETS_HELLASWAG_H_
#define COMPASS_DATASETS_HELLASWAG_H_

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

namespace compass::datasets::hellaswag {

using namespace ::compass::plugin_support;  // the helpers all in-tree plugins share

// lm-eval's hellaswag preprocess(), byte for byte.
std::string preprocess(std::string_view text);

struct Example {
  std::string query;                 // preprocessed context
  std::vector<std::string> endings;  // preprocessed endings
  int64_t gold = 0;
  uint64_t line = 0;
  std::string json;
  nlohmann::json value;
};

// Reads and validates a HellaSwag jsonl file: string fields activity_label,
// ctx_a, ctx_b, a non-empty string list endings, and label (an integer or a
// string of digits) within the endings.
std::vector<Example> read_examples(const std::filesystem::path& file);

std::string build_context(const std::vector<const Example*>& shots, const Example& example);

struct Config : RunSettings {
  std::filesystem::path file;
};
Config config_from_abi(const compass_dataset_config& config);

class Hellaswag {
 public:
  explicit Hellaswag(Config config);
  uint64_t size() const;
  void for_each_item(const std::function<bool(const sdk::Item&)>& fn) const;

 private:
  Config config_;
  FewshotDocs<Example> docs_;  // their own few-shot pool
};

}  // namespace compass::datasets::hellaswag

#endif  // COMPASS_DATASETS_HELLASWAG_H_
