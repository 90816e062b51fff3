#include "compass/datasets/lm_eval_task.h"

#include "compass/plugin_support/text.h"

#include <compass/plugin.hpp>

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

namespace compass::datasets::jsonl {

namespace {

namespace fs = std::filesystem;

// One key of the task, with the file it comes from (an include's keys name
// the included file). YAML::Node has reference semantics: assigning to a
// copy rewrites the node it shares, so an Entry is only ever constructed,
// never assigned.
struct Entry {
  std::string key;
  YAML::Node value;
  std::string file;
  int line = 0;
};

const char* const kSupported[] = {
    "task",          "output_type",       "doc_to_text",      "doc_to_target",
    "doc_to_choice", "description",       "target_delimiter", "fewshot_delimiter",
    "num_fewshot",   "generation_kwargs", "metric_list",      "include",
    "repeats"};
const char* const kNoEffect[] = {
    "dataset_path",     "dataset_name", "dataset_kwargs",       "training_split",
    "validation_split", "test_split",   "fewshot_split",        "tag",
    "task_alias",       "metadata",     "should_decontaminate", "doc_to_decontamination_query"};

const std::map<std::string, std::string>& refused() {
  static const std::map<std::string, std::string> kRefused = {
      {"process_docs",
       "it is a Python function that rewrites the documents; write its result into the jsonl "
       "file, or use the Compass dataset that does it (dataset = \"hellaswag\")"},
      {"process_results",
       "it is a Python scoring function; Compass scores with the scorer metric_list maps to"},
      {"class", "it names a Python task class"},
      {"custom_dataset", "it is a Python function that builds the data"},
      {"filter_list",
       "answer-extraction filters are not supported; choose a scorer that extracts answers "
       "(such as gsm8k_answer) with the task's scorer key"},
      {"fewshot_config",
       "few-shot examples come from fewshot_path (or the data file), drawn as lm-eval's default "
       "sampler draws them"},
      {"use_prompt", "promptsource prompts are not supported; write doc_to_text and doc_to_target"},
      {"gen_prefix", "an answer prefix is not supported"},
      {"doc_to_image", "multimodal tasks are not supported"},
      {"doc_to_audio", "multimodal tasks are not supported"},
      {"unsafe_code", "tasks that run generated code are not supported"},
      {"group", "a group of tasks; give each task's own file in its own [[task]]"},
      {"aggregate_metric_list", "a group of tasks; give each task's own file in its own [[task]]"},
      {"recipe", "recipes are not supported"},
  };
  return kRefused;
}

template <size_t N>
bool among(const char* const (&names)[N], const std::string& key) {
  return std::find_if(std::begin(names), std::end(names),
                      [&](const char* n) { return key == n; }) != std::end(names);
}

template <size_t N>
std::string listed(const char* const (&names)[N]) {
  std::string out;
  for (const char* n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

int line_of(const YAML::Node& node) {
  return node.Mark().is_null() ? 0 : node.Mark().line + 1;
}

[[noreturn]] void fail(const Entry& e, const std::string& problem) {
  throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                   e.file + ":" + std::to_string(e.line) + ": " + e.key + ": " + problem);
}

// The first !function tag in a value, or "".
std::string python_function(const YAML::Node& node) {
  if (node.Tag() == "!function") return node.IsScalar() ? node.Scalar() : "?";
  if (node.IsSequence() || node.IsMap()) {
    for (const auto& child : node) {
      const YAML::Node& value = node.IsMap() ? child.second : child;
      const std::string found = python_function(value);
      if (!found.empty()) return found;
    }
  }
  return "";
}

// A YAML value as JSON, scalars read as PyYAML (YAML 1.1) reads them: a
// plain scalar may be null, a boolean, an integer or a float; a quoted one
// is a string.
nlohmann::json to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return nullptr;
    case YAML::NodeType::Sequence: {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& child : node) out.push_back(to_json(child));
      return out;
    }
    case YAML::NodeType::Map: {
      nlohmann::json out = nlohmann::json::object();
      for (const auto& child : node) out[child.first.Scalar()] = to_json(child.second);
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      if (node.Tag() != "?") return s;  // quoted, or explicitly tagged
      static const std::regex kNull("~|null|Null|NULL|");
      static const std::regex kTrue("y|Y|yes|Yes|YES|true|True|TRUE|on|On|ON");
      static const std::regex kFalse("n|N|no|No|NO|false|False|FALSE|off|Off|OFF");
      static const std::regex kInt("[-+]?(0|[1-9][0-9_]*)");
      static const std::regex kFloat("[-+]?([0-9][0-9_]*)?\\.[0-9_]*([eE][-+][0-9]+)?");
      if (std::regex_match(s, kNull)) return nullptr;
      if (std::regex_match(s, kTrue)) return true;
      if (std::regex_match(s, kFalse)) return false;
      std::string digits = s;
      digits.erase(std::remove(digits.begin(), digits.end(), '_'), digits.end());
      try {
        if (std::regex_match(s, kInt)) return std::stoll(digits);
        if (std::regex_match(s, kFloat) && s != ".") return std::stod(digits);
      } catch (const std::exception&) {
        return s;
      }
      return s;
    }
    default: return nullptr;
  }
}

