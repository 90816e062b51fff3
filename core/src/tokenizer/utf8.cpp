#include "tokenizer/utf8.h"

namespace compass::hf {

char32_t NextCodePoint(std::string_view s, size_t* i) {
  const auto b0 = static_cast<unsigned char>(s[*i]);
  const size_t n = Utf8SequenceLength(b0);
  if (n == 1 || *i + n > s.size()) {
    ++*i;
    return b0;
  }
  char32_t cp = b0 & (0x7F >> n);
  for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[*i + k]) & 0x3F);
  *i += n;
  return cp;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

// Allowed range of the second byte after lead `b` (Unicode Table 3-7); the
// later continuation bytes are always 80..BF. Returns false for bytes that
// cannot start a sequence.
bool SecondByteRange(unsigned char b, size_t* len, unsigned char* lo, unsigned char* hi) {
  *lo = 0x80;
  *hi = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    *len = 2;
  } else if (b == 0xE0) {
    *len = 3;
    *lo = 0xA0;
  } else if ((b >= 0xE1 && b <= 0xEC) || b == 0xEE || b == 0xEF) {
    *len = 3;
  } else if (b == 0xED) {
    *len = 3;
    *hi = 0x9F;
  } else if (b == 0xF0) {
    *len = 4;
    *lo = 0x90;
  } else if (b >= 0xF1 && b <= 0xF3) {
    *len = 4;
  } else if (b == 0xF4) {
    *len = 4;
    *hi = 0x8F;
  } else {
    return false;
  }
  return true;
}

// Number of bytes at s[i] that form a valid sequence or a prefix of one
// (the "maximal subpart"); at least 1.
size_t MaximalPrefix(std::string_view s, size_t i, bool* complete) {
  const auto b = static_cast<unsigned char>(s[i]);
  *complete = false;
  if (b < 0x80) {
    *complete = true;
    return 1;
  }
  size_t len;
  unsigned char lo, hi;
  if (!SecondByteRange(b, &len, &lo, &hi)) return 1;
  size_t k = 1;
  for (; k < len && i + k < s.size(); ++k) {
    const auto c = static_cast<unsigned char>(s[i + k]);
    const unsigned char l = k == 1 ? lo : 0x80;
    const unsigned char h = k == 1 ? hi : 0xBF;
    if (c < l || c > h) return k;
  }
  *complete = k == len;
  return k;
}

}  // namespace

size_t ValidSequenceLength(std::string_view s, size_t i) {
  bool complete;
  const size_t n = MaximalPrefix(s, i, &complete);
  return complete ? n : 0;
}

bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t n = ValidSequenceLength(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::string ToValidUtf8Lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    bool complete;
    const size_t n = MaximalPrefix(s, i, &complete);
    if (complete) {
      out.append(s.substr(i, n));
    } else {
      out.append("\xEF\xBF\xBD");
    }
    i += n;
  }
  return out;
}

bool IsWhiteSpace(char32_t c) {
  if (c <= 0x20) return c == 0x20 || (c >= 0x09 && c <= 0x0D);
  if (c < 0x85) return false;
  return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
         c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

}  // namespace compass::hf
