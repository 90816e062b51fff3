// Prompt templates of the generic jsonl dataset.
//
// Syntax: text with placeholders {field}, {field.sub} or {list.0} naming a
// value of the JSON record (see find_field in jsonl.h); "{{" and "}}" write
// literal braces. A value renders as Python/Jinja would print it: a string
// as is, an integer in decimal, a float as its shortest round-trip form,
// true/false as True/False, null as None, a list or object as compact JSON.
#ifndef COMPASS_DATASETS_TEMPLATE_H_
#define COMPASS_DATASETS_TEMPLATE_H_

#include "compass/plugin_support/jsonl.h"

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace compass::plugin_support {}

namespace compass::datasets::jsonl {

using namespace ::compass::plugin_support;  // the helpers all in-tree plugins share

class Template {
 public:
  Template() = default;
  // Parses `text`; `key` names the option in errors. Throws sdk::Error
  // COMPASS_INVALID_ARGUMENT "option '<key>': ..." for a '{' without its
  // '}', an empty placeholder "{}", or a lone '}'.
  Template(std::string_view text, std::string key);

  const std::string& key() const { return key_; }
  const std::string& text() const { return text_; }
  // The field paths the template names, in order.
  std::vector<std::string> fields() const;

  // Renders against a record. A placeholder naming no value of the record
  // throws JsonlError "<source>:<line>: option '<key>': placeholder
  // {<path>} names no field of the record".
  std::string render(const JsonlRecord& record, std::string_view source) const;

 private:
  struct Piece {
    bool field = false;
    std::string text;  // literal text or the field path
  };
  std::string text_;
  std::string key_;
  std::vector<Piece> pieces_;
};

// A JSON value as text (see above).
std::string value_text(const nlohmann::json& value);

}  // namespace compass::datasets::jsonl

#endif  // COMPASS_DATASETS_TEMPLATE_H_
