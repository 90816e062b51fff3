// Text helpers for dataset plugins. Strings are UTF-8.
#ifndef COMPASS_DATASETS_TEXT_H_
#define COMPASS_DATASETS_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace compass::plugin_support {

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

// Decodes the code point of UTF-8 starting at text[i] and sets `len` to its
// byte length. A sequence cut short by the end of the text decodes as U+FFFD
// of length 1. Expects i < text.size().
uint32_t decode_utf8(std::string_view text, size_t i, size_t& len);

// Appends the UTF-8 encoding of `cp` to `out`.
void append_utf8(std::string& out, uint32_t cp);

// `text` with every invalid UTF-8 sequence replaced by U+FFFD, one per bad
// byte (Python's bytes.decode("utf-8", errors="replace") for single bytes).
std::string to_valid_utf8(std::string_view text);

// True for the code points Python's str.isspace() accepts (and re's \s).
bool is_python_space(uint32_t cp);

// Python's str.lower() with the simple case mappings of Basic Latin,
// Latin-1, Latin Extended-A/B (regular pairs), Latin Extended Additional,
// Greek, Cyrillic, Armenian, Georgian, Roman numerals, circled letters and
// fullwidth Latin, plus U+0130 -> "i\u0307". Other code points are kept.
// Expects valid UTF-8.
std::string python_lower(std::string_view text);

// Python's str.upper() with the simple case mappings of the same blocks,
// plus U+00DF -> "SS". Expects valid UTF-8.
std::string python_upper(std::string_view text);

// Python's str.capitalize(): the first code point in title case (upper
// case of the blocks above; U+00DF -> "Ss"), the rest through python_lower.
std::string python_capitalize(std::string_view text);

// len(re.split(r"\s+", text)) in Python: the number of maximal runs of
// whitespace (is_python_space) plus one; 1 for "".
size_t count_python_words(std::string_view text);

// Python's str.replace(old, new): every non-overlapping occurrence, left
// to right. `from` must not be empty.
std::string replace_all(std::string_view text, std::string_view from, std::string_view to);

// Levenshtein distance in bytes.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `name` when it is close enough to be a likely
// typo (or contains / is contained in `name`), else "".
std::string closest_match(std::string_view name, const std::vector<std::string>& candidates);

std::string join(const std::vector<std::string>& parts, std::string_view separator);

}  // namespace compass::plugin_support

#endif  // COMPASS_DATASETS_TEXT_H_