YAML::Node load_yaml(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    throw sdk::Error(COMPASS_NOT_FOUND, "task file '" + file.string() + "' not found");
  }
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (!in && !in.eof())
    throw sdk::Error(COMPASS_IO, "cannot read task file '" + file.string() + "'");
  const std::string text = buffer.str();
  // YAML is text: refused here, invalid UTF-8 would reach every message
  // and template that quotes a value.
  if (const size_t bad = plugin_support::find_invalid_utf8(text); bad != std::string::npos) {
    const auto line =
        1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(bad), '\n');
    throw sdk::Error(COMPASS_INVALID_ARGUMENT, file.string() + ":" + std::to_string(line) +
                                                   ": not valid UTF-8 (byte " +
                                                   std::to_string(bad) + ")");
  }
  try {
    return YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                     file.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                         std::to_string(e.mark.column + 1) + ": not valid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {
    throw sdk::Error(COMPASS_IO, "cannot read task file '" + file.string() + "': " + e.what());
  }
}

// The keys of `file` after its include chain, in the order they apply.
std::vector<Entry> load_entries(const fs::path& file, std::vector<fs::path>& chain) {
  const YAML::Node root = load_yaml(file);
  if (!root.IsMap()) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                     file.string() +
                         ": an lm-evaluation-harness task file is a YAML mapping of "
                         "keys (task, doc_to_text, ...)");
  }
  std::vector<Entry> own;
  std::vector<Entry> base;
  for (const auto& kv : root) {
    const Entry e{kv.first.Scalar(), kv.second, file.string(), line_of(kv.first)};
    if (e.key == "include") {
      if (!e.value.IsScalar() || e.value.Tag() == "!function") {
        fail(e, "must be the path of another task file");
      }
      fs::path included(e.value.Scalar());
      if (included.is_relative()) included = file.parent_path() / included;
      if (std::find(chain.begin(), chain.end(), included) != chain.end() || chain.size() > 16) {
        fail(e, "includes '" + included.string() + "' again (an include cycle)");
      }
      chain.push_back(included);
      base = load_entries(included, chain);
      chain.pop_back();
      continue;
    }
    own.push_back(e);
  }
  std::vector<Entry> merged;
  for (const Entry& b : base) {
    const bool overridden =
        std::any_of(own.begin(), own.end(), [&](const Entry& e) { return e.key == b.key; });
    if (!overridden) merged.push_back(b);
  }
  for (const Entry& e : own) merged.push_back(e);
  return merged;
}

std::string scalar_string(const Entry& e) {
  if (!e.value.IsScalar()) fail(e, "must be a string");
  return e.value.Scalar();
}

// lm-eval metric -> (scorer, aggregation, higher_is_better).
struct MetricRule {
  const char* scorer;
  const char* aggregation;
  bool higher_is_better;
  Kind kind;
};
const std::map<std::string, MetricRule>& metric_rules() {
  static const std::map<std::string, MetricRule> kRules = {
      {"acc", {"mcq_accuracy", "mean", true, Kind::kMultipleChoice}},
      {"acc_norm", {"mcq_accuracy", "mean", true, Kind::kMultipleChoice}},
      {"exact_match", {"exact_match", "mean", true, Kind::kGenerate}},
      {"word_perplexity", {"perplexity", "weighted_perplexity", false, Kind::kRolling}},
      {"byte_perplexity", {"perplexity", "weighted_perplexity", false, Kind::kRolling}},
      {"bits_per_byte", {"perplexity", "bits_per_byte", false, Kind::kRolling}},
  };
  return kRules;
}

