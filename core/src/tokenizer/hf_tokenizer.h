// A tokenizer defined by a Hugging Face tokenizer.json (model type BPE:
// byte-level, or SentencePiece-style with byte fallback), with the special
// tokens and add_bos_token of tokenizer_config.json. Encoding and decoding
// give exactly what the `tokenizers` library gives for the same files.
#ifndef COMPASS_TOKENIZER_HF_TOKENIZER_H_
#define COMPASS_TOKENIZER_HF_TOKENIZER_H_

#include <memory>
#include <string>
#include <vector>

#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/decoder.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace compass::hf {

class HfTokenizer final : public Tokenizer {
 public:
  // `tokenizer` is the parsed tokenizer.json; `config` the parsed
  // tokenizer_config.json, or nullptr when there is none. Errors start with
  // `tokenizer_file` or `config_file` and name the key.
  static StatusOr<std::unique_ptr<HfTokenizer>> Create(const Json& tokenizer, const Json* config,
                                                       const std::string& tokenizer_file,
                                                       const std::string& config_file);

  // For a tokenizer.json built from other metadata than tokenizer_config.json
  // (GGUF): replaces the name, the special token ids (-1: none; ids must be
  // in the vocabulary) and add_bos. Only before the tokenizer is shared.
  void SetIdentity(std::string name, int32_t bos_id, std::vector<int32_t> eos_ids, int32_t pad_id,
                   bool add_bos);

  std::string name() const override { return name_; }
  StatusOr<std::string> Decode(const int32_t* ids, size_t n) const override;
  std::string TokenText(int32_t id) const override;
  std::string TokenBytes(int32_t id) const override;
  int32_t bos_id() const override { return bos_id_; }
  std::vector<int32_t> eos_ids() const override { return eos_ids_; }
  int32_t pad_id() const override { return pad_id_; }
  uint32_t vocab_size() const override { return vocab_size_; }
  bool add_bos() const override { return add_bos_; }

 protected:
  std::vector<int32_t> DoEncode(std::string_view text, bool parse_special) const override;

 private:
  HfTokenizer() = default;
  Status ApplyConfig(const Json* config, const std::string& config_file,
                     const std::string& tokenizer_file, int32_t template_bos);
  // Text between added tokens (raw), then after normalization.
  void EncodeSegment(std::string_view text, bool at_start, bool parse_special,
                     std::vector<int32_t>* ids) const;
  void EncodeNormalized(std::string_view text, bool at_start, bool parse_special,
                        std::vector<int32_t>* ids) const;
  int32_t TokenToId(std::string_view token) const;

  std::string name_;
  std::unique_ptr<Normalizer> normalizer_;       // may be null
  std::unique_ptr<PreTokenizer> pre_tokenizer_;  // may be null
  std::unique_ptr<BpeModel> model_;
  std::unique_ptr<AddedVocabulary> added_;
  std::unique_ptr<Decoder> decoder_;  // may be null
  int32_t bos_id_ = -1;
  std::vector<int32_t> eos_ids_;
  int32_t pad_id_ = -1;
  uint32_t vocab_size_ = 0;
  bool add_bos_ = false;
};

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_HF_TOKENIZER_H_
