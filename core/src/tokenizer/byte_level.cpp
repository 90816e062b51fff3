#include "tokenizer/byte_level.h"

#include <array>

#include "tokenizer/utf8.h"

namespace compass::hf {
namespace {

struct Tables {
  std::array<char32_t, 256> byte_to_char{};
  std::array<std::string, 256> byte_to_utf8;
  std::array<int16_t, 512> char_to_byte{};  // every mapped code point is < 512

  Tables() {
    char_to_byte.fill(-1);
    // Printable Latin-1 bytes stand for themselves; the others are moved
    // past 255, in byte order.
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
      byte_to_char[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
    }
    for (int b = 0; b < 256; ++b) {
      AppendUtf8(byte_to_char[b], &byte_to_utf8[b]);
      char_to_byte[byte_to_char[b]] = static_cast<int16_t>(b);
    }
  }
};

const Tables& GetTables() {
  static const Tables tables;
  return tables;
}

}  // namespace

const std::string& ByteLevelChar(uint8_t b) {
  return GetTables().byte_to_utf8[b];
}

int ByteLevelByte(char32_t c) {
  return c < 512 ? GetTables().char_to_byte[c] : -1;
}

std::string ToByteLevel(std::string_view raw) {
  const Tables& t = GetTables();
  std::string out;
  out.reserve(raw.size() * 2);
  for (unsigned char b : raw) out += t.byte_to_utf8[b];
  return out;
}

std::optional<std::string> FromByteLevel(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const int b = ByteLevelByte(NextCodePoint(text, &i));
    if (b < 0) return std::nullopt;
    out.push_back(static_cast<char>(b));
  }
  return out;
}

}  // namespace compass::hf
