#include "compass/plugin_support/text.h"

#include <algorithm>
#include <cstdint>

namespace compass::plugin_support {

namespace {

// Decodes one code point of UTF-8 starting at text[i]; sets `len`. A
// sequence cut short by the end of the text decodes as one U+FFFD byte.
uint32_t decode_at(std::string_view text, size_t i, size_t& len) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) {
    len = 1;
    return c;
  }
  const size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
  if (i + need > text.size()) {
    len = 1;
    return 0xFFFD;
  }
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    return (uint32_t(c & 0x1F) << 6) | (b(1) & 0x3F);
  }
  if ((c & 0xF0) == 0xE0) {
    len = 3;
    return (uint32_t(c & 0x0F) << 12) | (uint32_t(b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  }
  len = 4;
  return (uint32_t(c & 0x07) << 18) | (uint32_t(b(1) & 0x3F) << 12) | (uint32_t(b(2) & 0x3F) << 6) |
         (b(3) & 0x3F);
}

// Simple lower-case mapping (see python_lower); `cp` when there is none.
uint32_t simple_lower(uint32_t cp) {
  const auto in = [cp](uint32_t lo, uint32_t hi) { return cp >= lo && cp <= hi; };
  const bool even = (cp & 1) == 0;
  if (in(0x41, 0x5A)) return cp + 32;
  if (cp < 0xC0) return cp;
  if (in(0xC0, 0xDE) && cp != 0xD7) return cp + 32;
  if ((in(0x100, 0x12F) || in(0x132, 0x137) || in(0x14A, 0x177)) && even) return cp + 1;
  if ((in(0x139, 0x148) || in(0x179, 0x17E)) && !even) return cp + 1;
  if (cp == 0x178) return 0xFF;
  if ((in(0x1CD, 0x1DC) && !even) || ((in(0x1DE, 0x1EF) || in(0x1F8, 0x21F)) && even) ||
      (in(0x222, 0x233) && even)) {
    return cp + 1;
  }
  if (cp == 0x386) return 0x3AC;
  if (in(0x388, 0x38A)) return cp + 37;
  if (cp == 0x38C) return 0x3CC;
  if (in(0x38E, 0x38F)) return cp + 63;
  if (in(0x391, 0x3A1) || in(0x3A3, 0x3AB)) return cp + 32;
  if (in(0x3D8, 0x3EF) && even) return cp + 1;
  if (in(0x400, 0x40F)) return cp + 80;
  if (in(0x410, 0x42F)) return cp + 32;
  if ((in(0x460, 0x481) || in(0x48A, 0x4BF) || in(0x4D0, 0x52F)) && even) return cp + 1;
  if (cp == 0x4C0) return 0x4CF;
  if (in(0x4C1, 0x4CE) && !even) return cp + 1;
  if (in(0x531, 0x556)) return cp + 48;
  if (in(0x10A0, 0x10C5)) return cp - 0x10A0 + 0x2D00;
  if ((in(0x1E00, 0x1E95) || in(0x1EA0, 0x1EFF)) && even) return cp + 1;
  if (cp == 0x1E9E) return 0xDF;
  if (in(0x2160, 0x216F)) return cp + 16;
  if (in(0x24B6, 0x24CF)) return cp + 26;
  if (in(0xFF21, 0xFF3A)) return cp + 32;
  return cp;
}

// Simple upper-case mapping, the inverse of simple_lower plus a few
// lower-case letters whose upper case lies elsewhere; `cp` when none.
uint32_t simple_upper(uint32_t cp) {
  const auto in = [cp](uint32_t lo, uint32_t hi) { return cp >= lo && cp <= hi; };
  const bool even = (cp & 1) == 0;
  if (in(0x61, 0x7A)) return cp - 32;
  if (cp < 0xB5) return cp;
  if (cp == 0xB5) return 0x39C;
  if (in(0xE0, 0xFE) && cp != 0xF7) return cp - 32;
  if (cp == 0xFF) return 0x178;
  if (cp == 0x131) return 0x49;
  if (cp == 0x17F) return 0x53;
  if ((in(0x101, 0x12F) || in(0x133, 0x137) || in(0x14B, 0x177)) && !even) return cp - 1;
  if ((in(0x13A, 0x148) || in(0x17A, 0x17E)) && even) return cp - 1;
  if ((in(0x1CE, 0x1DC) && even) || ((in(0x1DF, 0x1EF) || in(0x1F9, 0x21F)) && !even) ||
      (in(0x223, 0x233) && !even)) {
    return cp - 1;
  }
  if (cp == 0x3AC) return 0x386;
  if (in(0x3AD, 0x3AF)) return cp - 37;
  if (cp == 0x3CC) return 0x38C;
  if (in(0x3CD, 0x3CE)) return cp - 63;
  if (cp == 0x3C2) return 0x3A3;  // final sigma
  if (in(0x3B1, 0x3C1) || in(0x3C3, 0x3CB)) return cp - 32;
  if (in(0x3D9, 0x3EF) && !even) return cp - 1;
  if (in(0x450, 0x45F)) return cp - 80;
  if (in(0x430, 0x44F)) return cp - 32;
  if ((in(0x461, 0x481) || in(0x48B, 0x4BF) || in(0x4D1, 0x52F)) && !even) return cp - 1;
  if (cp == 0x4CF) return 0x4C0;
  if (in(0x4C2, 0x4CE) && even) return cp - 1;
  if (in(0x561, 0x586)) return cp - 48;
  if (in(0x2D00, 0x2D25)) return cp - 0x2D00 + 0x10A0;
  if ((in(0x1E01, 0x1E95) || in(0x1EA1, 0x1EFF)) && !even) return cp - 1;
  if (in(0x2170, 0x217F)) return cp - 16;
  if (in(0x24D0, 0x24E9)) return cp - 26;
  if (in(0xFF41, 0xFF5A)) return cp - 32;
  return cp;
}

}  // namespace

