// A Hugging Face decoder-only model's config.json (Llama, Mistral and Qwen2
// families), validated, with the parameter list and its accounting derived
// from the config alone (no weights needed: the planner uses this).
//
// Errors are InvalidArgument (bad or inconsistent values), Unsupported
// (architecture, rope type, activation this library does not implement) or
// IoError; each message starts with the config file's path.
#ifndef COMPASS_MODELS_MODEL_CONFIG_H_
#define COMPASS_MODELS_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "models/dtype.h"
#include "util/status.h"

namespace compass::model {

enum class Architecture { kLlama, kMistral, kQwen2 };

// "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM".
const char* ArchitectureName(Architecture arch);
std::vector<std::string> SupportedArchitectures();

enum class RopeType { kDefault, kLinear, kDynamic, kLlama3 };
const char* RopeTypeName(RopeType type);  // "default", "linear", "dynamic", "llama3"

// RoPE parameters, as transformers reads them from `rope_scaling` (4.x) or
// `rope_parameters` (5.x).
struct RopeConfig {
  double theta = 10000.0;
  RopeType type = RopeType::kDefault;
  double factor = 1.0;                           // linear, dynamic, llama3
  double low_freq_factor = 1.0;                  // llama3
  double high_freq_factor = 4.0;                 // llama3
  int64_t original_max_position_embeddings = 0;  // llama3; defaults to max_position_embeddings
};

// Upper bounds on a config's sizes, far above any released model. Both
// readers (config.json and GGUF metadata) refuse larger values with an
// InvalidArgument naming the key, so that every count derived from a config
// (parameters, bytes, KV bytes per token) fits in 64 bits and no size read
// from a file can ask for an absurd allocation.
inline constexpr int64_t kMaxVocabSize = INT32_MAX;       // token ids are int32
inline constexpr int64_t kMaxWidth = int64_t{1} << 20;    // hidden and intermediate sizes
inline constexpr int64_t kMaxLayers = int64_t{1} << 12;   // decoder layers
inline constexpr int64_t kMaxHeads = int64_t{1} << 12;    // attention heads
inline constexpr int64_t kMaxHeadDim = int64_t{1} << 12;  // head_dim
inline constexpr int64_t kMaxPositions = INT32_MAX;       // context window

struct ModelConfig {
  std::string source;  // path of the config.json read, for messages
  Architecture architecture = Architecture::kLlama;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // defaults to num_attention_heads
  int64_t head_dim = 0;             // explicit, or hidden_size / num_attention_heads
  double rms_norm_eps = 1e-6;
  RopeConfig rope;
  int64_t max_position_embeddings = 0;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;             // Qwen2 always; Llama's attention_bias
  bool o_bias = false;               // Llama's attention_bias only
  bool mlp_bias = false;             // Llama's mlp_bias
  std::optional<DType> torch_dtype;  // "torch_dtype" or "dtype", when F32/F16/BF16
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;  // an int or a list in config.json
  // The window as written (Mistral's sliding_window; Qwen2's only when
  // use_sliding_window is true), and per layer the window it applies (0: full
  // attention). A key is visible to a query when q_pos - k_pos < window.
  std::optional<int64_t> sliding_window;
  std::vector<int64_t> layer_sliding_window;

  int64_t num_key_value_groups() const { return num_attention_heads / num_key_value_heads; }
  int64_t q_size() const { return num_attention_heads * head_dim; }
  int64_t kv_size() const { return num_key_value_heads * head_dim; }
};

// Parses config.json text; `source` names it in messages.
StatusOr<ModelConfig> ParseModelConfig(std::string_view json_text, const std::string& source);

// Reads `path`, or `path`/config.json when `path` is a directory; a `.gguf`
// file's metadata (ConfigFromGguf, reading the header only).
StatusOr<ModelConfig> LoadModelConfig(const std::string& path);

// One parameter tensor a checkpoint must hold, in the Hugging Face layout.
struct ParamSpec {
  std::string name;  // "model.layers.3.mlp.up_proj.weight"
  std::vector<int64_t> shape;
  int layer = -1;  // decoder layer, -1 for embed_tokens, norm, lm_head
  int64_t numel() const;
};

// Every parameter the config implies, in checkpoint order: embed_tokens,
// per layer (input_layernorm, q/k/v/o (+biases), post_attention_layernorm,
// gate/up/down), norm, lm_head (absent when tied).
std::vector<ParamSpec> ExpectedParameters(const ModelConfig& config);

// "[128, 64]"
std::string ShapeString(const std::vector<int64_t>& shape);

struct LayerAccounting {
  uint64_t attention_params = 0;  // q/k/v/o weights and biases
  uint64_t mlp_params = 0;        // gate/up/down
  uint64_t norm_params = 0;       // input and post-attention RMSNorm
  uint64_t params() const { return attention_params + mlp_params + norm_params; }
};

// Parameter counts and bytes of every module for one dtype.
struct ParameterAccounting {
  DType dtype = DType::kF32;
  uint64_t embed_tokens_params = 0;
  std::vector<LayerAccounting> layers;
  uint64_t norm_params = 0;
  uint64_t lm_head_params = 0;  // 0 when tied to the embeddings
  uint64_t total_params = 0;
  // 2 (K and V) * layers * kv_heads * head_dim * dtype bytes.
  uint64_t kv_cache_bytes_per_token = 0;

  uint64_t Bytes(uint64_t params) const { return params * DTypeSize(dtype); }
  uint64_t embed_tokens_bytes() const { return Bytes(embed_tokens_params); }
  uint64_t layer_bytes(size_t i) const { return Bytes(layers.at(i).params()); }
  uint64_t norm_bytes() const { return Bytes(norm_params); }
  uint64_t lm_head_bytes() const { return Bytes(lm_head_params); }
  uint64_t total_bytes() const { return Bytes(total_params); }
  // Multi-line human summary ("embed_tokens 1.2 MiB", ...).
  std::string Summary() const;
};

ParameterAccounting AccountParameters(const ModelConfig& config, DType dtype);

}  // namespace compass::model

#endif  // COMPASS_MODELS_MODEL_CONFIG_H_
