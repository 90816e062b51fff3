#include "tokenizer/normalizer.h"

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <vector>

#include "tokenizer/replace_pattern.h"

namespace compass::hf {
namespace {

class SequenceNormalizer : public Normalizer {
 public:
  explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
      : steps_(std::move(steps)) {}
  void Normalize(std::string* text) const override {
    for (const auto& step : steps_) step->Normalize(text);
  }

 private:
  std::vector<std::unique_ptr<Normalizer>> steps_;
};

class PrependNormalizer : public Normalizer {
 public:
  explicit PrependNormalizer(std::string prefix) : prefix_(std::move(prefix)) {}
  void Normalize(std::string* text) const override {
    if (!text->empty()) text->insert(0, prefix_);
  }

 private:
  std::string prefix_;
};

class ReplaceNormalizer : public Normalizer {
 public:
  explicit ReplaceNormalizer(ReplacePattern pattern) : pattern_(std::move(pattern)) {}
  void Normalize(std::string* text) const override { *text = pattern_.Apply(*text); }

 private:
  ReplacePattern pattern_;
};

// UTF-8 <-> UTF-16 around an ICU call that maps UTF-16 to UTF-16.
template <typename Transform>
void ThroughUtf16(std::string* text, Transform&& transform) {
  if (text->empty()) return;
  UErrorCode err = U_ZERO_ERROR;
  int32_t n16 = 0;
  u_strFromUTF8(nullptr, 0, &n16, text->data(), static_cast<int32_t>(text->size()), &err);
  err = U_ZERO_ERROR;
  std::u16string in(static_cast<size_t>(n16), u'\0');
  u_strFromUTF8(in.data(), n16, nullptr, text->data(), static_cast<int32_t>(text->size()), &err);
  if (U_FAILURE(err)) return;  // the text is valid UTF-8 by contract
  std::u16string out = transform(in);
  int32_t n8 = 0;
  err = U_ZERO_ERROR;
  u_strToUTF8(nullptr, 0, &n8, out.data(), static_cast<int32_t>(out.size()), &err);
  err = U_ZERO_ERROR;
  std::string result(static_cast<size_t>(n8), '\0');
  u_strToUTF8(result.data(), n8, nullptr, out.data(), static_cast<int32_t>(out.size()), &err);
  if (U_SUCCESS(err)) *text = std::move(result);
}

// NFC, NFD, NFKC, NFKD through ICU (Qwen2's tokenizer.json asks for NFC).
class UnicodeNormalizer : public Normalizer {
 public:
  explicit UnicodeNormalizer(const UNormalizer2* norm) : norm_(norm) {}
  void Normalize(std::string* text) const override {
    ThroughUtf16(text, [&](const std::u16string& in) {
      UErrorCode err = U_ZERO_ERROR;
      const int32_t len = static_cast<int32_t>(in.size());
      int32_t need = unorm2_normalize(norm_, in.data(), len, nullptr, 0, &err);
      err = U_ZERO_ERROR;
      std::u16string out(static_cast<size_t>(need), u'\0');
      unorm2_normalize(norm_, in.data(), len, out.data(), need, &err);
      return U_SUCCESS(err) ? out : in;
    });
  }

 private:
  const UNormalizer2* norm_;  // owned by ICU, valid for the process
};

// The Lowercase normalizer: each code point's full lowercase mapping on its
// own, without context (so a word-final capital sigma becomes σ, not ς, as
// in tokenizers).
class LowercaseNormalizer : public Normalizer {
 public:
  void Normalize(std::string* text) const override {
    ThroughUtf16(text, [](const std::u16string& in) {
      std::u16string out;
      out.reserve(in.size());
      UChar buf[8];
      for (size_t i = 0; i < in.size();) {
        const int32_t len = U16_IS_LEAD(in[i]) && i + 1 < in.size() ? 2 : 1;
        UErrorCode err = U_ZERO_ERROR;
        const int32_t n = u_strToLower(buf, 8, in.data() + i, len, "", &err);
        if (U_SUCCESS(err)) {
          out.append(buf, static_cast<size_t>(n));
        } else {
          out.append(in, i, static_cast<size_t>(len));
        }
        i += static_cast<size_t>(len);
      }
      return out;
    });
  }
};

}  // namespace

StatusOr<std::unique_ptr<Normalizer>> NormalizerFromJson(const Json& j, const std::string& where) {
  COMPASS_ASSIGN_OR_RETURN(const std::string type, TypeOf(j, where));
  if (type == "Sequence") {
    const Json* list = FindField(j, "normalizers");
    if (list == nullptr || !list->is_array()) {
      return FieldError(KeyPath(where, "normalizers"), "expected a list");
    }
    std::vector<std::unique_ptr<Normalizer>> steps;
    for (size_t i = 0; i < list->size(); ++i) {
      COMPASS_ASSIGN_OR_RETURN(
          auto step, NormalizerFromJson((*list)[i], IndexPath(KeyPath(where, "normalizers"), i)));
      steps.push_back(std::move(step));
    }
    return std::unique_ptr<Normalizer>(new SequenceNormalizer(std::move(steps)));
  }
  if (type == "Prepend") {
    COMPASS_ASSIGN_OR_RETURN(std::string prefix, RequiredString(j, "prepend", where));
    return std::unique_ptr<Normalizer>(new PrependNormalizer(std::move(prefix)));
  }
  if (type == "Replace") {
    COMPASS_ASSIGN_OR_RETURN(PatternSpec pattern, PatternField(j, "pattern", where));
    COMPASS_ASSIGN_OR_RETURN(std::string content, RequiredString(j, "content", where));
    auto replace = ReplacePattern::Create(pattern, std::move(content));
    if (!replace.ok()) return replace.status().WithContext(KeyPath(where, "pattern"));
    return std::unique_ptr<Normalizer>(new ReplaceNormalizer(std::move(replace).value()));
  }
  if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    UErrorCode err = U_ZERO_ERROR;
    const UNormalizer2* norm = type == "NFC"    ? unorm2_getNFCInstance(&err)
                               : type == "NFD"  ? unorm2_getNFDInstance(&err)
                               : type == "NFKC" ? unorm2_getNFKCInstance(&err)
                                                : unorm2_getNFKDInstance(&err);
    if (U_FAILURE(err) || norm == nullptr) {
      return FieldError(KeyPath(where, "type"),
                        type + " normalization data is unavailable (" + u_errorName(err) + ")");
    }
    return std::unique_ptr<Normalizer>(new UnicodeNormalizer(norm));
  }
  if (type == "Lowercase") return std::unique_ptr<Normalizer>(new LowercaseNormalizer());
  return FieldError(KeyPath(where, "type"), "normalizer type '" + type +
                                                "' is not supported; supported: Sequence, "
                                                "Prepend, Replace, NFC, NFD, NFKC, NFKD, "
                                                "Lowercase");
}

}  // namespace compass::hf
