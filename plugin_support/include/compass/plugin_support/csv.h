// RFC 4180 CSV reading for dataset plugins.
//
// Accepted: fields separated by ',', records ended by LF, CRLF or a lone CR;
// quoted fields may hold commas, line breaks (kept byte for byte) and doubled
// quotes ("" -> "); a '"' inside an unquoted field is plain text (as in
// Python's csv module). A UTF-8 byte order mark at the start is skipped,
// blank lines are skipped, the last record needs no line break. Rejected,
// with the 1-based line where the record starts: an unterminated quoted
// field, text after a closing quote. Invalid UTF-8 is rejected with the line
// of the bad byte.
#ifndef COMPASS_DATASETS_CSV_H_
#define COMPASS_DATASETS_CSV_H_

#include "compass/plugin_support/line_error.h"

#include <compass/plugin.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace compass::plugin_support {

struct CsvRecord {
  uint64_t line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

// A malformed CSV input (see LineError).
class CsvError : public LineError {
 public:
  using LineError::LineError;
};

// Parses CSV text; `source` names it in errors (usually the file path).
std::vector<CsvRecord> parse_csv(std::string_view text, std::string_view source);

// Reads and parses a file. Throws sdk::Error COMPASS_NOT_FOUND when the file
// does not exist, COMPASS_IO when it cannot be read, CsvError when malformed.
std::vector<CsvRecord> read_csv_file(const std::filesystem::path& path);

// Reads a whole file into memory, with the same errors as read_csv_file.
std::string read_file(const std::filesystem::path& path);

}  // namespace compass::plugin_support

#endif  // COMPASS_DATASETS_CSV_H_
