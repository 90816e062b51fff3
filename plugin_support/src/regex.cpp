#include "compass/plugin_support/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <compass/plugin.hpp>

#include "compass/plugin_support/text.h"

namespace compass::plugin_support {

namespace {

pcre2_code* code_of(void* p) {
  return static_cast<pcre2_code*>(p);
}

std::string error_text(int code) {
  PCRE2_UCHAR buffer[256];
  const int n = pcre2_get_error_message(code, buffer, sizeof(buffer));
  return n < 0 ? "error " + std::to_string(code)
               : std::string(reinterpret_cast<const char*>(buffer), static_cast<size_t>(n));
}

}  // namespace

Regex::Regex(std::string_view pattern) : pattern_(pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern_.data()), pattern_.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (code == nullptr) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT, "invalid regular expression '" + pattern_ +
                                                   "': " + error_text(error) + " at offset " +
                                                   std::to_string(offset));
  }
  code_ = code;
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &groups_);
}

Regex::~Regex() {
  if (code_ != nullptr) pcre2_code_free(code_of(code_));
}

Regex::Regex(Regex&& other) noexcept
    : pattern_(std::move(other.pattern_)), code_(other.code_), groups_(other.groups_) {
  other.code_ = nullptr;
}

Regex& Regex::operator=(Regex&& other) noexcept {
  if (this != &other) {
    if (code_ != nullptr) pcre2_code_free(code_of(code_));
    pattern_ = std::move(other.pattern_);
    code_ = other.code_;
    groups_ = other.groups_;
    other.code_ = nullptr;
  }
  return *this;
}

std::vector<Regex::Match> Regex::matches(std::string_view text) const {
  std::vector<Match> out;
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(code_of(code_), nullptr);
  if (data == nullptr) throw sdk::Error(COMPASS_OUT_OF_MEMORY, "regex: out of memory");
  const auto subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  bool last_empty = false;
  while (start <= text.size()) {
    const int rc = pcre2_match(code_of(code_), subject, text.size(), start,
                               last_empty ? PCRE2_NOTEMPTY_ATSTART : 0, data, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(data);
      throw sdk::Error(COMPASS_INTERNAL,
                       "regular expression '" + pattern_ + "' failed: " + error_text(rc));
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data);
    Match m{ov[0], ov[1], {}};
    const auto group = [&](uint32_t g) -> std::string {
      if (static_cast<int>(g) >= rc || ov[2 * g] == PCRE2_UNSET) return "";
      return std::string(text.substr(ov[2 * g], ov[2 * g + 1] - ov[2 * g]));
    };
    if (groups_ == 0) {
      m.groups.push_back(group(0));
    } else {
      for (uint32_t g = 1; g <= groups_; ++g) m.groups.push_back(group(g));
    }
    last_empty = m.start == m.end;
    start = m.end;
    out.push_back(std::move(m));
  }
  pcre2_match_data_free(data);
  return out;
}

std::string Regex::replace(std::string_view raw, std::string_view replacement, size_t count) const {
  const std::string text = plugin_support::to_valid_utf8(raw);
  std::string out;
  size_t pos = 0, done = 0;
  for (const Match& m : matches(text)) {
    if (count > 0 && done++ == count) break;
    out.append(text, pos, m.start - pos);
    out += replacement;
    pos = m.end;
  }
  out.append(text, pos, std::string::npos);
  return out;
}

std::vector<std::vector<std::string>> Regex::find_all(std::string_view raw) const {
  const std::string text = plugin_support::to_valid_utf8(raw);
  std::vector<std::vector<std::string>> out;
  for (Match& m : matches(text)) out.push_back(std::move(m.groups));
  return out;
}

}  // namespace compass::plugin_support
