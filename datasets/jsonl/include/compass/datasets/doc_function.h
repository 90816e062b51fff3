// One of lm-evaluation-harness's doc_to_text / doc_to_target /
// doc_to_choice / description settings, and what it gives for a record,
// read back as lm-eval reads it (lm_eval/api/task.py, ConfigurableTask):
//
//   an integer          that value for every record (SciQ's doc_to_target: 3)
//   a string with no    the field of that name ("label", "question.stem",
//   Jinja markup        "choices.0"); lm-eval's "a feature name"
//   a string with       a Jinja template (compass/jinja/template.h) rendered
//   {{ }} or {% %}      with the record's fields as names
//   a list (choices)    one template per choice
//
// then, by role: a text or target template that renders to digits, in a
// task that has choices, is that integer (lm-eval's isdigit rule, which
// makes a doc_to_text giving an index a partial evaluation); a target that
// renders as "[...]" is the Python list it spells (several targets); a
// choices template is read with Python's literal_eval and must give a list.
//
// Refused when the setting is read, before any data: a template that reads
// no field of the record (every item would get the same text), except in
// a list of choices ("yes" / "no") and in a description; a plain string that
// cannot be a field name (it has spaces or braces: the old single-brace
// syntax "Q: {question}" is text, and the message says to write
// {{ question }}). Refused for a record: a field it lacks, a template that
// fails, single-brace text naming one of its fields ("{goal}" where the
// record has "goal"), a choices value that is not a list.
#ifndef COMPASS_DATASETS_DOC_FUNCTION_H_
#define COMPASS_DATASETS_DOC_FUNCTION_H_

#include "compass/jinja/template.h"
#include "compass/jinja/value.h"
#include "compass/plugin_support/jsonl.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace compass::datasets::jsonl {

using plugin_support::JsonlError;
using plugin_support::JsonlRecord;

class DocFunction {
 public:
  enum class Role { kText, kTarget, kChoices, kDescription };

  DocFunction() = default;
  // `value` is the setting as JSON; `name` names it in every error
  // ("option 'prompt'", "piqa.yaml:8: doc_to_text"); `has_choices` says
  // whether the task has choices (the digit rule). Throws sdk::Error
  // COMPASS_INVALID_ARGUMENT "<name>: <problem>".
  DocFunction(const nlohmann::json& value, std::string name, Role role, bool has_choices);

  bool set() const { return kind_ != Kind::kUnset; }
  const std::string& name() const { return name_; }

  // The setting's value for one record (`doc` is the record as a Jinja
  // value). Throws JsonlError "<source>:<line>: <name>: <problem>".
  jinja::Value apply(const JsonlRecord& record, const jinja::Value& doc,
                     std::string_view source) const;

 private:
  enum class Kind { kUnset, kInteger, kField, kTemplate, kList };
  struct Part {
    std::optional<jinja::Template> templ;
    std::vector<std::string> brace_fields;  // "{name}" written in its text
  };

  Part make_part(const std::string& text) const;
  std::string render(const Part& part, const JsonlRecord& record, const jinja::Value& doc,
                     std::string_view source) const;
  jinja::Value read_back(jinja::Value rendered, const JsonlRecord& record,
                         std::string_view source) const;

  Kind kind_ = Kind::kUnset;
  std::string name_;
  Role role_ = Role::kText;
  bool has_choices_ = false;
  int64_t integer_ = 0;
  std::string field_;
  std::vector<Part> parts_;  // kTemplate: one; kList: one per element
};

// Python's str.isdigit() for ASCII text: non-empty, only 0-9.
bool is_digits(std::string_view text);

}  // namespace compass::datasets::jsonl

#endif  // COMPASS_DATASETS_DOC_FUNCTION_H_
