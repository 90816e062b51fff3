// Tiny random models in the Hugging Face layout (config.json +
// model.safetensors, or two shards and an index), for tests and goldens.
// The weights depend only on the spec: they come from std::mt19937_64 (whose
// output the standard fixes) through a Box-Muller transform written here, so
// every machine writes the same files; WeightsChecksum notices a change.
#ifndef COMPASS_MODELS_TINY_MODEL_H_
#define COMPASS_MODELS_TINY_MODEL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/checkpoint.h"
#include "models/dtype.h"
#include "models/model_config.h"
#include "util/status.h"

namespace compass::model {

struct TinyModelSpec {
  std::string variant = "llama";
  Architecture architecture = Architecture::kLlama;
  int64_t vocab_size = 320;
  int64_t hidden_size = 64;
  int64_t intermediate_size = 128;
  int64_t num_layers = 4;  // enough for pipelines of 1 to 4 stages
  int64_t num_heads = 4;
  int64_t num_kv_heads = 2;
  int64_t head_dim = 0;  // 0: not written (hidden_size / num_heads)
  bool tie_word_embeddings = false;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  // Written verbatim under `rope_key` ("rope_scaling" or "rope_parameters")
  // when not empty: a JSON object.
  std::string rope_json;
  std::string rope_key = "rope_scaling";
  int64_t max_position_embeddings = 128;
  std::optional<int64_t> sliding_window;  // Mistral
  uint64_t seed = 1;
  // Weights are N(0, init_std^2), biases too; norm weights 1 + N(0, norm_std^2).
  double init_std = 0.15;
  double norm_std = 0.1;
  DType dtype = DType::kF32;
  int shards = 1;  // 1, or 2 (model-0000{1,2}-of-00002.safetensors + index)
};

// The named variants the goldens cover: llama (GQA, untied), llama_tied,
// llama_head_dim, llama_rope_linear, llama_rope_dynamic, llama3_rope,
// mistral (sliding window), qwen2 (q/k/v bias, tied).
std::vector<std::string> TinyModelVariants();
// NotFound listing the variants for an unknown name.
StatusOr<TinyModelSpec> TinyModelVariant(std::string_view name);

struct TinyModelFiles {
  std::vector<std::string> files;  // paths written, config.json first
  std::string weights_checksum;
};

// Creates `dir` if needed and writes the model into it (overwriting files of
// the same names). InvalidArgument for an inconsistent spec, IoError when
// writing fails.
StatusOr<TinyModelFiles> WriteTinyModel(const TinyModelSpec& spec, const std::string& dir);

// 16 hex digits of FNV-1a 64 over every tensor in name order (name, dtype,
// shape, bytes): independent of sharding and header layout, sensitive to
// every value.
std::string WeightsChecksum(const Checkpoint& checkpoint);

}  // namespace compass::model

#endif  // COMPASS_MODELS_TINY_MODEL_H_
