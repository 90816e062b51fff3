#include "compass/datasets/template.h"

#include <compass/plugin.hpp>

namespace compass::datasets::jsonl {

namespace {

[[noreturn]] void bad_template(const std::string& key, const std::string& problem) {
  throw sdk::Error(COMPASS_INVALID_ARGUMENT, "option '" + key + "': " + problem);
}

}  // namespace

Template::Template(std::string_view text, std::string key) : text_(text), key_(std::move(key)) {
  std::string literal;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      literal += '{';
      i += 2;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      literal += '}';
      i += 2;
    } else if (c == '{') {
      const size_t close = text.find('}', i + 1);
      const size_t next_open = text.find('{', i + 1);
      if (close == std::string_view::npos || next_open < close) {
        bad_template(key_, "'{' at offset " + std::to_string(i) +
                               " has no closing '}' (write '{{' for a literal brace)");
      }
      const std::string_view path = text.substr(i + 1, close - i - 1);
      if (path.empty()) {
        bad_template(key_, "empty placeholder '{}' at offset " + std::to_string(i));
      }
      if (!literal.empty()) pieces_.push_back({false, std::move(literal)});
      literal.clear();
      pieces_.push_back({true, std::string(path)});
      i = close + 1;
    } else if (c == '}') {
      bad_template(key_,
                   "lone '}' at offset " + std::to_string(i) + " (write '}}' for a literal brace)");
    } else {
      literal += c;
      ++i;
    }
  }
  if (!literal.empty()) pieces_.push_back({false, std::move(literal)});
}

std::vector<std::string> Template::fields() const {
  std::vector<std::string> out;
  for (const Piece& piece : pieces_) {
    if (piece.field) out.push_back(piece.text);
  }
  return out;
}

std::string Template::render(const JsonlRecord& record, std::string_view source) const {
  std::string out;
  for (const Piece& piece : pieces_) {
    if (!piece.field) {
      out += piece.text;
      continue;
    }
    const nlohmann::json* value = find_field(record.value, piece.text);
    if (value == nullptr) {
      throw JsonlError(source, record.line,
                       "option '" + key_ + "': placeholder {" + piece.text +
                           "} names no field of the record (missing field '" + piece.text + "')");
    }
    out += value_text(*value);
  }
  return out;
}

std::string value_text(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::string: return value.get<std::string>();
    case nlohmann::json::value_t::boolean: return value.get<bool>() ? "True" : "False";
    case nlohmann::json::value_t::null: return "None";
    default: return value.dump();
  }
}

}  // namespace compass::datasets::jsonl
