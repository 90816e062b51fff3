// tokenizer.json "normalizer": rewrites each stretch of text between added
// tokens before pre-tokenization. Supported: Sequence, Prepend, Replace,
// NFC, NFD, NFKC, NFKD (ICU), Lowercase.
#ifndef COMPASS_TOKENIZER_NORMALIZER_H_
#define COMPASS_TOKENIZER_NORMALIZER_H_

#include <memory>
#include <string>
#include <string_view>

#include "tokenizer/json_fields.h"
#include "util/status.h"

namespace compass::hf {

class Normalizer {
 public:
  virtual ~Normalizer() = default;
  // Rewrites `text` (valid UTF-8) in place.
  virtual void Normalize(std::string* text) const = 0;
};

// `j` is the "normalizer" object (not null); `where` its key path for errors.
StatusOr<std::unique_ptr<Normalizer>> NormalizerFromJson(const Json& j, const std::string& where);

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_NORMALIZER_H_
