// Text helpers for dataset plugins. Strings are UTF-8.
#ifndef COMPASS_DATASETS_TEXT_H_
#define COMPASS_DATASETS_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace compass::datasets {

// Byte offset of the first invalid UTF-8 sequence, or npos when valid.
// Overlong forms, surrogates and code points above U+10FFFF are invalid.
size_t find_invalid_utf8(std::string_view text);

// Number of Unicode code points in valid UTF-8 (Python's len(str)).
size_t count_code_points(std::string_view text);

// Python's str.strip() with no argument: removes leading and trailing code
// points for which str.isspace() is true (ASCII whitespace, U+001C..U+001F,
// U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F,
// U+3000). Expects valid UTF-8.
std::string_view python_strip(std::string_view text);

// Levenshtein distance in bytes.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `name` when it is close enough to be a likely
// typo (or contains / is contained in `name`), else "".
std::string closest_match(std::string_view name, const std::vector<std::string>& candidates);

std::string join(const std::vector<std::string>& parts, std::string_view separator);

}  // namespace compass::datasets

#endif  // COMPASS_DATASETS_TEXT_H_
