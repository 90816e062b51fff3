#include "tokenizer/normalizer.h"

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
  return FieldError(KeyPath(where, "type"), "normalizer type '" + type +
                                                "' is not supported; supported: Sequence, "
                                                "Prepend, Replace");
}

}  // namespace compass::hf
