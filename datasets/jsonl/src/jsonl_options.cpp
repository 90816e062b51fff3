#include "compass/datasets/jsonl_options.h"

#include "compass/datasets/lm_eval_task.h"
#include "compass/plugin_support/options.h"

#include <compass/plugin.hpp>

#include <algorithm>

namespace compass::datasets::jsonl {

namespace {

constexpr compass_option_spec kOptionSpecs[] = {
    sdk::option("kind", COMPASS_OPT_STRING, "what each line is (required without task_file)",
                "multiple_choice|generate|rolling"),
    sdk::option(
        "prompt", COMPASS_OPT_STRING,
        "doc_to_text: a field name or a template, e.g. \"Question: {{question}}\\nAnswer:\""),
    sdk::option("choices", COMPASS_OPT_ANY,
                "multiple_choice: doc_to_choice: a list field, a template giving a list "
                "(\"{{[sol1, sol2]}}\") or a list of templates"),
    sdk::option("answer", COMPASS_OPT_ANY,
                "multiple_choice: doc_to_target: an integer (a fixed index), a field or a "
                "template giving the gold index or choice"),
    sdk::option("target", COMPASS_OPT_ANY,
                "generate: doc_to_target: a field or a template giving the reference answer"),
    sdk::option("description", COMPASS_OPT_STRING, "text or template put before every prompt"),
    sdk::option("stop", COMPASS_OPT_STRING_LIST,
                "generate: stop strings (default [fewshot_delimiter])"),
    sdk::option("target_delimiter", COMPASS_OPT_STRING,
                "between a prompt and its answer (default \" \")"),
    sdk::option("fewshot_delimiter", COMPASS_OPT_STRING,
                "after each few-shot example (default \"\\n\\n\")"),
    sdk::option("fewshot_path", COMPASS_OPT_STRING,
                "jsonl file of few-shot examples (default: the data file, the item excluded)"),
    sdk::option("group", COMPASS_OPT_STRING, "field whose value groups the items in the report"),
    sdk::option("task_file", COMPASS_OPT_PATH,
                "an lm-evaluation-harness task YAML defining the task (instead of kind, prompt, "
                "choices, answer, target, ...)"),
};

[[noreturn]] void invalid(const std::string& message) {
  throw sdk::Error(COMPASS_INVALID_ARGUMENT, "jsonl: " + message);
}

// Keys a task file defines, so they cannot be set beside task_file.
constexpr const char* kDefinedByTaskFile[] = {"kind",   "prompt",           "choices",
                                              "answer", "target",           "description",
                                              "stop",   "target_delimiter", "fewshot_delimiter"};

}  // namespace

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kMultipleChoice: return "multiple_choice";
    case Kind::kGenerate: return "generate";
    default: return "rolling";
  }
}

const char* default_scorer(Kind kind) {
  switch (kind) {
    case Kind::kMultipleChoice: return "mcq_accuracy";
    case Kind::kGenerate: return "exact_match";
    default: return "perplexity";
  }
}

void build_doc_functions(const Settings& s, Options& o) {
  const bool mc = s.kind == Kind::kMultipleChoice, gen = s.kind == Kind::kGenerate;
  o.kind = s.kind;
  const auto only_for = [&](const Settings::Value& v, bool applies, const char* kinds) {
    if (!applies && !v.value.is_null()) {
      throw sdk::Error(
          COMPASS_INVALID_ARGUMENT,
          v.name + ": applies to kind " + std::string(kinds) + ", not " + kind_name(s.kind));
    }
  };
  const auto required = [&](const Settings::Value& v, const std::string& what) {
    if (v.value.is_null()) {
      throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                       v.name + ": is required for kind " + kind_name(s.kind) + " (" + what + ")");
    }
  };
  only_for(s.choices, mc, "multiple_choice");
  only_for(s.answer, mc, "multiple_choice");
  only_for(s.target, gen, "generate");
  only_for(s.description, !(s.kind == Kind::kRolling), "multiple_choice or generate");
  required(s.prompt, s.kind == Kind::kRolling ? "the text scored" : "the prompt");
  o.prompt = DocFunction(s.prompt.value, s.prompt.name, DocFunction::Role::kText, mc);
  if (mc) {
    required(s.choices, "a list field, a template giving a list, or a list of templates");
    required(s.answer, "the gold: an index, a field or a template");
    o.choices = DocFunction(s.choices.value, s.choices.name, DocFunction::Role::kChoices, true);
    o.answer = DocFunction(s.answer.value, s.answer.name, DocFunction::Role::kTarget, true);
  }
  if (gen) {
    required(s.target, "the reference answer: a field or a template");
    o.target = DocFunction(s.target.value, s.target.name, DocFunction::Role::kTarget, false);
  }
  if (!s.description.value.is_null()) {
    o.description = DocFunction(s.description.value, s.description.name,
                                DocFunction::Role::kDescription, false);
  }
}

Options parse_options(std::string_view options_json) {
  const auto json = plugin_support::parse_options(options_json);
  const auto task_file = plugin_support::get_string(json, "task_file");
  Options options;
  if (task_file) {
    for (const char* key : kDefinedByTaskFile) {
      if (json.contains(key) && !json.at(key).is_null()) {
        invalid(std::string("option '") + key +
                "' cannot be set beside task_file, which defines "
                "it; change the task file, or leave task_file out and give the task's options");
      }
    }
    options = read_task_file(*task_file);
  } else {
    Settings s;
    const auto kind = plugin_support::get_string(json, "kind");
    if (!kind) {
      invalid(
          "option 'kind' is required: multiple_choice, generate or rolling (or give "
          "task_file)");
    }
    if (*kind == "multiple_choice") {
      s.kind = Kind::kMultipleChoice;
    } else if (*kind == "generate") {
      s.kind = Kind::kGenerate;
    } else if (*kind == "rolling") {
      s.kind = Kind::kRolling;
    } else {
      invalid("option 'kind' must be multiple_choice, generate or rolling, got '" + *kind + "'");
    }
    const auto value = [&](const char* key) {
      return Settings::Value{json.contains(key) ? json.at(key) : nlohmann::json(),
                             std::string("option '") + key + "'"};
    };
    s.prompt = value("prompt");
    s.choices = value("choices");
    s.answer = value("answer");
    s.target = value("target");
    s.description = value("description");
    build_doc_functions(s, options);
    if (auto d = plugin_support::get_string(json, "target_delimiter"))
      options.target_delimiter = *d;
    if (auto d = plugin_support::get_string(json, "fewshot_delimiter")) {
      options.fewshot_delimiter = *d;
    }
    if (json.contains("stop") && !json.at("stop").is_null() && options.kind != Kind::kGenerate) {
      throw sdk::Error(COMPASS_INVALID_ARGUMENT, std::string("option 'stop': applies to kind "
                                                             "generate, not ") +
                                                     kind_name(options.kind));
    }
    if (options.kind == Kind::kGenerate) {
      if (auto stop = plugin_support::get_string_list(json, "stop")) {
        options.stop = std::move(*stop);
      } else {
        options.stop = {options.fewshot_delimiter};
      }
    }
  }
  if (std::find(options.stop.begin(), options.stop.end(), "") != options.stop.end()) {
    invalid("option 'stop' holds an empty string");
  }
  if (auto p = plugin_support::get_string(json, "fewshot_path")) options.fewshot_path = *p;
  if (auto g = plugin_support::get_string(json, "group")) options.group = *g;
  return options;
}

compass_option_list option_specs() {
  return compass_option_list{kOptionSpecs, std::size(kOptionSpecs)};
}

}  // namespace compass::datasets::jsonl
