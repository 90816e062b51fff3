// Replacing every match of a tokenizer.json pattern ({"String": ...} or
// {"Regex": ...}), shared by the Replace normalizer and the Replace decoder.
#ifndef COMPASS_TOKENIZER_REPLACE_PATTERN_H_
#define COMPASS_TOKENIZER_REPLACE_PATTERN_H_

#include <memory>
#include <string>
#include <string_view>

#include "tokenizer/json_fields.h"
#include "tokenizer/regex.h"
#include "util/status.h"

namespace compass::hf {

class ReplacePattern {
 public:
  static StatusOr<ReplacePattern> Create(const PatternSpec& pattern, std::string content);
  // `text` with every non-overlapping match, left to right, replaced.
  std::string Apply(std::string_view text) const;

 private:
  std::string literal_;           // when the pattern is a string
  std::shared_ptr<Regex> regex_;  // when it is a regex
  std::string content_;
};

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_REPLACE_PATTERN_H_
