#include "python_str.h"

#include "compass/plugin_support/text.h"

#include <algorithm>
#include <stdexcept>

namespace compass::jinja::py {

namespace {

using plugin_support::is_python_space;

// Python's slice-index clamping of an optional bound.
int64_t clamp(std::optional<int64_t> index, int64_t length, int64_t fallback) {
  if (!index) return fallback;
  int64_t i = *index;
  if (i < 0) i += length;
  return std::clamp<int64_t>(i, 0, length);
}

}  // namespace

std::u32string decode(std::string_view text) {
  std::u32string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    out += static_cast<char32_t>(plugin_support::decode_utf8(text, i, len));
    i += len;
  }
  return out;
}

std::string encode(std::u32string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char32_t cp : text) plugin_support::append_utf8(out, static_cast<uint32_t>(cp));
  return out;
}

int64_t length(std::string_view text) {
  return static_cast<int64_t>(plugin_support::count_code_points(text));
}

std::string strip(std::string_view text, const std::optional<std::string>& chars, bool left,
                  bool right) {
  const std::u32string s = decode(text);
  const std::u32string set = chars ? decode(*chars) : std::u32string();
  const auto strips = [&](char32_t c) {
    return chars ? set.find(c) != std::u32string::npos : is_python_space(c);
  };
  size_t begin = 0, end = s.size();
  if (left) {
    while (begin < end && strips(s[begin])) ++begin;
  }
  if (right) {
    while (end > begin && strips(s[end - 1])) --end;
  }
  return encode(std::u32string_view(s).substr(begin, end - begin));
}

std::vector<std::string> split(std::string_view text, const std::optional<std::string>& sep,
                               int64_t maxsplit) {
  std::vector<std::string> out;
  if (sep) {
    if (sep->empty()) throw std::invalid_argument("empty separator");
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(out.size()) < maxsplit) {
      const size_t at = text.find(*sep, start);
      if (at == std::string_view::npos) break;
      out.emplace_back(text.substr(start, at - start));
      start = at + sep->size();
    }
    out.emplace_back(text.substr(start));
    return out;
  }
  const std::u32string s = decode(text);
  size_t i = 0;
  while (true) {
    while (i < s.size() && is_python_space(s[i])) ++i;
    if (i == s.size()) break;
    if (maxsplit >= 0 && static_cast<int64_t>(out.size()) == maxsplit) {
      // The rest, leading whitespace removed and trailing whitespace kept.
      out.push_back(encode(std::u32string_view(s).substr(i)));
      break;
    }
    size_t end = i;
    while (end < s.size() && !is_python_space(s[end])) ++end;
    out.push_back(encode(std::u32string_view(s).substr(i, end - i)));
    i = end;
  }
  return out;
}

std::string replace(std::string_view text, std::string_view old_text, std::string_view new_text,
                    int64_t count) {
  std::string out;
  int64_t done = 0;
  if (old_text.empty()) {
    // "ab".replace("", "-") is "-a-b-": before every code point and at the end.
    const std::u32string s = decode(text);
    for (const char32_t c : s) {
      if (count < 0 || done < count) {
        out += new_text;
        ++done;
      }
      plugin_support::append_utf8(out, static_cast<uint32_t>(c));
    }
    if (count < 0 || done < count) out += new_text;
    return out;
  }
  size_t start = 0;
  while (count < 0 || done < count) {
    const size_t at = text.find(old_text, start);
    if (at == std::string_view::npos) break;
    out.append(text.substr(start, at - start));
    out.append(new_text);
    start = at + old_text.size();
    ++done;
  }
  out.append(text.substr(start));
  return out;
}

int64_t find(std::string_view text, std::string_view sub, std::optional<int64_t> start,
             std::optional<int64_t> end, bool reverse) {
  const std::u32string s = decode(text), needle = decode(sub);
  const int64_t n = static_cast<int64_t>(s.size());
  const int64_t b = clamp(start, n, 0), e = clamp(end, n, n);
  if (e - b < static_cast<int64_t>(needle.size())) return -1;
  const std::u32string_view window =
      std::u32string_view(s).substr(static_cast<size_t>(b), static_cast<size_t>(e - b));
  const size_t at = reverse ? window.rfind(needle) : window.find(needle);
  return at == std::u32string_view::npos ? -1 : b + static_cast<int64_t>(at);
}

int64_t count(std::string_view text, std::string_view sub) {
  if (sub.empty()) return length(text) + 1;
  int64_t n = 0;
  for (size_t at = text.find(sub); at != std::string_view::npos;
       at = text.find(sub, at + sub.size())) {
    ++n;
  }
  return n;
}

std::string substr(std::string_view text, int64_t begin, int64_t end) {
  const std::u32string s = decode(text);
  const int64_t n = static_cast<int64_t>(s.size());
  begin = std::clamp<int64_t>(begin, 0, n);
  end = std::clamp<int64_t>(end, begin, n);
  return encode(
      std::u32string_view(s).substr(static_cast<size_t>(begin), static_cast<size_t>(end - begin)));
}

}  // namespace compass::jinja::py
