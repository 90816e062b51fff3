// GPT-2's byte-level alphabet: a reversible map from the 256 byte values to
// printable code points, so that any byte string is a string of "characters"
// a BPE vocabulary can hold.
#ifndef COMPASS_TOKENIZER_BYTE_LEVEL_H_
#define COMPASS_TOKENIZER_BYTE_LEVEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace compass::hf {

// UTF-8 of the code point standing for byte `b`.
const std::string& ByteLevelChar(uint8_t b);

// The byte that code point `c` stands for, or -1 when `c` is not in the map.
int ByteLevelByte(char32_t c);

// Every byte of `raw` replaced by its code point.
std::string ToByteLevel(std::string_view raw);

// The bytes that a byte-level string stands for; nullopt when one of its
// code points is outside the map (e.g. an added token holding "▁").
std::optional<std::string> FromByteLevel(std::string_view text);

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_BYTE_LEVEL_H_
