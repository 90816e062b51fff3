#include "models/gguf_model.h"

#include <cstring>
#include <optional>
#include <regex>
#include <set>

namespace compass::model {
namespace {

using gguf::GgufFile;

// llama.cpp tensor names (without ".weight"/".bias") and their Hugging Face
// names inside a decoder layer.
constexpr std::pair<const char*, const char*> kLayerTensors[] = {
    {"attn_norm", "input_layernorm"},    {"attn_q", "self_attn.q_proj"},
    {"attn_k", "self_attn.k_proj"},      {"attn_v", "self_attn.v_proj"},
    {"attn_output", "self_attn.o_proj"}, {"ffn_norm", "post_attention_layernorm"},
    {"ffn_gate", "mlp.gate_proj"},       {"ffn_up", "mlp.up_proj"},
    {"ffn_down", "mlp.down_proj"},
};

constexpr std::pair<const char*, const char*> kModelTensors[] = {
    {"token_embd.weight", "model.embed_tokens.weight"},
    {"output_norm.weight", "model.norm.weight"},
    {"output.weight", "lm_head.weight"},
};

struct Keys {
  const GgufFile& file;
  std::string arch;

  std::string Key(const std::string& suffix) const { return arch + "." + suffix; }
  StatusOr<int64_t> Int(const std::string& suffix, std::optional<int64_t> fallback) const {
    const std::string key = Key(suffix);
    if (!file.Has(key) && fallback) return *fallback;
    COMPASS_ASSIGN_OR_RETURN(int64_t v, file.GetInt(key));
    return v;
  }
  // A positive value of at most `max` (model_config.h's bounds).
  StatusOr<int64_t> Positive(const std::string& suffix, std::optional<int64_t> fallback,
                             int64_t max) const {
    COMPASS_ASSIGN_OR_RETURN(int64_t v, Int(suffix, fallback));
    if (v <= 0) return Error(suffix, "must be positive, got " + std::to_string(v));
    if (v > max) {
      return Error(suffix, "is " + std::to_string(v) +
                               ", larger than any supported model (at most " + std::to_string(max) +
                               ")");
    }
    return v;
  }
  StatusOr<double> Float(const std::string& suffix, double fallback) const {
    const std::string key = Key(suffix);
    if (!file.Has(key)) return fallback;
    return file.GetFloat(key);
  }
  Status Error(const std::string& suffix, const std::string& what) const {
    return InvalidArgument(file.path() + ": metadata key '" + Key(suffix) + "' " + what);
  }
};

bool HasTensor(const GgufFile& file, const std::string& name) {
  return file.FindTensor(name) != nullptr;
}

Status ParseRopeScaling(const Keys& k, ModelConfig& c) {
  std::string type = "none";
  if (k.file.Has(k.Key("rope.scaling.type"))) {
    COMPASS_ASSIGN_OR_RETURN(type, k.file.GetString(k.Key("rope.scaling.type")));
  } else if (k.file.Has(k.Key("rope.scale_linear"))) {
    type = "linear";  // older files: only the factor
  }
  if (type == "none") return Status::Ok();
  if (type != "linear") {
    return Unsupported(k.file.path() + ": metadata key '" + k.Key("rope.scaling.type") + "' is '" +
                       type + "'; supported: none, linear");
  }
  c.rope.type = RopeType::kLinear;
  const std::string factor_key =
      k.file.Has(k.Key("rope.scaling.factor")) ? "rope.scaling.factor" : "rope.scale_linear";
  COMPASS_ASSIGN_OR_RETURN(c.rope.factor, k.Float(factor_key, 1.0));
  if (!(c.rope.factor > 0)) return k.Error(factor_key, "must be positive");
  return Status::Ok();
}

// The first dimension (rows) of a tensor, or -1 when absent.
int64_t Rows(const GgufFile& file, const std::string& name) {
  const gguf::TensorInfo* t = file.FindTensor(name);
  return t == nullptr ? -1 : t->shape().front();
}

}  // namespace

StatusOr<ModelConfig> ConfigFromGguf(const GgufFile& file) {
  COMPASS_ASSIGN_OR_RETURN(std::string arch, file.GetString("general.architecture"));
  ModelConfig c;
  c.source = file.path();
  if (arch == "llama") {
    c.architecture = Architecture::kLlama;
  } else if (arch == "qwen2") {
    c.architecture = Architecture::kQwen2;
  } else {
    return Unsupported(file.path() + ": metadata key 'general.architecture' is '" + arch +
                       "'; supported GGUF architectures: llama (Llama, Mistral), qwen2");
  }
  const Keys k{file, arch};
  COMPASS_ASSIGN_OR_RETURN(c.hidden_size, k.Positive("embedding_length", std::nullopt, kMaxWidth));
  COMPASS_ASSIGN_OR_RETURN(c.num_hidden_layers,
                           k.Positive("block_count", std::nullopt, kMaxLayers));
  COMPASS_ASSIGN_OR_RETURN(c.intermediate_size,
                           k.Positive("feed_forward_length", std::nullopt, kMaxWidth));
  COMPASS_ASSIGN_OR_RETURN(c.num_attention_heads,
                           k.Positive("attention.head_count", std::nullopt, kMaxHeads));
  COMPASS_ASSIGN_OR_RETURN(c.num_key_value_heads,
                           k.Positive("attention.head_count_kv", c.num_attention_heads, kMaxHeads));
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return k.Error("attention.head_count_kv", "is " + std::to_string(c.num_key_value_heads) +
                                                  ", which does not divide the head count " +
                                                  std::to_string(c.num_attention_heads));
  }
  const int64_t default_head_dim = c.hidden_size / c.num_attention_heads;
  COMPASS_ASSIGN_OR_RETURN(c.head_dim,
                           k.Positive("attention.key_length", default_head_dim, kMaxHeadDim));
  if (c.head_dim % 2 != 0) return k.Error("attention.key_length", "must be even for RoPE");
  COMPASS_ASSIGN_OR_RETURN(int64_t value_length,
                           k.Positive("attention.value_length", c.head_dim, kMaxHeadDim));
  if (value_length != c.head_dim) {
    return Unsupported(file.path() + ": metadata key '" + k.Key("attention.value_length") +
                       "' is " + std::to_string(value_length) + ", unlike the key length " +
                       std::to_string(c.head_dim) + "; only equal lengths are supported");
  }
  COMPASS_ASSIGN_OR_RETURN(int64_t rope_dims,
                           k.Positive("rope.dimension_count", c.head_dim, kMaxHeadDim));
  if (rope_dims != c.head_dim) {
    return Unsupported(file.path() + ": metadata key '" + k.Key("rope.dimension_count") + "' is " +
                       std::to_string(rope_dims) + " for heads of " + std::to_string(c.head_dim) +
                       " dimensions; partial rotary embeddings are not supported");
  }
  COMPASS_ASSIGN_OR_RETURN(c.max_position_embeddings,
                           k.Positive("context_length", std::nullopt, kMaxPositions));
  COMPASS_ASSIGN_OR_RETURN(c.rope.theta, k.Float("rope.freq_base", 10000.0));
  if (!(c.rope.theta > 0)) return k.Error("rope.freq_base", "must be positive");
  COMPASS_RETURN_IF_ERROR(ParseRopeScaling(k, c));
  COMPASS_ASSIGN_OR_RETURN(c.rms_norm_eps, k.Float("attention.layer_norm_rms_epsilon", 1e-5));
  if (!(c.rms_norm_eps > 0)) return k.Error("attention.layer_norm_rms_epsilon", "must be positive");