void read_metrics(const Entry& e, Kind kind, Options& o) {
  if (!e.value.IsSequence() || e.value.size() == 0) {
    fail(e, "must be a list of {metric: ...} entries");
  }
  o.scorer_options = nlohmann::json::object();
  for (const auto& item : e.value) {
    const Entry m{e.key, e.value, e.file, line_of(item)};
    if (!item.IsMap() || !item["metric"]) fail(m, "every entry needs a 'metric' key");
    const YAML::Node metric = item["metric"];
    if (metric.Tag() == "!function" || !metric.IsScalar()) {
      fail(m, "metric " + (metric.IsScalar() ? metric.Scalar() : std::string("?")) +
                  " is a Python function; Compass scores with its own scorers");
    }
    const std::string name = metric.Scalar();
    const auto rule = metric_rules().find(name);
    if (rule == metric_rules().end()) {
      fail(m, "metric '" + name +
                  "' has no Compass scorer; supported: acc, acc_norm (mcq_accuracy), exact_match "
                  "(exact_match), word_perplexity, byte_perplexity, bits_per_byte (perplexity)");
    }
    if (rule->second.kind != kind) {
      fail(m, "metric '" + name + "' scores " + kind_name(rule->second.kind) +
                  " tasks, but output_type makes this one " + kind_name(kind));
    }
    if (!o.scorer.empty() && o.scorer != rule->second.scorer) {
      fail(m, "metric '" + name + "' needs scorer " + rule->second.scorer + " but an earlier one " +
                  o.scorer + "; one task has one scorer");
    }
    o.scorer = rule->second.scorer;
    for (const auto& kv : item) {
      const std::string key = kv.first.Scalar();
      const Entry k{e.key + "." + name + "." + key, kv.second, e.file, line_of(kv.first)};
      if (key == "metric") continue;
      if (!python_function(kv.second).empty()) fail(k, "Python functions are not supported");
      const nlohmann::json v = to_json(kv.second);
      if (key == "aggregation") {
        if (v != rule->second.aggregation) {
          fail(k, "Compass aggregates " + name + " as '" + rule->second.aggregation + "', not " +
                      v.dump());
        }
      } else if (key == "higher_is_better") {
        if (v != rule->second.higher_is_better) {
          fail(k, std::string("Compass reports ") + name + " with higher_is_better: " +
                      (rule->second.higher_is_better ? "true" : "false"));
        }
      } else if (name == "exact_match" &&
                 (key == "ignore_case" || key == "ignore_punctuation" || key == "ignore_numbers")) {
        if (!v.is_boolean()) fail(k, "must be true or false");
        o.scorer_options[key] = v;
      } else if (name == "exact_match" && key == "regexes_to_ignore") {
        if (!v.is_array() ||
            !std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_string(); })) {
          fail(k, "must be a list of regular expressions");
        }
        o.scorer_options[key] = v;
      } else {
        fail(k, "is not supported for metric '" + name + "'" +
                    (name == "exact_match"
                         ? " (supported: ignore_case, ignore_punctuation, ignore_numbers, "
                           "regexes_to_ignore)"
                         : ""));
      }
    }
  }
  // lm-eval's exact_match compares without stripping.
  if (o.scorer == "exact_match") o.scorer_options["strip"] = false;
}

void read_generation_kwargs(const Entry& e, Options& o) {
  if (!e.value.IsMap()) fail(e, "must be a mapping (until, max_gen_toks, ...)");
  o.stop.clear();  // without `until`, lm-eval stops at the end-of-text token only
  for (const auto& kv : e.value) {
    const std::string key = kv.first.Scalar();
    const Entry k{e.key + "." + key, kv.second, e.file, line_of(kv.first)};
    const nlohmann::json v = to_json(kv.second);
    if (key == "until") {
      if (v.is_string()) {
        o.stop = {v.get<std::string>()};
      } else if (v.is_array() &&
                 std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_string(); })) {
        o.stop = v.get<std::vector<std::string>>();
      } else {
        fail(k, "must be a string or a list of strings");
      }
    } else if (key == "max_gen_toks") {
      if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 1000000) {
        fail(k, "must be a positive integer");
      }
      o.max_new_tokens = static_cast<uint32_t>(v.get<int64_t>());
    } else if (key == "do_sample" && v == false) {
    } else if (key == "temperature" && v.is_number() && v.get<double>() == 0.0) {
    } else {
      fail(k,
           "is not supported (supported: until, max_gen_toks, do_sample: false, "
           "temperature: 0); sampling is set by the [[task]]'s temperature, top_p, top_k and "
           "num_samples");
    }
  }
}

}  // namespace

