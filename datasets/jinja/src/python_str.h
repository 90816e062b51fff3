// Python's str operations on UTF-8 text, counted in code points as Python
// counts them (len, indices, slices, find): what the template methods and
// filters are built from. Text is expected to be valid UTF-8.
#ifndef COMPASS_JINJA_PYTHON_STR_H_
#define COMPASS_JINJA_PYTHON_STR_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace compass::jinja::py {

std::u32string decode(std::string_view text);
std::string encode(std::u32string_view text);

// len(text).
int64_t length(std::string_view text);

// str.strip / lstrip / rstrip: whitespace (str.isspace) when `chars` is
// nullopt, else any code point of `chars`.
std::string strip(std::string_view text, const std::optional<std::string>& chars, bool left,
                  bool right);

// str.split(sep, maxsplit): runs of whitespace when `sep` is nullopt
// (empty strings dropped); maxsplit < 0 means no limit. An empty `sep` is
// Python's ValueError, thrown as std::invalid_argument("empty separator").
std::vector<std::string> split(std::string_view text, const std::optional<std::string>& sep,
                               int64_t maxsplit);

// str.replace(old, new, count); count < 0 replaces all.
std::string replace(std::string_view text, std::string_view old_text, std::string_view new_text,
                    int64_t count);

// str.find(sub, start, end) with Python's index clamping; -1 when absent.
int64_t find(std::string_view text, std::string_view sub, std::optional<int64_t> start = {},
             std::optional<int64_t> end = {}, bool reverse = false);

// str.count(sub).
int64_t count(std::string_view text, std::string_view sub);

// The code points [begin, end) of `text`.
std::string substr(std::string_view text, int64_t begin, int64_t end);

}  // namespace compass::jinja::py

#endif  // COMPASS_JINJA_PYTHON_STR_H_
