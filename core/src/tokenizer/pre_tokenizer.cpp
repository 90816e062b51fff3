#include "tokenizer/pre_tokenizer.h"

#include <algorithm>
#include <vector>

#include "tokenizer/byte_level.h"
#include "tokenizer/regex.h"
#include "tokenizer/utf8.h"

namespace compass::hf {
namespace {

// GPT-2's pre-tokenizer regex, used by ByteLevel when use_regex is true.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

enum class Behavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

struct Part {
  size_t begin, end;
  bool is_match;
};

// The reference library's NormalizedString::split: the matches and the text
// between them, combined according to `behavior`; removed parts are dropped.
void SplitByMatches(std::string_view text, const std::vector<Regex::Range>& matches, bool invert,
                    Behavior behavior, bool at_start, PieceSink sink) {
  std::vector<Part> parts;
  parts.reserve(matches.size() * 2 + 1);
  size_t prev = 0;
  for (const auto& [b, e] : matches) {
    if (prev != b) parts.push_back({prev, b, invert});
    parts.push_back({b, e, !invert});
    prev = e;
  }
  if (prev != text.size()) parts.push_back({prev, text.size(), invert});

  std::vector<Part> out;
  out.reserve(parts.size());
  switch (behavior) {
    case Behavior::kIsolated:
      out = std::move(parts);
      for (Part& p : out) p.is_match = false;
      break;
    case Behavior::kRemoved:
      for (const Part& p : parts) {
        if (!p.is_match) out.push_back(p);
      }
      break;
    case Behavior::kContiguous: {
      bool previous = false;
      for (const Part& p : parts) {
        if (p.is_match == previous && !out.empty()) {
          out.back().end = p.end;
        } else {
          out.push_back({p.begin, p.end, false});
        }
        previous = p.is_match;
      }
      break;
    }
    case Behavior::kMergedWithPrevious: {
      bool previous = false;
      for (const Part& p : parts) {
        if (p.is_match && !previous && !out.empty()) {
          out.back().end = p.end;
        } else {
          out.push_back({p.begin, p.end, false});
        }
        previous = p.is_match;
      }
      break;
    }
    case Behavior::kMergedWithNext: {
      bool previous = false;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->is_match && !previous && !out.empty()) {
          out.back().begin = it->begin;
        } else {
          out.push_back({it->begin, it->end, false});
        }
        previous = it->is_match;
      }
      std::reverse(out.begin(), out.end());
      break;
    }
  }
  for (const Part& p : out) {
    if (p.end > p.begin) sink(text.substr(p.begin, p.end - p.begin), at_start && p.begin == 0);
  }
}

class ByteLevelPreTokenizer : public PreTokenizer {
 public:
  ByteLevelPreTokenizer(bool add_prefix_space, std::unique_ptr<Regex> regex)
      : add_prefix_space_(add_prefix_space), regex_(std::move(regex)) {}

  void Split(std::string_view text, bool at_start, PieceSink sink) const override {
    std::string prefixed;
    if (add_prefix_space_ && text.front() != ' ') {
      prefixed = " " + std::string(text);
      text = prefixed;
    }
    auto emit = [&](std::string_view piece, bool start) {
      if (defer_mapping_) {
        sink(piece, start);
      } else {
        sink(ToByteLevel(piece), start);
      }
    };
    if (regex_ == nullptr) {
      emit(text, at_start);
      return;
    }
    std::vector<Regex::Range> matches;
    regex_->FindAll(text, &matches);
    SplitByMatches(text, matches, false, Behavior::kIsolated, at_start, emit);
  }

  bool DeferByteMapping() override {
    defer_mapping_ = true;
    return true;
  }

 private:
  bool add_prefix_space_;
  std::unique_ptr<Regex> regex_;  // null when use_regex is false
  bool defer_mapping_ = false;
};

class SplitPreTokenizer : public PreTokenizer {
 public:
  SplitPreTokenizer(std::unique_ptr<Regex> regex, Behavior behavior, bool invert)
      : regex_(std::move(regex)), behavior_(behavior), invert_(invert) {}