  // Vocabulary: the explicit key, else the tokenizer's list, else the
  // embedding's rows; all present must agree.
  const int64_t embd_rows = Rows(file, "token_embd.weight");
  if (file.Has(k.Key("vocab_size"))) {
    COMPASS_ASSIGN_OR_RETURN(c.vocab_size, k.Positive("vocab_size", std::nullopt, kMaxVocabSize));
  } else if (const gguf::Value* tokens = file.Find("tokenizer.ggml.tokens");
             tokens != nullptr && tokens->type() == gguf::ValueType::kArray) {
    c.vocab_size = static_cast<int64_t>(tokens->as_array().size());
  } else {
    c.vocab_size = embd_rows;
  }
  if (c.vocab_size <= 0) {
    return InvalidArgument(file.path() + ": the vocabulary size is unknown: no '" +
                           k.Key("vocab_size") +
                           "', no tokenizer.ggml.tokens and no token_embd.weight");
  }
  if (c.vocab_size > kMaxVocabSize) {
    return InvalidArgument(file.path() + ": a vocabulary of " + std::to_string(c.vocab_size) +
                           " tokens is larger than any supported model (at most " +
                           std::to_string(kMaxVocabSize) + ")");
  }
  if (embd_rows > 0 && embd_rows != c.vocab_size) {
    return InvalidArgument(
        file.path() + ": tensor token_embd.weight has " + std::to_string(embd_rows) +
        " rows but the metadata gives a vocabulary of " + std::to_string(c.vocab_size) + " tokens");
  }

