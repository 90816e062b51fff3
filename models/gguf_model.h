// A GGUF checkpoint read as a Hugging Face model: the config from the
// `<arch>.*` metadata keys, and every tensor mapped to its Hugging Face name
// (token_embd -> model.embed_tokens, blk.N.attn_q -> model.layers.N.self_attn
// .q_proj, ...), with the Q/K rows llama.cpp interleaves for its rotary
// layout noted so that they can be put back (the inverse of
// convert_hf_to_gguf.py's permute, as transformers' GGUF loader does).
//
// Architectures: llama (Llama and Mistral-style files) and qwen2. No torch:
// the planner uses the config, the loader (weights.h) the mapping.
#ifndef COMPASS_MODELS_GGUF_MODEL_H_
#define COMPASS_MODELS_GGUF_MODEL_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "models/model_config.h"
#include "util/status.h"

namespace compass::model {

// The config a GGUF file's metadata describes. `source` is the file's path.
// Errors name the file and the key: Unsupported for an architecture other
// than llama / qwen2 (general.architecture), a RoPE scaling type other than
// none / linear, partial rotary embeddings; NotFound for a required key
// missing; InvalidArgument for values out of range or inconsistent with each
// other or with the tensors' shapes (e.g. embedding length against
// token_embd.weight).
StatusOr<ModelConfig> ConfigFromGguf(const gguf::GgufFile& file);

// One GGUF tensor as a Hugging Face parameter.
struct GgufParam {
  const gguf::TensorInfo* info = nullptr;
  // > 0: rows are in llama.cpp's rotary order for this many heads and must be
  // un-permuted (llama Q and K weights and biases).
  int64_t unpermute_heads = 0;
};

// Every tensor of a GGUF file, under its Hugging Face name, checked against
// `config`'s ExpectedParameters: each present with its shape, no tensor left
// unmapped, and each of a type Compass can dequantize. Errors name the file
// and the tensor: NotFound for a missing one; InvalidArgument for a shape
// that disagrees with the metadata or an unknown tensor name; Unsupported for
// a tensor type that cannot be read (by its name, e.g. IQ2_XXS).
StatusOr<std::map<std::string, GgufParam>> MapGgufTensors(const gguf::GgufFile& file,
                                                          const ModelConfig& config);

// The inverse of llama.cpp's rotary permutation of `rows` rows (of `cols`
// values each) for `heads` heads: within each head, the GGUF row 2*b + a
// holds Hugging Face row a * head_dim / 2 + b. Writes `out` (rows * cols).
void UnpermuteRows(const float* in, int64_t rows, int64_t cols, int64_t heads, float* out);

}  // namespace compass::model

#endif  // COMPASS_MODELS_GGUF_MODEL_H_
