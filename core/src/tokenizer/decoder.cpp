#include "tokenizer/decoder.h"

#include <charconv>

#include "tokenizer/byte_level.h"
#include "tokenizer/replace_pattern.h"
#include "tokenizer/utf8.h"

namespace compass::hf {
namespace {

class SequenceDecoder : public Decoder {
 public:
  explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
      : steps_(std::move(steps)) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (const auto& step : steps_) step->DecodeChain(tokens);
  }

 private:
  std::vector<std::unique_ptr<Decoder>> steps_;
};

// Each token back to its bytes (a token with characters outside the
// byte-level alphabet, such as an added token, is kept as it is), then all of
// them as one string, invalid UTF-8 replaced.
class ByteLevelDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::string bytes;
    for (const std::string& t : *tokens) {
      if (auto raw = FromByteLevel(t)) {
        bytes += *raw;
      } else {
        bytes += t;
      }
    }
    tokens->assign(1, ToValidUtf8Lossy(bytes));
  }
};

class ReplaceDecoder : public Decoder {
 public:
  explicit ReplaceDecoder(ReplacePattern pattern) : pattern_(std::move(pattern)) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (std::string& t : *tokens) t = pattern_.Apply(t);
  }

 private:
  ReplacePattern pattern_;
};

// Runs of "<0xNN>" tokens become the text of those bytes, or one U+FFFD per
// byte when they are not valid UTF-8.
class ByteFallbackDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::vector<std::string> out;
    out.reserve(tokens->size());
    std::string bytes;
    auto flush = [&] {
      if (bytes.empty()) return;
      if (IsValidUtf8(bytes)) {
        out.push_back(bytes);
      } else {
        for (size_t i = 0; i < bytes.size(); ++i) out.emplace_back("\xEF\xBF\xBD");
      }
      bytes.clear();
    };
    for (std::string& t : *tokens) {
      int value = -1;
      if (ByteToken(t, &value)) {
        bytes.push_back(static_cast<char>(value));
        continue;
      }
      flush();
      out.push_back(std::move(t));
    }
    flush();
    *tokens = std::move(out);
  }

 private:
  // "<0xNN>" with two hex digits (either case, or a sign, as Rust's
  // u8::from_str_radix accepts).
  static bool ByteToken(const std::string& t, int* value) {
    if (t.size() != 6 || t.compare(0, 3, "<0x") != 0 || t[5] != '>') return false;
    const char* begin = t.data() + 3;
    if (*begin == '+') {
      ++begin;
      if (begin == t.data() + 5) return false;
    }
    unsigned v = 0;
    const auto [ptr, ec] = std::from_chars(begin, t.data() + 5, v, 16);
    if (ec != std::errc() || ptr != t.data() + 5 || v > 255) return false;
    *value = static_cast<int>(v);
    return true;
  }
};

class FuseDecoder : public Decoder {
 public:
  void DecodeChain(std::vector<std::string>* tokens) const override {
    std::string all;
    for (const std::string& t : *tokens) all += t;
    tokens->assign(1, std::move(all));
  }
};

// Removes up to `start` leading and `stop` trailing `content` characters from
// each token.
class StripDecoder : public Decoder {
 public:
  StripDecoder(char32_t content, size_t start, size_t stop)
      : content_(content), start_(start), stop_(stop) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (std::string& t : *tokens) {
      std::vector<size_t> offsets;  // byte offset of each character, and the end
      std::vector<char32_t> chars;
      for (size_t i = 0; i < t.size();) {
        offsets.push_back(i);
        chars.push_back(NextCodePoint(t, &i));
      }
      offsets.push_back(t.size());
      size_t begin = 0;
      while (begin < start_ && begin < chars.size() && chars[begin] == content_) ++begin;
      size_t end = chars.size();
      for (size_t k = 0; k < stop_ && end > 0 && chars[end - 1] == content_; ++k) --end;
      if (end < begin) end = begin;
      t = t.substr(offsets[begin], offsets[end] - offsets[begin]);
    }
  }

 private:
  char32_t content_;
  size_t start_, stop_;
};

// Replacement characters become spaces, except in the first token, where
// they are dropped (unless nothing was prepended when encoding).
class MetaspaceDecoder : public Decoder {
 public:
  MetaspaceDecoder(std::string replacement, bool drop_in_first)
      : replacement_(std::move(replacement)), drop_in_first_(drop_in_first) {}
  void DecodeChain(std::vector<std::string>* tokens) const override {
    for (size_t i = 0; i < tokens->size(); ++i) {
      const std::string& t = (*tokens)[i];
      std::string out;
      out.reserve(t.size());
      for (size_t pos = 0; pos < t.size();) {
        if (t.compare(pos, replacement_.size(), replacement_) == 0) {
          if (!(i == 0 && drop_in_first_)) out += ' ';
          pos += replacement_.size();
        } else {
          out += t[pos++];
        }
      }
      (*tokens)[i] = std::move(out);
    }
  }

