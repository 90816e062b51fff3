// UTF-8 helpers for the tokenizers: decoding, validation and the lossy repair
// that matches the reference library (Rust's String::from_utf8_lossy).
#ifndef COMPASS_TOKENIZER_UTF8_H_
#define COMPASS_TOKENIZER_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace compass::hf {

// Bytes in the UTF-8 sequence that starts with `lead` (1 for anything that is
// not a lead byte). Only meaningful on valid UTF-8.
inline size_t Utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// The code point at s[*i] (valid UTF-8 assumed); advances *i past it.
char32_t NextCodePoint(std::string_view s, size_t* i);

void AppendUtf8(char32_t cp, std::string* out);

// Length of the valid UTF-8 sequence at s[i], or 0 when the bytes there are
// not one.
size_t ValidSequenceLength(std::string_view s, size_t i);

bool IsValidUtf8(std::string_view s);

// `s` with each maximal invalid subsequence replaced by U+FFFD.
std::string ToValidUtf8Lossy(std::string_view s);

// Unicode White_Space (Rust's char::is_whitespace).
bool IsWhiteSpace(char32_t c);

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_UTF8_H_