uint32_t decode_utf8(std::string_view text, size_t i, size_t& len) {
  return decode_at(text, i, len);
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string to_valid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const size_t bad = find_invalid_utf8(text);
    if (bad == std::string_view::npos) {
      out += text;
      break;
    }
    out += text.substr(0, bad);
    out += "\xEF\xBF\xBD";  // U+FFFD
    text.remove_prefix(bad + 1);
  }
  return out;
}

bool is_python_space(uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
         cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
         cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

std::string python_lower(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t len;
    const uint32_t cp = decode_at(text, i, len);
    if (cp < 0x80) {
      out += static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
    } else if (cp == 0x130) {
      out += "i\xCC\x87";  // U+0130 -> "i" + U+0307 COMBINING DOT ABOVE
    } else {
      const uint32_t lower = simple_lower(cp);
      if (lower == cp) {
        out += text.substr(i, len);
      } else {
        append_utf8(out, lower);
      }
    }
    i += len;
  }
  return out;
}

std::string python_upper(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t len;
    const uint32_t cp = decode_at(text, i, len);
    if (cp < 0x80) {
      out += static_cast<char>(cp >= 'a' && cp <= 'z' ? cp - 32 : cp);
    } else if (cp == 0xDF) {
      out += "SS";
    } else if (const uint32_t upper = simple_upper(cp); upper != cp) {
      append_utf8(out, upper);
    } else {
      out += text.substr(i, len);
    }
    i += len;
  }
  return out;
}

std::string python_capitalize(std::string_view text) {
  if (text.empty()) return {};
  size_t len;
  const uint32_t first = decode_at(text, 0, len);
  std::string out;
  if (first == 0xDF) {
    out = "Ss";
  } else if (const uint32_t upper = simple_upper(first); upper != first) {
    append_utf8(out, upper);
  } else {
    out.assign(text.substr(0, len));
  }
  out += python_lower(text.substr(len));
  return out;
}

size_t count_python_words(std::string_view text) {
  size_t runs = 0;
  bool in_space = false;
  for (size_t i = 0; i < text.size();) {
    size_t len;
    const bool space = is_python_space(decode_at(text, i, len));
    if (space && !in_space) ++runs;
    in_space = space;
    i += len;
  }
  return runs + 1;
}

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (;;) {
    const size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) break;
    out += text.substr(pos, hit - pos);
    out += to;
    pos = hit + from.size();
  }
  out += text.substr(pos);
  return out;
}

size_t find_invalid_utf8(std::string_view text) {
  const size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t min;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      min = 0x10000;
    } else {
      return i;
    }
    if (i + len > n) return i;
    for (size_t k = 1; k < len; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return i;
    }
    size_t decoded_len;
    const uint32_t cp = decode_at(text, i, decoded_len);
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += len;
  }
  return std::string_view::npos;
}

size_t count_code_points(std::string_view text) {
  size_t count = 0;
  for (const char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
  return count;
}

std::string_view python_strip(std::string_view text) {
  size_t begin = 0;
  while (begin < text.size()) {
    size_t len;
    if (!is_python_space(decode_at(text, begin, len))) break;
    begin += len;
  }
  size_t end = text.size();
  while (end > begin) {
    size_t start = end - 1;  // back up to the lead byte of the last code point
    while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    size_t len;
    if (!is_python_space(decode_at(text, start, len))) break;
    end = start;
  }
  return text.substr(begin, end - begin);
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string closest_match(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const auto& candidate : candidates) {
    const size_t d = edit_distance(name, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  const size_t allowed = std::max<size_t>(2, name.size() / 3);
  if (!best.empty() && best_distance <= allowed) return best;
  if (name.size() >= 3) {
    for (const auto& candidate : candidates) {
      if (candidate.find(name) != std::string::npos) return candidate;
    }
  }
  return "";
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

}  // namespace compass::plugin_support