 private:
  std::string replacement_;
  bool drop_in_first_;
};

StatusOr<char32_t> SingleChar(const Json& j, std::string_view key, const std::string& where,
                              std::string_view fallback) {
  COMPASS_ASSIGN_OR_RETURN(const std::string s, StringField(j, key, where, fallback));
  size_t i = 0;
  if (s.empty() || !IsValidUtf8(s))
    return FieldError(KeyPath(where, key), "expected one character");
  const char32_t c = NextCodePoint(s, &i);
  if (i != s.size()) return FieldError(KeyPath(where, key), "expected one character");
  return c;
}

StatusOr<size_t> Count(const Json& j, std::string_view key, const std::string& where) {
  const Json* v = FindField(j, key);
  if (v == nullptr) return size_t{0};
  if (!v->is_number_unsigned()) return FieldError(KeyPath(where, key), "expected a count");
  return v->get<size_t>();
}

}  // namespace

StatusOr<std::unique_ptr<Decoder>> DecoderFromJson(const Json& j, const std::string& where) {
  COMPASS_ASSIGN_OR_RETURN(const std::string type, TypeOf(j, where));
  if (type == "Sequence") {
    const Json* list = FindField(j, "decoders");
    if (list == nullptr || !list->is_array()) {
      return FieldError(KeyPath(where, "decoders"), "expected a list");
    }
    std::vector<std::unique_ptr<Decoder>> steps;
    for (size_t i = 0; i < list->size(); ++i) {
      COMPASS_ASSIGN_OR_RETURN(
          auto step, DecoderFromJson((*list)[i], IndexPath(KeyPath(where, "decoders"), i)));
      steps.push_back(std::move(step));
    }
    return std::unique_ptr<Decoder>(new SequenceDecoder(std::move(steps)));
  }
  if (type == "ByteLevel") return std::unique_ptr<Decoder>(new ByteLevelDecoder());
  if (type == "ByteFallback") return std::unique_ptr<Decoder>(new ByteFallbackDecoder());
  if (type == "Fuse") return std::unique_ptr<Decoder>(new FuseDecoder());
  if (type == "Replace") {
    COMPASS_ASSIGN_OR_RETURN(PatternSpec pattern, PatternField(j, "pattern", where));
    COMPASS_ASSIGN_OR_RETURN(std::string content, RequiredString(j, "content", where));
    auto replace = ReplacePattern::Create(pattern, std::move(content));
    if (!replace.ok()) return replace.status().WithContext(KeyPath(where, "pattern"));
    return std::unique_ptr<Decoder>(new ReplaceDecoder(std::move(replace).value()));
  }
  if (type == "Strip") {
    COMPASS_ASSIGN_OR_RETURN(const char32_t content, SingleChar(j, "content", where, " "));
    COMPASS_ASSIGN_OR_RETURN(const size_t start, Count(j, "start", where));
    COMPASS_ASSIGN_OR_RETURN(const size_t stop, Count(j, "stop", where));
    return std::unique_ptr<Decoder>(new StripDecoder(content, start, stop));
  }
  if (type == "Metaspace") {
    COMPASS_ASSIGN_OR_RETURN(const char32_t replacement,
                             SingleChar(j, "replacement", where, "\u2581"));
    std::string rep;
    AppendUtf8(replacement, &rep);
    bool drop_in_first = true;
    if (FindField(j, "prepend_scheme") != nullptr) {
      COMPASS_ASSIGN_OR_RETURN(const std::string scheme,
                               StringField(j, "prepend_scheme", where, ""));
      if (scheme != "always" && scheme != "first" && scheme != "never") {
        return FieldError(KeyPath(where, "prepend_scheme"),
                          "unknown scheme '" + scheme + "'; allowed: always, first, never");
      }
      drop_in_first = scheme != "never";
    } else {
      COMPASS_ASSIGN_OR_RETURN(drop_in_first, BoolField(j, "add_prefix_space", where, true));
    }
    return std::unique_ptr<Decoder>(new MetaspaceDecoder(std::move(rep), drop_in_first));
  }
  return FieldError(KeyPath(where, "type"),
                    "decoder type '" + type +
                        "' is not supported; supported: ByteLevel, Replace, ByteFallback, Fuse, "
                        "Strip, Metaspace, Sequence");
}

}  // namespace compass::hf
