// The tokenizer a GGUF file describes in its metadata (llama.cpp's
// tokenizer.ggml.* keys), built as transformers builds it for
// AutoTokenizer.from_pretrained(dir, gguf_file=...):
//
//   tokenizer.ggml.model "gpt2": byte-level BPE (GPT-2, Llama-3, Qwen2,
//     SmolLM2, ...): the tokens (spelled in the byte-level alphabet where the
//     file spells them otherwise) and merges; the pre-tokenizer follows
//     tokenizer.ggml.pre (see docs/config.md for the known values).
//   tokenizer.ggml.model "llama": SentencePiece-style BPE with byte fallback
//     (Llama-2, Mistral, ...): the tokens, and the merges of the file or, when
//     it has none, the merges its scores imply (transformers'
//     generate_merges). general.architecture "phi3" gets Phi-3's layout.
//
// Tokens of type CONTROL (3) and the bos/eos/unk/padding tokens are special
// added tokens; USER_DEFINED (4) ones plain added tokens. add_bos follows
// tokenizer.ggml.add_bos_token; absent, it is true for "llama" and false for
// "gpt2". Where transformers departs from the model's own tokenizer, this
// follows the model: for tokenizer.ggml.pre "smollm" every digit is split
// off (transformers keeps GPT-2's runs of digits).
//
// Threading: the returned tokenizer is immutable (see tokenizer.h).
#ifndef COMPASS_TOKENIZER_GGUF_TOKENIZER_H_
#define COMPASS_TOKENIZER_GGUF_TOKENIZER_H_

#include <memory>
#include <string>

#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"
#include "util/status.h"

namespace compass {

// The tokenizer of `file`'s metadata; `file` is only read during the call.
// Errors start with the file's path and name the key: Unsupported for a
// tokenizer.ggml.model other than gpt2 and llama, an unknown
// tokenizer.ggml.pre, or a Gemma-family SentencePiece vocabulary (their
// messages say to put the model's tokenizer.json beside the .gguf);
// NotFound for missing tokens (or merges, where they are needed);
// InvalidArgument for a value of the wrong type, an array whose length does
// not match tokenizer.ggml.tokens, a token id outside the vocabulary, a
// token that is not UTF-8 or a merge that is not two known tokens.
StatusOr<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const gguf::GgufFile& file);

// Opens the GGUF at `path` (errors as GgufFile::Open), then as above.
StatusOr<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const std::string& path);

}  // namespace compass

#endif  // COMPASS_TOKENIZER_GGUF_TOKENIZER_H_