Options read_task_file(const fs::path& file) {
  std::vector<fs::path> chain{file};
  const std::vector<Entry> entries = load_entries(file, chain);
  std::map<std::string, const Entry*> by_key;
  for (const Entry& e : entries) {
    const auto refusal = refused().find(e.key);
    if (refusal != refused().end()) fail(e, "not supported: " + refusal->second);
    if (!among(kSupported, e.key) && !among(kNoEffect, e.key)) {
      std::vector<std::string> known(std::begin(kSupported), std::end(kSupported));
      known.insert(known.end(), std::begin(kNoEffect), std::end(kNoEffect));
      const std::string near = plugin_support::closest_match(e.key, known);
      fail(e, "unknown key in an lm-evaluation-harness task file" +
                  (near.empty() ? std::string() : " (did you mean '" + near + "'?)") +
                  "; supported: " + listed(kSupported) +
                  "; accepted without effect: " + listed(kNoEffect));
    }
    if (e.key != "task" && e.key != "metadata" && e.key != "tag") {
      const std::string function = python_function(e.value);
      if (!function.empty()) {
        fail(e, "'!function " + function +
                    "' is Python code, which Compass does not run; write it as a Jinja template "
                    "(docs/datasets.md shows Winogrande's functions as templates) or prepare the "
                    "data in the jsonl file");
      }
    }
    by_key[e.key] = &e;
  }
  const auto get = [&](const char* key) -> const Entry* {
    const auto it = by_key.find(key);
    return it == by_key.end() ? nullptr : it->second;
  };

  Options o;
  o.task_file = file.string();
  Kind kind = Kind::kGenerate;  // lm-eval's default output_type: generate_until
  if (const Entry* e = get("output_type")) {
    const std::string type = scalar_string(*e);
    if (type == "multiple_choice") {
      kind = Kind::kMultipleChoice;
    } else if (type == "generate_until") {
      kind = Kind::kGenerate;
    } else if (type == "loglikelihood_rolling") {
      kind = Kind::kRolling;
    } else if (type == "loglikelihood") {
      fail(*e,
           "'loglikelihood' (one continuation's log-likelihood, as lambada) is not supported; "
           "supported: multiple_choice, generate_until, loglikelihood_rolling");
    } else {
      fail(*e, "'" + type +
                   "' is not an output type; supported: multiple_choice, generate_until, "
                   "loglikelihood_rolling");
    }
  }
  if (const Entry* e = get("task"); e && !e->value.IsScalar()) {
    fail(*e, "a list of tasks is a group; give each task's own file in its own [[task]]");
  }
  if (const Entry* e = get("repeats")) {
    if (to_json(e->value) != 1) {
      fail(*e,
           "repeats other than 1 is not supported; for several samples set the [[task]]'s "
           "num_samples and temperature");
    }
  }
  const auto setting = [&](const char* key) {
    const Entry* e = get(key);
    if (e == nullptr) return Settings::Value{nullptr, file.string() + ": " + key};
    return Settings::Value{to_json(e->value), e->file + ":" + std::to_string(e->line) + ": " + key};
  };
  Settings s;
  s.kind = kind;
  if (kind == Kind::kRolling) {
    s.prompt = setting("doc_to_target");  // lm-eval scores doc_to_target's text
  } else {
    s.prompt = setting("doc_to_text");
  }
  if (kind == Kind::kMultipleChoice) {
    s.choices = setting("doc_to_choice");
    s.answer = setting("doc_to_target");
  } else if (kind == Kind::kGenerate) {
    if (const Entry* e = get("doc_to_choice")) {
      fail(*e, "doc_to_choice in a generate_until task is not supported");
    }
    s.target = setting("doc_to_target");
  }
  s.description = setting("description");
  build_doc_functions(s, o);

  if (const Entry* e = get("target_delimiter")) o.target_delimiter = scalar_string(*e);
  if (const Entry* e = get("fewshot_delimiter")) o.fewshot_delimiter = scalar_string(*e);
  if (const Entry* e = get("num_fewshot")) {
    const nlohmann::json v = to_json(e->value);
    if (!v.is_number_integer() || v.get<int64_t>() < 0) fail(*e, "must be an integer >= 0");
    o.num_shots = v.get<int64_t>();
  }
  if (kind == Kind::kGenerate) o.stop = {o.fewshot_delimiter};  // lm-eval's default `until`
  if (const Entry* e = get("generation_kwargs")) {
    if (kind != Kind::kGenerate) fail(*e, "applies to generate_until tasks only");
    read_generation_kwargs(*e, o);
  }
  if (const Entry* e = get("metric_list")) {
    read_metrics(*e, kind, o);
  } else {
    o.scorer = default_scorer(kind);
    if (kind == Kind::kGenerate) o.scorer_options = {{"strip", false}};
  }
  if (o.scorer_options.is_object() && o.scorer_options.empty()) o.scorer_options = nullptr;
  return o;
}

}  // namespace compass::datasets::jsonl
