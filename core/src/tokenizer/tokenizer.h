// The run's tokenizer. The core tokenizes every prompt once, so that every
// backend receives the same token ids.
//
// Threading: Encode/Decode are const and safe to call concurrently.
#ifndef COMPASS_TOKENIZER_TOKENIZER_H_
#define COMPASS_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace compass {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string name() const = 0;
  // Ids for `text`, without BOS (the request builder adds it).
  virtual std::vector<int32_t> Encode(std::string_view text) const = 0;
  virtual StatusOr<std::string> Decode(const int32_t* ids, size_t n) const = 0;
  virtual int32_t bos_id() const = 0;  // -1 when none
  virtual std::vector<int32_t> eos_ids() const = 0;
  virtual int32_t pad_id() const { return -1; }
  virtual uint32_t vocab_size() const = 0;
  // Whether prompts start with BOS (tokenizer_config add_bos_token).
  virtual bool add_bos() const = 0;
};

// Bytes as tokens: ids 0..255 are the UTF-8 bytes, 256 is BOS, 257 is EOS.
// Lossless for any text; for tests, examples and byte-level models.
class ByteTokenizer : public Tokenizer {
 public:
  static constexpr int32_t kBos = 256;
  static constexpr int32_t kEos = 257;
  std::string name() const override { return "bytes"; }
  std::vector<int32_t> Encode(std::string_view text) const override;
  StatusOr<std::string> Decode(const int32_t* ids, size_t n) const override;
  int32_t bos_id() const override { return kBos; }
  std::vector<int32_t> eos_ids() const override { return {kEos}; }
  uint32_t vocab_size() const override { return 258; }
  bool add_bos() const override { return true; }
};

// The tokenizer named by the config: "bytes", or "auto" (the tokenizer files
// in the model folder).
StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& kind,
                                                   const std::string& model_dir);

}  // namespace compass

#endif  // COMPASS_TOKENIZER_TOKENIZER_H_