  void Split(std::string_view text, bool at_start, PieceSink sink) const override {
    std::vector<Regex::Range> matches;
    regex_->FindAll(text, &matches);
    SplitByMatches(text, matches, invert_, behavior_, at_start, sink);
  }

 private:
  std::unique_ptr<Regex> regex_;
  Behavior behavior_;
  bool invert_;
};

enum class PrependScheme { kAlways, kFirst, kNever };

class MetaspacePreTokenizer : public PreTokenizer {
 public:
  MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
      : replacement_(std::move(replacement)), scheme_(scheme), split_(split) {}

  void Split(std::string_view text, bool at_start, PieceSink sink) const override {
    std::string s;
    s.reserve(text.size() + 8);
    for (char c : text) {
      if (c == ' ') {
        s += replacement_;
      } else {
        s += c;
      }
    }
    const bool starts_with_replacement = s.compare(0, replacement_.size(), replacement_) == 0;
    if (!starts_with_replacement &&
        (scheme_ == PrependScheme::kAlways || (scheme_ == PrependScheme::kFirst && at_start))) {
      s.insert(0, replacement_);
    }
    if (!split_) {
      sink(s, at_start);
      return;
    }
    // Every replacement character starts a new piece (MergedWithNext).
    size_t begin = 0;
    for (size_t pos = s.find(replacement_, 1); pos != std::string::npos;
         pos = s.find(replacement_, pos + 1)) {
      sink(std::string_view(s).substr(begin, pos - begin), at_start && begin == 0);
      begin = pos;
    }
    sink(std::string_view(s).substr(begin), at_start && begin == 0);
  }

 private:
  std::string replacement_;
  PrependScheme scheme_;
  bool split_;
};

class SequencePreTokenizer : public PreTokenizer {
 public:
  explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
      : steps_(std::move(steps)) {}

  void Split(std::string_view text, bool at_start, PieceSink sink) const override {
    Run(0, text, at_start, sink);
  }

  bool DeferByteMapping() override { return !steps_.empty() && steps_.back()->DeferByteMapping(); }

 private:
  void Run(size_t step, std::string_view text, bool at_start, PieceSink sink) const {
    if (step == steps_.size()) {
      sink(text, at_start);
      return;
    }
    auto next = [&](std::string_view piece, bool start) {
      if (!piece.empty()) Run(step + 1, piece, start, sink);
    };
    steps_[step]->Split(text, at_start, next);
  }

  std::vector<std::unique_ptr<PreTokenizer>> steps_;
};

StatusOr<Behavior> ParseBehavior(const Json& j, const std::string& where) {
  COMPASS_ASSIGN_OR_RETURN(const std::string name, RequiredString(j, "behavior", where));
  if (name == "Removed") return Behavior::kRemoved;
  if (name == "Isolated") return Behavior::kIsolated;
  if (name == "MergedWithPrevious") return Behavior::kMergedWithPrevious;
  if (name == "MergedWithNext") return Behavior::kMergedWithNext;
  if (name == "Contiguous") return Behavior::kContiguous;
  return FieldError(KeyPath(where, "behavior"),
                    "unknown behavior '" + name +
                        "'; allowed: Removed, Isolated, MergedWithPrevious, MergedWithNext, "
                        "Contiguous");
}

