#include "tokenizer/replace_pattern.h"

#include <vector>

namespace compass::hf {

StatusOr<ReplacePattern> ReplacePattern::Create(const PatternSpec& pattern, std::string content) {
  ReplacePattern r;
  r.content_ = std::move(content);
  if (pattern.is_regex) {
    COMPASS_ASSIGN_OR_RETURN(auto regex, Regex::Compile(pattern.text));
    r.regex_ = std::move(regex);
  } else {
    r.literal_ = pattern.text;
  }
  return r;
}

std::string ReplacePattern::Apply(std::string_view text) const {
  std::string out;
  out.reserve(text.size() + 8);
  if (regex_ == nullptr) {
    // An empty string pattern matches nothing.
    if (literal_.empty()) return std::string(text);
    size_t last = 0;
    for (size_t pos = text.find(literal_); pos != std::string_view::npos;
         pos = text.find(literal_, last)) {
      out.append(text.substr(last, pos - last));
      out += content_;
      last = pos + literal_.size();
    }
    out.append(text.substr(last));
    return out;
  }
  std::vector<Regex::Range> matches;
  regex_->FindAll(text, &matches);
  size_t last = 0;
  for (const auto& [b, e] : matches) {
    out.append(text.substr(last, b - last));
    out += content_;
    last = e;
  }
  out.append(text.substr(last));
  return out;
}

}  // namespace compass::hf
