#include "compass/datasets/doc_function.h"

#include "compass/jinja/error.h"
#include "compass/jinja/python_literal.h"

#include <compass/plugin.hpp>

#include <algorithm>
#include <cctype>

namespace compass::datasets::jsonl {

namespace {

using jinja::Value;

[[noreturn]] void invalid(const std::string& name, const std::string& problem) {
  throw sdk::Error(COMPASS_INVALID_ARGUMENT, name + ": " + problem);
}

// The value at a dotted path of the record, as find_field reads paths:
// the whole path as a key first, then part by part (a number indexes a
// list).
const Value* find_in(const Value& value, std::string_view path) {
  if (value.is_object()) {
    const auto whole = value.find(std::string(path));
    if (whole != value.end()) return &*whole;
  }
  const size_t dot = path.find('.');
  const std::string_view head = path.substr(0, dot);
  const Value* next = nullptr;
  if (value.is_object()) {
    const auto it = value.find(std::string(head));
    if (it != value.end()) next = &*it;
  } else if (value.is_array() && is_digits(head) && head.size() < 10) {
    const size_t i = std::stoul(std::string(head));
    if (i < value.size()) next = &value[i];
  }
  if (next == nullptr || dot == std::string_view::npos) return next;
  return find_in(*next, path.substr(dot + 1));
}

// "{name}" or "{a.b}" written in text: the old single-brace placeholders.
std::vector<std::string> brace_fields(std::string_view text) {
  std::vector<std::string> out;
  for (size_t open = text.find('{'); open != std::string_view::npos;
       open = text.find('{', open + 1)) {
    size_t end = open + 1;
    while (end < text.size() && (std::isalnum(static_cast<unsigned char>(text[end])) ||
                                 text[end] == '_' || text[end] == '.')) {
      ++end;
    }
    if (end > open + 1 && end < text.size() && text[end] == '}' &&
        !std::isdigit(static_cast<unsigned char>(text[open + 1]))) {
      out.emplace_back(text.substr(open + 1, end - open - 1));
    }
  }
  return out;
}

std::string quoted(const std::string& text) {
  return jinja::repr(Value(text));
}

std::string fields_of(const Value& doc) {
  std::string out;
  if (!doc.is_object()) return out;
  for (const auto& [key, v] : doc.items()) out += (out.empty() ? "" : ", ") + key;
  return out;
}

}  // namespace

bool is_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

DocFunction::Part DocFunction::make_part(const std::string& text) const {
  Part part;
  try {
    part.templ.emplace(text);
  } catch (const jinja::Error& e) {
    invalid(name_, std::string("template error: ") + e.what());
  }
  for (const std::string& piece : part.templ->text_parts()) {
    for (std::string& field : brace_fields(piece)) part.brace_fields.push_back(std::move(field));
  }
  return part;
}

DocFunction::DocFunction(const nlohmann::json& value, std::string name, Role role, bool has_choices)
    : name_(std::move(name)), role_(role), has_choices_(has_choices) {
  if (value.is_number_integer() && (role == Role::kText || role == Role::kTarget)) {
    kind_ = Kind::kInteger;
    integer_ = value.get<int64_t>();
    if (integer_ < 0) invalid(name_, "an index must be >= 0, got " + std::to_string(integer_));
    return;
  }
  if (value.is_array() && role == Role::kChoices) {
    if (value.empty()) invalid(name_, "the list of choices is empty");
    kind_ = Kind::kList;
    for (const auto& element : value) {
      if (!element.is_string()) {
        invalid(name_, "every choice must be a string (a template), got " + element.dump());
      }
      parts_.push_back(make_part(element.get<std::string>()));
    }
    return;
  }
  if (!value.is_string()) {
    const char* wanted = role == Role::kChoices  ? "a field name, a template or a list of templates"
                         : role == Role::kTarget ? "an integer, a field name or a template"
                                                 : "a field name or a template";
    invalid(name_, std::string("must be ") + wanted + ", got " + value.dump());
  }
  const std::string text = value.get<std::string>();
  if (text.empty()) invalid(name_, "is empty");
  if (has_choices_ && (role == Role::kText || role == Role::kTarget) && is_digits(text) &&
      text.size() < 10) {
    kind_ = Kind::kInteger;  // "3" renders 3, which lm-eval reads as an index
    integer_ = std::stoll(text);
    return;
  }
  if (!jinja::Template::has_markup(text)) {
    const bool field_like = std::none_of(text.begin(), text.end(), [](char c) {
      return std::isspace(static_cast<unsigned char>(c)) || c == '{' || c == '}';
    });
    if (field_like || role == Role::kDescription) {
      // A description that names no field is its own text (lm-eval's
      // resolve_field), kept as a template without names.
      kind_ = Kind::kField;
      field_ = text;
      if (role == Role::kDescription) parts_.push_back(make_part(text));
      return;
    }
  }
  kind_ = Kind::kTemplate;
  parts_.push_back(make_part(text));
  if (role != Role::kDescription && parts_[0].templ->names().empty()) {
    std::string hint = "write each field as {{ name }}";
    if (!parts_[0].brace_fields.empty()) {
      const std::string& f = parts_[0].brace_fields.front();
      hint = "single braces are literal text: write {{ " + f + " }} for the field '" + f + "'";
    } else {
      // Any other single-brace group in the literal text ("{[a, b]}").
      for (const std::string& piece : parts_[0].templ->text_parts()) {
        const size_t open = piece.find('{'), close = piece.find('}', open);
        if (open == std::string::npos || close == std::string::npos) continue;
        hint = "single braces are literal text: write {{" +
               piece.substr(open + 1, close - open - 1) + "}} to evaluate it";
        break;
      }
    }
    invalid(name_, "the template reads no field of the record, so every item would get the same " +
                       std::string(role == Role::kChoices ? "choices" : "text") + " (" +
                       quoted(text) + "); " + hint);
  }
}

std::string DocFunction::render(const Part& part, const JsonlRecord& record, const Value& doc,
                                std::string_view source) const {
  for (const std::string& field : part.brace_fields) {
    if (find_in(doc, field) != nullptr) {
      throw JsonlError(source, record.line,
                       name_ + ": '{" + field + "}' is literal text (single braces); write {{ " +
                           field + " }} to use the field '" + field + "'");
    }
  }
  try {
    return part.templ->render(doc);
  } catch (const jinja::UndefinedError& e) {
    throw JsonlError(source, record.line,
                     name_ + ": " + e.what() + " (the record's fields: " + fields_of(doc) + ")");
  } catch (const jinja::Error& e) {
    throw JsonlError(source, record.line, name_ + ": " + e.what());
  }
}

Value DocFunction::read_back(Value rendered, const JsonlRecord& record,
                             std::string_view source) const {
  const std::string& text = rendered.get_ref<const std::string&>();
  switch (role_) {
    case Role::kText:
    case Role::kTarget:
      if (has_choices_ && is_digits(text)) {
        if (text.size() > 18) {
          throw JsonlError(source, record.line, name_ + ": index " + text + " is too large");
        }
        return Value(std::stoll(text));
      }
      if (role_ == Role::kTarget && text.size() >= 2 && text.front() == '[' && text.back() == ']') {
        try {
          return jinja::parse_python_literal(text);
        } catch (const jinja::Error&) {
          return rendered;  // lm-eval keeps the text when literal_eval fails
        }
      }
      return rendered;
    case Role::kChoices: {
      Value list;
      try {
        list = jinja::parse_python_literal(text);
      } catch (const jinja::Error& e) {
        throw JsonlError(source, record.line,
                         name_ + ": renders " + quoted(text) + ", which is not a Python list (" +
                             e.what() + ")");
      }
      if (!list.is_array()) {
        throw JsonlError(source, record.line,
                         name_ + ": renders " + quoted(text) + ", which is not a list");
      }
      return list;
    }
    case Role::kDescription: return rendered;
  }
  return rendered;
}

Value DocFunction::apply(const JsonlRecord& record, const Value& doc,
                         std::string_view source) const {
  switch (kind_) {
    case Kind::kUnset: return nullptr;
    case Kind::kInteger: return integer_;
    case Kind::kField: {
      const Value* value = find_in(doc, field_);
      if (value == nullptr) {
        if (role_ == Role::kDescription) return render(parts_[0], record, doc, source);
        throw JsonlError(source, record.line,
                         name_ + ": missing field '" + field_ + "' (the record's fields: " +
                             fields_of(doc) + "; write a template with {{ }} for text)");
      }
      if (role_ == Role::kChoices && !value->is_array()) {
        throw JsonlError(
            source, record.line,
            name_ + ": field '" + field_ + "' must be a list, got " + jinja::type_name(*value));
      }
      return *value;
    }
    case Kind::kTemplate: {
      const Part& part = parts_[0];
      if (role_ == Role::kChoices) {
        // "{{[sol1, sol2]}}": the list itself, as literal_eval would
        // read its printed form back.
        std::optional<Value> value;
        try {
          value = part.templ->value(doc);
        } catch (const jinja::Error&) {
          value.reset();  // render() reports it with the record's context
        }
        if (value && value->is_array()) return *value;
      }
      return read_back(render(part, record, doc, source), record, source);
    }
    case Kind::kList: {
      Value out = Value::array();
      for (const Part& part : parts_) out.push_back(render(part, record, doc, source));
      return out;
    }
  }
  return nullptr;
}

}  // namespace compass::datasets::jsonl
