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

#include <compass/plugin.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace compass::datasets {

struct JsonlRecord {
  uint64_t line = 0;     // 1-based line of the record
  std::string text;      // the line as written (without its line break)
  nlohmann::json value;  // the parsed object
};

// A malformed JSON Lines input. code() is COMPASS_DATA_LOSS; what() reads
// "<source>:<line>: <problem>".
class JsonlError : public sdk::Error {
 public:
  JsonlError(std::string_view source, uint64_t line, std::string_view problem);
  uint64_t line() const { return line_; }

 private:
  uint64_t line_;
};

// Parses JSON Lines text; `source` names it in errors (usually the path).
// Throws JsonlError for a bad line and sdk::Error COMPASS_DATA_LOSS when
// there is no record at all.
std::vector<JsonlRecord> parse_jsonl(std::string_view text, std::string_view source);

// Reads and parses a file: COMPASS_NOT_FOUND when it does not exist,
// COMPASS_IO when it cannot be read, then as parse_jsonl.
std::vector<JsonlRecord> read_jsonl_file(const std::filesystem::path& path);

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

}  // namespace compass::datasets

#endif  // COMPASS_DATASETS_JSONL_H_
