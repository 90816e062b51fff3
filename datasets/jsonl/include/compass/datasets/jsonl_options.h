// The options of the generic jsonl dataset (a [[task]]'s keys), or the
// same read from an lm-evaluation-harness task file (lm_eval_task.h).
//
//   kind               "multiple_choice" | "generate" | "rolling" (required)
//   prompt             doc_to_text: a field name or a template (required)
//   choices            multiple_choice: doc_to_choice: a field holding a
//                      list, a template giving a list ("{{[sol1, sol2]}}")
//                      or a list of templates
//   answer             multiple_choice: doc_to_target: the gold choice, as
//                      an integer (SciQ's 3), a field or a template giving
//                      an index or a choice's text; with partial
//                      evaluation, the continuation every choice shares
//   target             generate: doc_to_target: the reference answer, also
//                      the few-shot examples' target; a template rendering
//                      a Python list gives several references
//   description        a template or text put before everything else
//   stop               generate: stop strings (default [fewshot_delimiter])
//   target_delimiter   default " "
//   fewshot_delimiter  default "\n\n"
//   fewshot_path       file of few-shot examples (relative to the data
//                      file's folder); default: the data file, the item
//                      itself excluded
//   group              field whose value is the item's group
//   task_file          an lm-evaluation-harness task YAML defining the task
//                      instead (it excludes kind, prompt, choices, answer,
//                      target, description, stop and the delimiters)
//
// Partial evaluation (lm-eval's "multiple input", as Winogrande is scored)
// is lm-eval's rule: in a multiple_choice task whose prompt gives an
// integer for the first record (doc_to_text returns an int), that integer
// is the gold index, `choices` are one context per choice and `answer` the
// continuation they share.
#ifndef COMPASS_DATASETS_JSONL_OPTIONS_H_
#define COMPASS_DATASETS_JSONL_OPTIONS_H_

#include "compass/datasets/doc_function.h"

#include <compass/plugin.h>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace compass::datasets::jsonl {

enum class Kind { kMultipleChoice, kGenerate, kRolling };
const char* kind_name(Kind kind);

struct Options {
  Kind kind = Kind::kGenerate;
  DocFunction prompt;       // doc_to_text
  DocFunction choices;      // multiple_choice
  DocFunction answer;       // multiple_choice: doc_to_target
  DocFunction target;       // generate: doc_to_target
  DocFunction description;  // optional
  std::vector<std::string> stop;
  uint32_t max_new_tokens = 0;  // 0 = the task's max_new_tokens
  std::string target_delimiter = " ";
  std::string fewshot_delimiter = "\n\n";
  std::string fewshot_path;  // "" = the data file
  std::string group;         // field path, "" = none
  // From a task file: its path, the scorer its metric_list maps to and
  // that scorer's options, its num_fewshot (-1: none).
  std::string task_file;
  std::string scorer;  // "" = by kind (default_scorer)
  nlohmann::json scorer_options;
  int64_t num_shots = -1;
};

// The raw settings a task is built from, from TOML options or a task file,
// each with the name its errors use ("option 'prompt'", "piqa.yaml:8:
// doc_to_text"). A null value is unset.
struct Settings {
  struct Value {
    nlohmann::json value;
    std::string name;
  };
  Kind kind = Kind::kGenerate;
  Value prompt, choices, answer, target, description;
};
// Builds and checks the doc functions of `settings.kind` into `options`:
// throws sdk::Error COMPASS_INVALID_ARGUMENT for a missing required one, one
// that does not apply to the kind, or a bad one (doc_function.h).
void build_doc_functions(const Settings& settings, Options& options);

// The scorer a task of `kind` gets when it names none: mcq_accuracy,
// exact_match or perplexity.
const char* default_scorer(Kind kind);

// Parses the task's options JSON (already checked against option_specs by
// the host); with task_file, reads that file (lm_eval_task.h), relative
// paths taken from the current folder (the host passes them resolved).
// Throws sdk::Error naming the option.
Options parse_options(std::string_view options_json);
compass_option_list option_specs();

}  // namespace compass::datasets::jsonl

#endif  // COMPASS_DATASETS_JSONL_OPTIONS_H_
