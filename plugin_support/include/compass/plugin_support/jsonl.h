// JSON Lines reading for dataset plugins: one JSON object per line.
//
// Lines are ended by LF or CRLF; blank lines (only ASCII whitespace) are
// skipped; a UTF-8 byte order mark at the start is skipped. Every error
// names the source and the 1-based line: "<file>:<line>: not valid JSON:
// <detail>", "<file>:<line>: expected a JSON object, got <type>",
// "<file>:<line>: missing field '<path>'"; a file without any record is
// "<file>: empty file (no JSON lines)".
#ifndef COMPASS_DATASETS_JSONL_H_
#define COMPASS_DATASETS_JSONL_H_

#include "compass/plugin_support/line_error.h"

#include <compass/plugin.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace compass::plugin_support {

struct JsonlRecord {
  uint64_t line = 0;     // 1-based line of the record
  std::string text;      // the line as written (without its line break)
  nlohmann::json value;  // the parsed object
};

// A malformed JSON Lines input (see LineError).
class JsonlError : public LineError {
 public:
  using LineError::LineError;
};

// Parses JSON Lines text; `source` names it in errors (usually the path).
// Throws JsonlError for a bad line and sdk::Error COMPASS_DATA_LOSS when
// there is no record at all.
std::vector<JsonlRecord> parse_jsonl(std::string_view text, std::string_view source);

// Reads and parses a file: COMPASS_NOT_FOUND when it does not exist,
// COMPASS_IO when it cannot be read, then as parse_jsonl.
std::vector<JsonlRecord> read_jsonl_file(const std::filesystem::path& path);

// Reads a file into one document per record: parse(record, source) makes
// it, then its `line`, `json` (the line as written) and `value` (the parsed
// record) are filled in.
template <typename Parse>
auto read_jsonl_docs(const std::filesystem::path& file, Parse&& parse) {
  using Doc = std::invoke_result_t<Parse&, const JsonlRecord&, const std::string&>;
  const std::string source = file.string();
  std::vector<Doc> docs;
  for (auto& record : read_jsonl_file(file)) {
    Doc doc = parse(record, source);
    doc.line = record.line;
    doc.json = std::move(record.text);
    doc.value = std::move(record.value);
    docs.push_back(std::move(doc));
  }
  return docs;
}

// The value at a dotted path ("question.stem"; a numeric part indexes an
// array: "choices.0"), or nullptr when any part is absent. A key holding a
// '.' itself is found when the whole path is a key of the object.
const nlohmann::json* find_field(const nlohmann::json& value, std::string_view path);

// Typed access to a record's fields; errors are JsonlError naming the
// source, the line and the field: "missing field 'answerKey'", "field
// 'answerKey' must be a string, got number".
const nlohmann::json& require_field(const JsonlRecord& record, std::string_view source,
                                    std::string_view path);
std::string require_string(const JsonlRecord& record, std::string_view source,
                           std::string_view path);
std::vector<std::string> require_string_list(const JsonlRecord& record, std::string_view source,
                                             std::string_view path);

// "a string", "a number", "an array", ... for messages.
std::string json_type_name(const nlohmann::json& value);

}  // namespace compass::plugin_support

#endif  // COMPASS_DATASETS_JSONL_H_
