#include "compass/plugin_support/csv.h"

#include "compass/plugin_support/text.h"

#include <fstream>
#include <sstream>
#include <system_error>

namespace compass::plugin_support {

namespace {

bool ends_field(char c) {
  return c == ',' || c == '\n' || c == '\r';
}

}  // namespace

std::vector<CsvRecord> parse_csv(std::string_view text, std::string_view source) {
  if (const size_t bad = find_invalid_utf8(text); bad != std::string_view::npos) {
    uint64_t line = 1;
    for (size_t k = 0; k < bad; ++k) line += text[k] == '\n' ? 1 : 0;
    throw CsvError(source, line, "invalid UTF-8 (byte offset " + std::to_string(bad) + ")");
  }
  const size_t n = text.size();
  size_t i = text.substr(0, 3) == "\xEF\xBB\xBF" ? 3 : 0;
  uint64_t line = 1;
  std::vector<CsvRecord> records;

  while (i < n) {
    CsvRecord record;
    record.line = line;
    bool any_quoted = false;
    for (;;) {
      std::string field;
      if (text[i] == '"') {
        any_quoted = true;
        ++i;
        for (;;) {
          if (i >= n) {
            throw CsvError(source, record.line,
                           "unterminated quoted field " + std::to_string(record.fields.size() + 1) +
                               " (no closing '\"' before the end of the file)");
          }
          const char c = text[i];
          if (c == '"') {
            if (i + 1 < n && text[i + 1] == '"') {
              field += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (c == '\n' || (c == '\r' && (i + 1 >= n || text[i + 1] != '\n'))) ++line;
          field += c;
          ++i;
        }
        if (i < n && !ends_field(text[i])) {
          throw CsvError(source, record.line,
                         "unexpected text after the closing quote of field " +
                             std::to_string(record.fields.size() + 1));
        }
      } else {
        const size_t start = i;
        // A '"' inside an unquoted field is kept as text, as Python's csv
        // does: real MMLU rows rely on it (val/college_medicine_val.csv).
        while (i < n && !ends_field(text[i])) ++i;
        field.assign(text.substr(start, i - start));
      }
      record.fields.push_back(std::move(field));
      if (i >= n) break;
      if (text[i] == ',') {
        ++i;
        if (i >= n) {
          record.fields.emplace_back();  // "a," at the end of the file
          break;
        }
        continue;
      }
      // End of record: LF, CRLF or a lone CR.
      if (text[i] == '\r' && i + 1 < n && text[i + 1] == '\n') ++i;
      ++i;
      ++line;
      break;
    }
    const bool blank = record.fields.size() == 1 && record.fields[0].empty() && !any_quoted;
    if (!blank) records.push_back(std::move(record));
  }
  return records;
}

std::string read_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw sdk::Error(COMPASS_NOT_FOUND, "file not found: '" + path.string() + "'");
  }
  if (std::filesystem::is_directory(path, ec)) {
    throw sdk::Error(COMPASS_IO, "'" + path.string() + "' is a folder, expected a file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw sdk::Error(COMPASS_IO, "cannot open '" + path.string() + "'");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw sdk::Error(COMPASS_IO, "cannot read '" + path.string() + "'");
  return std::move(buffer).str();
}

std::vector<CsvRecord> read_csv_file(const std::filesystem::path& path) {
  return parse_csv(read_file(path), path.string());
}

}  // namespace compass::plugin_support
