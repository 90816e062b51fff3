// Python `re` semantics on top of PCRE2 (UTF and Unicode properties on, so
// \d, \w and \s are Unicode-aware as in Python 3), for scorers and for the
// templates' regex_replace.
//
// Iteration follows Python 3.7+: after an empty match the next match may not
// be empty at the same position (PCRE2_NOTEMPTY_ATSTART), and an empty match
// right after a non-empty one is allowed. Subjects are made valid UTF-8
// first (invalid bytes become U+FFFD). Known differences from Python's re:
// PCRE2 syntax (\Z means Python's \Z only before a final newline; write \z),
// no (?P=name) backreferences.
#ifndef COMPASS_PLUGIN_SUPPORT_REGEX_H_
#define COMPASS_PLUGIN_SUPPORT_REGEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace compass::plugin_support {

class Regex {
 public:
  // Throws sdk::Error COMPASS_INVALID_ARGUMENT "invalid regular expression
  // '<pattern>': <PCRE2 message> at offset N".
  explicit Regex(std::string_view pattern);
  ~Regex();
  Regex(Regex&&) noexcept;
  Regex& operator=(Regex&&) noexcept;
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  const std::string& pattern() const { return pattern_; }

  // re.sub(pattern, replacement, text, count) with a literal replacement;
  // count 0 replaces every match.
  std::string replace(std::string_view text, std::string_view replacement, size_t count) const;
  std::string replace_all(std::string_view text, std::string_view replacement = "") const {
    return replace(text, replacement, 0);
  }

  // re.findall(pattern, text): one entry per match; each entry holds the
  // whole match when the pattern has no group, else every group ("" for a
  // group that did not take part).
  std::vector<std::vector<std::string>> find_all(std::string_view text) const;

 private:
  struct Match {
    size_t start, end;
    std::vector<std::string> groups;
  };
  std::vector<Match> matches(std::string_view text) const;

  std::string pattern_;
  void* code_ = nullptr;  // pcre2_code_8*
  uint32_t groups_ = 0;
};

}  // namespace compass::plugin_support

#endif  // COMPASS_PLUGIN_SUPPORT_REGEX_H_
