#include "compass/plugin_support/jsonl.h"

#include "compass/plugin_support/csv.h"

#include <cctype>

namespace compass::plugin_support {

namespace {

bool is_blank(std::string_view line) {
  for (const char c : line) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\f' && c != '\v') return false;
  }
  return true;
}

// nlohmann's parse_error text without its "[json.exception...] parse error
// at line 1, " prefix: "column 5: syntax error while parsing ...".
std::string parse_detail(const std::string& what) {
  std::string detail = what;
  if (const size_t bracket = detail.find("] ");
      detail.starts_with("[json.exception") && bracket != std::string::npos) {
    detail.erase(0, bracket + 2);
  }
  constexpr std::string_view kPrefix = "parse error at line 1, ";
  if (detail.starts_with(kPrefix)) detail.erase(0, kPrefix.size());
  constexpr std::string_view kShort = "parse error";
  if (detail.starts_with(kShort) && detail.size() > kShort.size() + 2) {
    detail.erase(0, kShort.size() + 2);  // "parse error: ..." -> "..."
  }
  return detail;
}

}  // namespace

std::string json_type_name(const nlohmann::json& value) {
  switch (value.type()) {
    case nlohmann::json::value_t::null: return "null";
    case nlohmann::json::value_t::object: return "an object";
    case nlohmann::json::value_t::array: return "an array";
    case nlohmann::json::value_t::string: return "a string";
    case nlohmann::json::value_t::boolean: return "a boolean";
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return "an integer";
    case nlohmann::json::value_t::number_float: return "a number";
    default: return "a value";
  }
}

std::vector<JsonlRecord> parse_jsonl(std::string_view text, std::string_view source) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  std::vector<JsonlRecord> records;
  uint64_t line = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    ++line;
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view row = text.substr(pos, end - pos);
    pos = end + 1;
    if (!row.empty() && row.back() == '\r') row.remove_suffix(1);
    if (is_blank(row)) continue;
    JsonlRecord record;
    record.line = line;
    try {
      record.value = nlohmann::json::parse(row);
    } catch (const nlohmann::json::exception& e) {
      // parse_error, and out_of_range for a number beyond double ("1e999").
      throw JsonlError(source, line, "not valid JSON: " + parse_detail(e.what()));
    }
    if (!record.value.is_object()) {
      throw JsonlError(source, line, "expected a JSON object, got " + json_type_name(record.value));
    }
    record.text.assign(row);
    records.push_back(std::move(record));
  }
  if (records.empty()) {
    throw sdk::Error(COMPASS_DATA_LOSS, std::string(source) + ": empty file (no JSON lines)");
  }
  return records;
}

std::vector<JsonlRecord> read_jsonl_file(const std::filesystem::path& path) {
  return parse_jsonl(read_file(path), path.string());
}

const nlohmann::json* find_field(const nlohmann::json& value, std::string_view path) {
  if (value.is_object()) {
    if (const auto it = value.find(std::string(path)); it != value.end()) return &*it;
  }
  const nlohmann::json* current = &value;
  while (!path.empty()) {
    const size_t dot = path.find('.');
    const std::string_view part = path.substr(0, dot);
    path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
    if (current->is_object()) {
      const auto it = current->find(std::string(part));
      if (it == current->end()) return nullptr;
      current = &*it;
    } else if (current->is_array()) {
      if (part.empty() || part.size() > 9) return nullptr;
      size_t index = 0;
      for (const char c : part) {
        if (!std::isdigit(static_cast<unsigned char>(c))) return nullptr;
        index = index * 10 + static_cast<size_t>(c - '0');
      }
      if (index >= current->size()) return nullptr;
      current = &(*current)[index];
    } else {
      return nullptr;
    }
  }
  return current;
}

const nlohmann::json& require_field(const JsonlRecord& record, std::string_view source,
                                    std::string_view path) {
  const nlohmann::json* value = find_field(record.value, path);
  if (value == nullptr) {
    throw JsonlError(source, record.line, "missing field '" + std::string(path) + "'");
  }
  return *value;
}

std::string require_string(const JsonlRecord& record, std::string_view source,
                           std::string_view path) {
  const nlohmann::json& value = require_field(record, source, path);
  if (!value.is_string()) {
    throw JsonlError(
        source, record.line,
        "field '" + std::string(path) + "' must be a string, got " + json_type_name(value));
  }
  return value.get<std::string>();
}

std::vector<std::string> require_string_list(const JsonlRecord& record, std::string_view source,
                                             std::string_view path) {
  const nlohmann::json& value = require_field(record, source, path);
  const auto wrong = [&](const std::string& got) {
    return JsonlError(source, record.line,
                      "field '" + std::string(path) + "' must be a list of strings, got " + got);
  };
  if (!value.is_array()) throw wrong(json_type_name(value));
  std::vector<std::string> out;
  for (const auto& element : value) {
    if (!element.is_string()) throw wrong("an element that is " + json_type_name(element));
    out.push_back(element.get<std::string>());
  }
  return out;
}

}  // namespace compass::plugin_support
