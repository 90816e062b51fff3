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

  // Ids for `text`, without BOS (the request builder adds it): what Hugging
  // Face gives for encode(text, add_special_tokens=False). With
  // `parse_special` false, the text of special tokens (e.g.
  // "<|begin_of_text|>") is encoded as plain text, like Hugging Face's
  // split_special_tokens=True. Invalid UTF-8 is read as U+FFFD.
  std::vector<int32_t> Encode(std::string_view text, bool parse_special = true) const {
    return DoEncode(text, parse_special);
  }

  // The text of `ids` (special tokens included, as Hugging Face's
  // decode(ids, skip_special_tokens=False)); an error for ids outside the
  // vocabulary.
  virtual StatusOr<std::string> Decode(const int32_t* ids, size_t n) const = 0;

  // The vocabulary string of token `id` (e.g. "Ġthe", "▁the", "<0x0A>"), for
  // showing pieces; "" when there is no such token.
  virtual std::string TokenText(int32_t id) const = 0;

  // The bytes token `id` adds inside a decoded text (a leading-space strip
  // that applies only at the start of a text does not apply), raw: a piece
  // of a multi-byte character stays that piece, so the bytes of a token
  // sequence concatenated equal its decoded text whenever that text is valid
  // UTF-8. "" for ids outside the vocabulary. Backends match stop strings on
  // these (compass_backend_config.token_bytes).
  virtual std::string TokenBytes(int32_t id) const;

  virtual int32_t bos_id() const = 0;  // -1 when none
  virtual std::vector<int32_t> eos_ids() const = 0;
  virtual int32_t pad_id() const { return -1; }
  // Largest token id + 1, added tokens included.
  virtual uint32_t vocab_size() const = 0;
  // Whether prompts start with BOS (tokenizer_config add_bos_token; when
  // unset, whether the tokenizer's post-processor adds one).
  virtual bool add_bos() const = 0;

 protected:
  virtual std::vector<int32_t> DoEncode(std::string_view text, bool parse_special) const = 0;
};

// Bytes as tokens: ids 0..255 are the UTF-8 bytes, 256 is BOS, 257 is EOS.
// Lossless for any text; for tests, examples and byte-level models.
class ByteTokenizer : public Tokenizer {
 public:
  static constexpr int32_t kBos = 256;
  static constexpr int32_t kEos = 257;
  std::string name() const override { return "bytes"; }
  StatusOr<std::string> Decode(const int32_t* ids, size_t n) const override;
  // The byte itself; "<bos>" and "<eos>" for 256 and 257.
  std::string TokenText(int32_t id) const override;
  std::string TokenBytes(int32_t id) const override;
  int32_t bos_id() const override { return kBos; }
  std::vector<int32_t> eos_ids() const override { return {kEos}; }
  uint32_t vocab_size() const override { return 258; }
  bool add_bos() const override { return true; }

 protected:
  std::vector<int32_t> DoEncode(std::string_view text, bool parse_special) const override;
};

// TokenBytes of every id below vocab_size().
std::vector<std::string> TokenByteTable(const Tokenizer& tokenizer);

// The tokenizer named by the config: "bytes", or "auto". For "auto",
// `model_path` is a model folder (its tokenizer.json, with
// tokenizer_config.json when present) or a .gguf file: then a tokenizer.json
// in the same folder wins (with tokenizer_config.json there when present),
// else the tokenizer is built from the GGUF metadata (gguf_tokenizer.h).
// Errors name the file and the key.
StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& kind,
                                                   const std::string& model_path);

// A Hugging Face tokenizer.json of model type BPE (byte-level, or
// SentencePiece-style with byte fallback), with `config_file`
// (tokenizer_config.json) for bos/eos/pad tokens and add_bos_token; pass ""
// for none. Errors name the file and the key.
StatusOr<std::unique_ptr<Tokenizer>> LoadHfTokenizer(const std::string& tokenizer_file,
                                                     const std::string& config_file);

}  // namespace compass

#endif  // COMPASS_TOKENIZER_TOKENIZER_H_