StatusOr<std::unique_ptr<PreTokenizer>> MetaspaceFromJson(const Json& j, const std::string& where) {
  COMPASS_ASSIGN_OR_RETURN(std::string replacement, StringField(j, "replacement", where, "\u2581"));
  size_t i = 0;
  if (replacement.empty() || !IsValidUtf8(replacement) ||
      (NextCodePoint(replacement, &i), i != replacement.size())) {
    return FieldError(KeyPath(where, "replacement"), "expected a single character");
  }
  PrependScheme scheme = PrependScheme::kAlways;
  if (FindField(j, "prepend_scheme") != nullptr) {
    COMPASS_ASSIGN_OR_RETURN(const std::string name, StringField(j, "prepend_scheme", where, ""));
    if (name == "always") {
      scheme = PrependScheme::kAlways;
    } else if (name == "first") {
      scheme = PrependScheme::kFirst;
    } else if (name == "never") {
      scheme = PrependScheme::kNever;
    } else {
      return FieldError(KeyPath(where, "prepend_scheme"),
                        "unknown scheme '" + name + "'; allowed: always, first, never");
    }
  } else {
    // Files written before prepend_scheme existed say add_prefix_space.
    COMPASS_ASSIGN_OR_RETURN(const bool add, BoolField(j, "add_prefix_space", where, true));
    scheme = add ? PrependScheme::kAlways : PrependScheme::kNever;
  }
  COMPASS_ASSIGN_OR_RETURN(const bool split, BoolField(j, "split", where, true));
  return std::unique_ptr<PreTokenizer>(
      new MetaspacePreTokenizer(std::move(replacement), scheme, split));
}

}  // namespace

StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizerFromJson(const Json& j,
                                                             const std::string& where) {
  COMPASS_ASSIGN_OR_RETURN(const std::string type, TypeOf(j, where));
  if (type == "Sequence") {
    const Json* list = FindField(j, "pretokenizers");
    if (list == nullptr || !list->is_array()) {
      return FieldError(KeyPath(where, "pretokenizers"), "expected a list");
    }
    std::vector<std::unique_ptr<PreTokenizer>> steps;
    for (size_t i = 0; i < list->size(); ++i) {
      COMPASS_ASSIGN_OR_RETURN(
          auto step,
          PreTokenizerFromJson((*list)[i], IndexPath(KeyPath(where, "pretokenizers"), i)));
      steps.push_back(std::move(step));
    }
    return std::unique_ptr<PreTokenizer>(new SequencePreTokenizer(std::move(steps)));
  }
  if (type == "ByteLevel") {
    COMPASS_ASSIGN_OR_RETURN(const bool add_prefix_space,
                             BoolField(j, "add_prefix_space", where, true));
    COMPASS_ASSIGN_OR_RETURN(const bool use_regex, BoolField(j, "use_regex", where, true));
    std::unique_ptr<Regex> regex;
    if (use_regex) {
      COMPASS_ASSIGN_OR_RETURN(regex, Regex::Compile(kGpt2Pattern));
    }
    return std::unique_ptr<PreTokenizer>(
        new ByteLevelPreTokenizer(add_prefix_space, std::move(regex)));
  }
  if (type == "Split") {
    COMPASS_ASSIGN_OR_RETURN(const PatternSpec pattern, PatternField(j, "pattern", where));
    auto regex = pattern.is_regex ? Regex::Compile(pattern.text) : Regex::Literal(pattern.text);
    if (!regex.ok()) return regex.status().WithContext(KeyPath(where, "pattern"));
    COMPASS_ASSIGN_OR_RETURN(const Behavior behavior, ParseBehavior(j, where));
    COMPASS_ASSIGN_OR_RETURN(const bool invert, BoolField(j, "invert", where, false));
    return std::unique_ptr<PreTokenizer>(
        new SplitPreTokenizer(std::move(regex).value(), behavior, invert));
  }
  if (type == "Digits") {
    // Every numeric character (Rust's char::is_numeric: Nd, Nl, No) on its
    // own, or runs of them together.
    COMPASS_ASSIGN_OR_RETURN(const bool individual,
                             BoolField(j, "individual_digits", where, false));
    COMPASS_ASSIGN_OR_RETURN(auto regex, Regex::Compile(R"(\p{N})"));
    return std::unique_ptr<PreTokenizer>(new SplitPreTokenizer(
        std::move(regex), individual ? Behavior::kIsolated : Behavior::kContiguous, false));
  }
  if (type == "Metaspace") return MetaspaceFromJson(j, where);
  return FieldError(KeyPath(where, "type"), "pre-tokenizer type '" + type +
                                                "' is not supported; supported: ByteLevel, "
                                                "Split, Digits, Metaspace, Sequence");
}

}  // namespace compass::hf
