// tokenizer.json "decoder": turns token strings back into text. Supported:
// ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace, Sequence.
#ifndef COMPASS_TOKENIZER_DECODER_H_
#define COMPASS_TOKENIZER_DECODER_H_

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/json_fields.h"
#include "util/status.h"

namespace compass::hf {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // One step of the chain: rewrites the token strings (a step may fuse them);
  // the decoded text is the concatenation at the end of the chain.
  virtual void DecodeChain(std::vector<std::string>* tokens) const = 0;
};

// `j` is the "decoder" object (not null); `where` its key path.
StatusOr<std::unique_ptr<Decoder>> DecoderFromJson(const Json& j, const std::string& where);

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_DECODER_H_
