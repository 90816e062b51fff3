// tokenizer.json "pre_tokenizer": cuts normalized text into the pieces that
// the model encodes one by one. Supported: ByteLevel, Split, Digits,
// Metaspace, Sequence.
#ifndef COMPASS_TOKENIZER_PRE_TOKENIZER_H_
#define COMPASS_TOKENIZER_PRE_TOKENIZER_H_

#include <memory>
#include <string>
#include <string_view>

#include "tokenizer/function_ref.h"
#include "tokenizer/json_fields.h"
#include "util/status.h"

namespace compass::hf {

// Receives each piece in order; `at_start` is true when the piece begins at
// offset 0 of the whole input (Metaspace's prepend_scheme "first" needs it).
// Pieces may be empty; consumers skip those.
using PieceSink = FunctionRef<void(std::string_view piece, bool at_start)>;

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Splits `text` (valid UTF-8, not empty) into pieces.
  virtual void Split(std::string_view text, bool at_start, PieceSink sink) const = 0;
  // When this pre-tokenizer ends with ByteLevel, makes that last step leave
  // its pieces as raw bytes, for a model that maps bytes itself (saves
  // building the mapped strings), and returns true. Otherwise false.
  virtual bool DeferByteMapping() { return false; }
};

// `j` is the "pre_tokenizer" object (not null); `where` its key path.
StatusOr<std::unique_ptr<PreTokenizer>> PreTokenizerFromJson(const Json& j,
                                                             const std::string& where);

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_PRE_TOKENIZER_H_