  c.tie_word_embeddings = !HasTensor(file, "output.weight");
  c.qkv_bias = HasTensor(file, "blk.0.attn_q.bias");
  c.o_bias = HasTensor(file, "blk.0.attn_output.bias");
  c.mlp_bias = HasTensor(file, "blk.0.ffn_up.bias");
  if (c.architecture == Architecture::kQwen2) c.qkv_bias = true;
  c.layer_sliding_window.assign(c.num_hidden_layers, 0);
  if (file.Has("general.file_type")) {
    COMPASS_ASSIGN_OR_RETURN(int64_t file_type, file.GetInt("general.file_type"));
    // llama_ftype: ALL_F32, MOSTLY_F16, MOSTLY_BF16; quantized files keep
    // no compute dtype.
    if (file_type == 0) c.torch_dtype = DType::kF32;
    if (file_type == 1) c.torch_dtype = DType::kF16;
    if (file_type == 32) c.torch_dtype = DType::kBF16;
  }
  if (file.Has("tokenizer.ggml.bos_token_id")) {
    COMPASS_ASSIGN_OR_RETURN(int64_t bos, file.GetInt("tokenizer.ggml.bos_token_id"));
    c.bos_token_id = bos;
  }
  if (file.Has("tokenizer.ggml.eos_token_id")) {
    COMPASS_ASSIGN_OR_RETURN(int64_t eos, file.GetInt("tokenizer.ggml.eos_token_id"));
    c.eos_token_ids.push_back(eos);
  }
  return c;
}

StatusOr<std::map<std::string, GgufParam>> MapGgufTensors(const GgufFile& file,
                                                          const ModelConfig& config) {
  std::map<std::string, GgufParam> out;
  static const std::regex kLayerName(R"(blk\.(\d+)\.([a-z_]+)\.(weight|bias))");
  const bool permute = config.architecture != Architecture::kQwen2;
  for (const gguf::TensorInfo& t : file.tensors()) {
    std::string hf;
    int64_t heads = 0;
    for (const auto& [gguf_name, hf_name] : kModelTensors) {
      if (t.name == gguf_name) hf = hf_name;
    }
    std::smatch m;
    if (hf.empty() && std::regex_match(t.name, m, kLayerName)) {
      for (const auto& [gguf_name, hf_name] : kLayerTensors) {
        if (m[2] == gguf_name) {
          hf = "model.layers." + m[1].str() + "." + hf_name + "." + m[3].str();
          if (permute && m[2] == "attn_q") heads = config.num_attention_heads;
          if (permute && m[2] == "attn_k") heads = config.num_key_value_heads;
        }
      }
    }
    if (t.name == "rope_freqs.weight") {
      return Unsupported(file.path() +
                         ": tensor rope_freqs.weight (Llama 3.1-style RoPE "
                         "frequency factors) is not supported");
    }
    if (hf.empty()) {
      return InvalidArgument(file.path() + ": tensor " + t.name + " is not part of a " +
                             ArchitectureName(config.architecture) + " model");
    }
    const auto traits = gguf::TypeTraits(t.type);
    if (!traits || !traits->dequantizable) {
      return Unsupported(
          file.path() + ": tensor " + t.name + " has type " + gguf::TypeName(t.type) +
          ", which cannot be read; readable types: " + gguf::DequantizableTypeNames());
    }
    out[hf] = GgufParam{&t, heads};
  }
  std::set<std::string> expected;
  for (const ParamSpec& p : ExpectedParameters(config)) {
    expected.insert(p.name);
    const auto it = out.find(p.name);
    if (it == out.end()) {
      return NotFound(file.path() + ": tensor for " + p.name + " is missing");
    }
    const std::vector<int64_t> shape = it->second.info->shape();
    if (shape != p.shape) {
      return InvalidArgument(file.path() + ": tensor " + it->second.info->name + " has shape " +
                             ShapeString(shape) + ", but the metadata implies " +
                             ShapeString(p.shape) + " for " + p.name);
    }
  }
  for (const auto& [name, param] : out) {
    if (!expected.count(name)) {
      return InvalidArgument(file.path() + ": tensor " + param.info->name +
                             " does not belong to a model with the metadata's " +
                             std::to_string(config.num_hidden_layers) + " layers");
    }
  }
  return out;
}

void UnpermuteRows(const float* in, int64_t rows, int64_t cols, int64_t heads, float* out) {
  const int64_t head_rows = rows / heads;
  const int64_t half = head_rows / 2;
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t a = 0; a < 2; ++a) {
      for (int64_t b = 0; b < half; ++b) {
        const float* src = in + (h * head_rows + 2 * b + a) * cols;
        float* dst = out + (h * head_rows + a * half + b) * cols;
        std::memcpy(dst, src, sizeof(float) * cols);
      }
    }
  }
}

}  // namespace compass::model
