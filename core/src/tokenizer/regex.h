// Regular expressions of tokenizer.json files (written for Oniguruma), run
// with PCRE2 in UTF + UCP mode with JIT.
//
// Threading: matching is const and safe to call concurrently.
#ifndef COMPASS_TOKENIZER_REGEX_H_
#define COMPASS_TOKENIZER_REGEX_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace compass::hf {

class Regex {
 public:
  using Range = std::pair<size_t, size_t>;  // [begin, end) in bytes

  // `pattern` in the reference library's syntax. \s and \S mean Unicode
  // White_Space (and its complement), as they do there.
  static StatusOr<std::unique_ptr<Regex>> Compile(std::string_view pattern);
  // A pattern matching `literal` exactly.
  static StatusOr<std::unique_ptr<Regex>> Literal(std::string_view literal);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // The non-overlapping matches in `text` (valid UTF-8), left to right,
  // appended to `out`. An empty match is kept and the search resumes one
  // character further.
  void FindAll(std::string_view text, std::vector<Range>* out) const;

  // Whether the pattern matches somewhere in `text`.
  bool Search(std::string_view text) const;

 private:
  explicit Regex(void* code) : code_(code) {}
  static StatusOr<std::unique_ptr<Regex>> CompilePcre2(const std::string& pattern,
                                                       std::string_view original, uint32_t options);
  void* code_;  // pcre2_code*
};

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_REGEX_H_
