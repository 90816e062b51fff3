#include "models/model_config.h"

#include <cmath>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "gguf/gguf_file.h"
#include "models/gguf_model.h"

#include "util/strings.h"

namespace compass::model {
namespace {

using nlohmann::json;

struct Field {
  const json& root;
  const std::string& source;

  Status Error(const std::string& key, const std::string& what) const {
    return InvalidArgument(source + ": " + key + ": " + what);
  }
  const json* Find(const json& obj, const std::string& key) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }
  StatusOr<int64_t> Int(const json& obj, const std::string& key, std::optional<int64_t> fallback,
                        const std::string& prefix = "") const {
    const json* v = Find(obj, key);
    if (!v) {
      if (fallback) return *fallback;
      return Error(prefix + key, "missing");
    }
    if (v->is_number_unsigned() && v->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return Error(prefix + key, "is " + v->dump() + ", too large");
    }
    if (v->is_number_integer()) return v->get<int64_t>();
    if (v->is_number_float()) {
      // Integral floats (2048.0) are accepted; the range check comes first,
      // since converting a double outside int64 is undefined.
      const double d = v->get<double>();
      if (d >= -0x1p63 && d < 0x1p63 && d == std::trunc(d)) return static_cast<int64_t>(d);
    }
    return Error(prefix + key, "expected an integer, got " + v->dump());
  }
  StatusOr<double> Number(const json& obj, const std::string& key, std::optional<double> fallback,
                          const std::string& prefix = "") const {
    const json* v = Find(obj, key);
    if (!v) {
      if (fallback) return *fallback;
      return Error(prefix + key, "missing");
    }
    if (v->is_number()) return v->get<double>();
    return Error(prefix + key, "expected a number, got " + v->dump());
  }
  StatusOr<bool> Bool(const json& obj, const std::string& key, bool fallback) const {
    const json* v = Find(obj, key);
    if (!v) return fallback;
    if (v->is_boolean()) return v->get<bool>();
    return Error(key, "expected true or false, got " + v->dump());
  }
};

std::string TooLarge(int64_t value, int64_t max) {
  return std::to_string(value) + " is larger than any supported model (at most " +
         std::to_string(max) + ")";
}

struct ArchInfo {
  const char* name;
  const char* model_type;
  Architecture arch;
  int64_t default_max_positions;
};
constexpr ArchInfo kArchs[] = {
    {"LlamaForCausalLM", "llama", Architecture::kLlama, 2048},
    {"MistralForCausalLM", "mistral", Architecture::kMistral, 4096 * 32},
    {"Qwen2ForCausalLM", "qwen2", Architecture::kQwen2, 32768},
};

const ArchInfo& Info(Architecture arch) {
  for (const ArchInfo& info : kArchs) {
    if (info.arch == arch) return info;
  }
  return kArchs[0];
}

StatusOr<Architecture> ParseArchitecture(const json& root, const std::string& source) {
  const std::string supported = Join(SupportedArchitectures());
  auto it = root.find("architectures");
  if (it != root.end() && !it->is_null()) {
    if (!it->is_array() || it->empty()) {
      return InvalidArgument(source + ": architectures: expected a non-empty list of class names");
    }
    std::vector<std::string> names;
    for (const json& name : *it) {
      if (!name.is_string()) {
        return InvalidArgument(source + ": architectures: expected strings, got " + name.dump());
      }
      for (const ArchInfo& info : kArchs) {
        if (name.get<std::string>() == info.name) return info.arch;
      }
      names.push_back(name.get<std::string>());
    }
    return Unsupported(source + ": architecture '" + Join(names, "', '") +
                       "' is not supported (supported: " + supported + ")");
  }
  auto mt = root.find("model_type");
  if (mt != root.end() && mt->is_string()) {
    for (const ArchInfo& info : kArchs) {
      if (mt->get<std::string>() == info.model_type) return info.arch;
    }
    return Unsupported(source + ": model_type '" + mt->get<std::string>() +
                       "' is not supported (supported: " + supported + ")");
  }
  return InvalidArgument(
      source + ": neither 'architectures' nor 'model_type' is set (supported: " + supported + ")");
}

Status ParseRope(const Field& f, ModelConfig& c) {
  const json& root = f.root;
  // transformers 5 reads rope_scaling first (legacy), then rope_parameters.
  const json* params = nullptr;
  std::string key;
  for (const char* k : {"rope_scaling", "rope_parameters"}) {
    const json* v = f.Find(root, k);
    if (v && !(v->is_object() && v->empty())) {
      params = v;
      key = k;
      break;
    }
  }
  if (params && !params->is_object()) return f.Error(key, "expected an object or null");
  const std::string prefix = key + ".";
  COMPASS_ASSIGN_OR_RETURN(double top_theta, f.Number(root, "rope_theta", 10000.0));
  c.rope.theta = top_theta;
  if (!params) return Status::Ok();
  COMPASS_ASSIGN_OR_RETURN(c.rope.theta, f.Number(*params, "rope_theta", top_theta, prefix));
  std::string type = "default";
  if (const json* t = f.Find(*params, "rope_type")) {
    if (!t->is_string()) return f.Error(prefix + "rope_type", "expected a string");
    type = t->get<std::string>();
  } else if (const json* t2 = f.Find(*params, "type")) {
    if (!t2->is_string()) return f.Error(prefix + "type", "expected a string");
    type = t2->get<std::string>();
  }
  COMPASS_ASSIGN_OR_RETURN(double partial, f.Number(*params, "partial_rotary_factor", 1.0, prefix));
  if (partial != 1.0) {
    return Unsupported(f.source + ": " + prefix + "partial_rotary_factor " +
                       std::to_string(partial) + " is not supported (only 1.0)");
  }
  if (type == "default") {
    c.rope.type = RopeType::kDefault;
    return Status::Ok();
  }
  if (type == "linear") {
    c.rope.type = RopeType::kLinear;
  } else if (type == "dynamic") {
    c.rope.type = RopeType::kDynamic;
  } else if (type == "llama3") {
    c.rope.type = RopeType::kLlama3;
  } else {
    return Unsupported(f.source + ": " + prefix + "rope_type '" + type +
                       "' is not supported (supported: default, linear, dynamic, llama3)");
  }
  COMPASS_ASSIGN_OR_RETURN(c.rope.factor, f.Number(*params, "factor", std::nullopt, prefix));
  if (!(c.rope.factor > 0)) return f.Error(prefix + "factor", "must be positive");
  if (c.rope.type == RopeType::kLlama3) {
    COMPASS_ASSIGN_OR_RETURN(c.rope.low_freq_factor,
                             f.Number(*params, "low_freq_factor", std::nullopt, prefix));
    COMPASS_ASSIGN_OR_RETURN(c.rope.high_freq_factor,
                             f.Number(*params, "high_freq_factor", std::nullopt, prefix));
    COMPASS_ASSIGN_OR_RETURN(
        c.rope.original_max_position_embeddings,
        f.Int(*params, "original_max_position_embeddings", c.max_position_embeddings, prefix));
    if (!(c.rope.high_freq_factor > c.rope.low_freq_factor)) {
      return f.Error(prefix + "high_freq_factor", "must be larger than low_freq_factor");
    }
    if (c.rope.original_max_position_embeddings <= 0) {
      return f.Error(prefix + "original_max_position_embeddings", "must be positive");
    }
  }
  return Status::Ok();
}

Status ParseSlidingWindow(const Field& f, ModelConfig& c) {
  c.layer_sliding_window.assign(c.num_hidden_layers, 0);
  if (c.architecture == Architecture::kLlama) return Status::Ok();
  std::optional<int64_t> window;
  if (f.Find(f.root, "sliding_window")) {
    COMPASS_ASSIGN_OR_RETURN(int64_t w, f.Int(f.root, "sliding_window", std::nullopt));
    if (w <= 0) return f.Error("sliding_window", "must be positive or null");
    window = w;
  }
  if (c.architecture == Architecture::kMistral) {
    c.sliding_window = window;
    if (window) c.layer_sliding_window.assign(c.num_hidden_layers, *window);
    return Status::Ok();
  }
  // Qwen2: the window applies only with use_sliding_window, to the layers
  // layer_types marks (by default those from max_window_layers on).
  COMPASS_ASSIGN_OR_RETURN(bool use, f.Bool(f.root, "use_sliding_window", false));
  if (!use || !window) return Status::Ok();
  c.sliding_window = window;
  if (const json* types = f.Find(f.root, "layer_types")) {
    if (!types->is_array() || static_cast<int64_t>(types->size()) != c.num_hidden_layers) {
      return f.Error("layer_types",
                     "expected a list of " + std::to_string(c.num_hidden_layers) + " entries");
    }
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      const json& t = (*types)[i];
      if (t == "sliding_attention") {
        c.layer_sliding_window[i] = *window;
      } else if (t != "full_attention") {
        return f.Error("layer_types", "unknown layer type " + t.dump());
      }
    }
    return Status::Ok();
  }
  COMPASS_ASSIGN_OR_RETURN(int64_t max_window_layers, f.Int(f.root, "max_window_layers", 28));
  if (max_window_layers < 0) {
    return f.Error("max_window_layers",
                   "must not be negative, got " + std::to_string(max_window_layers));
  }
  for (int64_t i = max_window_layers; i < c.num_hidden_layers; ++i)
    c.layer_sliding_window[i] = *window;
  return Status::Ok();
}

}  // namespace

const char* ArchitectureName(Architecture arch) {
  return Info(arch).name;
}

std::vector<std::string> SupportedArchitectures() {
  std::vector<std::string> names;
  for (const ArchInfo& info : kArchs) names.emplace_back(info.name);
  return names;
}

const char* RopeTypeName(RopeType type) {
  switch (type) {
    case RopeType::kDefault: return "default";
    case RopeType::kLinear: return "linear";
    case RopeType::kDynamic: return "dynamic";
    case RopeType::kLlama3: return "llama3";
  }
  return "?";
}

StatusOr<ModelConfig> ParseModelConfig(std::string_view json_text, const std::string& source) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {  // also a number beyond double ("1e999")
    return InvalidArgument(source + ": not valid JSON: " + e.what());
  }
  if (!root.is_object()) return InvalidArgument(source + ": expected a JSON object");
  const Field f{root, source};
  ModelConfig c;
  c.source = source;
  COMPASS_ASSIGN_OR_RETURN(c.architecture, ParseArchitecture(root, source));
  COMPASS_ASSIGN_OR_RETURN(c.vocab_size, f.Int(root, "vocab_size", std::nullopt));
  COMPASS_ASSIGN_OR_RETURN(c.hidden_size, f.Int(root, "hidden_size", std::nullopt));
  COMPASS_ASSIGN_OR_RETURN(c.intermediate_size, f.Int(root, "intermediate_size", std::nullopt));
  COMPASS_ASSIGN_OR_RETURN(c.num_hidden_layers, f.Int(root, "num_hidden_layers", std::nullopt));
  COMPASS_ASSIGN_OR_RETURN(c.num_attention_heads, f.Int(root, "num_attention_heads", std::nullopt));
  struct Size {
    const char* key;
    int64_t value, max;
  };
  for (const Size& size : {Size{"vocab_size", c.vocab_size, kMaxVocabSize},
                           Size{"hidden_size", c.hidden_size, kMaxWidth},
                           Size{"intermediate_size", c.intermediate_size, kMaxWidth},
                           Size{"num_hidden_layers", c.num_hidden_layers, kMaxLayers},
                           Size{"num_attention_heads", c.num_attention_heads, kMaxHeads}}) {
    if (size.value <= 0) {
      return f.Error(size.key, "must be positive, got " + std::to_string(size.value));
    }
    if (size.value > size.max) {
      return f.Error(size.key, TooLarge(size.value, size.max));
    }
  }
  COMPASS_ASSIGN_OR_RETURN(c.num_key_value_heads,
                           f.Int(root, "num_key_value_heads", c.num_attention_heads));
  if (c.num_key_value_heads <= 0 || c.num_attention_heads % c.num_key_value_heads != 0) {
    return f.Error("num_key_value_heads", std::to_string(c.num_key_value_heads) +
                                              " does not divide num_attention_heads " +
                                              std::to_string(c.num_attention_heads));
  }
  if (!f.Find(root, "head_dim") && c.hidden_size % c.num_attention_heads != 0) {
    return f.Error("hidden_size",
                   std::to_string(c.hidden_size) + " is not a multiple of num_attention_heads " +
                       std::to_string(c.num_attention_heads) + " and head_dim is not set");
  }
  COMPASS_ASSIGN_OR_RETURN(c.head_dim,
                           f.Int(root, "head_dim", c.hidden_size / c.num_attention_heads));
  if (c.head_dim <= 0 || c.head_dim % 2 != 0) {
    return f.Error("head_dim", "must be positive and even for rotary embeddings, got " +
                                   std::to_string(c.head_dim));
  }
  if (c.head_dim > kMaxHeadDim) {
    return f.Error("head_dim", TooLarge(c.head_dim, kMaxHeadDim));
  }
  if (const json* act = f.Find(root, "hidden_act")) {
    if (!act->is_string() || (*act != "silu" && *act != "swish")) {
      return Unsupported(source + ": hidden_act " + act->dump() + " is not supported (only silu)");
    }
  }
  COMPASS_ASSIGN_OR_RETURN(c.rms_norm_eps, f.Number(root, "rms_norm_eps", 1e-6));
  if (!(c.rms_norm_eps > 0)) return f.Error("rms_norm_eps", "must be positive");
  COMPASS_ASSIGN_OR_RETURN(
      c.max_position_embeddings,
      f.Int(root, "max_position_embeddings", Info(c.architecture).default_max_positions));
  if (c.max_position_embeddings <= 0) return f.Error("max_position_embeddings", "must be positive");
  if (c.max_position_embeddings > kMaxPositions) {
    return f.Error("max_position_embeddings", TooLarge(c.max_position_embeddings, kMaxPositions));
  }
  COMPASS_RETURN_IF_ERROR(ParseRope(f, c));
  COMPASS_ASSIGN_OR_RETURN(c.tie_word_embeddings, f.Bool(root, "tie_word_embeddings", false));
  switch (c.architecture) {
    case Architecture::kLlama: {
      COMPASS_ASSIGN_OR_RETURN(bool attention_bias, f.Bool(root, "attention_bias", false));
      c.qkv_bias = c.o_bias = attention_bias;
      COMPASS_ASSIGN_OR_RETURN(c.mlp_bias, f.Bool(root, "mlp_bias", false));
      break;
    }
    case Architecture::kMistral: break;
    case Architecture::kQwen2: c.qkv_bias = true; break;
  }
  COMPASS_RETURN_IF_ERROR(ParseSlidingWindow(f, c));
  for (const char* key : {"dtype", "torch_dtype"}) {
    const json* v = f.Find(root, key);
    if (!v || !v->is_string()) continue;
    auto dt = ParseDType(v->get<std::string>());
    if (dt.ok()) c.torch_dtype = *dt;
    break;
  }
  if (f.Find(root, "bos_token_id")) {
    COMPASS_ASSIGN_OR_RETURN(int64_t bos, f.Int(root, "bos_token_id", std::nullopt));
    c.bos_token_id = bos;
  }
  if (const json* eos = f.Find(root, "eos_token_id")) {
    if (eos->is_array()) {
      for (const json& e : *eos) {
        if (!e.is_number_integer()) return f.Error("eos_token_id", "expected integers");
        c.eos_token_ids.push_back(e.get<int64_t>());
      }
    } else {
      COMPASS_ASSIGN_OR_RETURN(int64_t id, f.Int(root, "eos_token_id", std::nullopt));
      c.eos_token_ids.push_back(id);
    }
  }
  return c;
}

StatusOr<ModelConfig> LoadModelConfig(const std::string& path) {
  if (gguf::IsGgufPath(path)) {
    COMPASS_ASSIGN_OR_RETURN(auto gguf_file, gguf::GgufFile::Open(path));
    return ConfigFromGguf(*gguf_file);
  }
  std::string file = path;
  {
    std::ifstream probe(path + "/config.json");
    if (probe) file = path + "/config.json";
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) return IoError(file + ": cannot open config file");
  std::ostringstream text;
  text << in.rdbuf();
  if (!in.good() && !in.eof()) return IoError(file + ": read error");
  return ParseModelConfig(text.str(), file);
}

int64_t ParamSpec::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

std::vector<ParamSpec> ExpectedParameters(const ModelConfig& c) {
  std::vector<ParamSpec> out;
  const int64_t h = c.hidden_size;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, h}, -1});
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    auto add = [&](const std::string& name, std::vector<int64_t> shape) {
      out.push_back({p + name, std::move(shape), i});
    };
    add("input_layernorm.weight", {h});
    add("self_attn.q_proj.weight", {c.q_size(), h});
    if (c.qkv_bias) add("self_attn.q_proj.bias", {c.q_size()});
    add("self_attn.k_proj.weight", {c.kv_size(), h});
    if (c.qkv_bias) add("self_attn.k_proj.bias", {c.kv_size()});
    add("self_attn.v_proj.weight", {c.kv_size(), h});
    if (c.qkv_bias) add("self_attn.v_proj.bias", {c.kv_size()});
    add("self_attn.o_proj.weight", {h, c.q_size()});
    if (c.o_bias) add("self_attn.o_proj.bias", {h});
    add("post_attention_layernorm.weight", {h});
    add("mlp.gate_proj.weight", {c.intermediate_size, h});
    if (c.mlp_bias) add("mlp.gate_proj.bias", {c.intermediate_size});
    add("mlp.up_proj.weight", {c.intermediate_size, h});
    if (c.mlp_bias) add("mlp.up_proj.bias", {c.intermediate_size});
    add("mlp.down_proj.weight", {h, c.intermediate_size});
    if (c.mlp_bias) add("mlp.down_proj.bias", {h});
  }
  out.push_back({"model.norm.weight", {h}, -1});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, h}, -1});
  return out;
}

ParameterAccounting AccountParameters(const ModelConfig& c, DType dtype) {
  ParameterAccounting a;
  a.dtype = dtype;
  a.layers.resize(c.num_hidden_layers);
  for (const ParamSpec& p : ExpectedParameters(c)) {
    const uint64_t n = static_cast<uint64_t>(p.numel());
    a.total_params += n;
    if (p.layer >= 0) {
      LayerAccounting& l = a.layers[p.layer];
      if (p.name.find(".self_attn.") != std::string::npos) {
        l.attention_params += n;
      } else if (p.name.find(".mlp.") != std::string::npos) {
        l.mlp_params += n;
      } else {
        l.norm_params += n;
      }
    } else if (p.name == "model.embed_tokens.weight") {
      a.embed_tokens_params = n;
    } else if (p.name == "model.norm.weight") {
      a.norm_params = n;
    } else {
      a.lm_head_params = n;
    }
  }
  a.kv_cache_bytes_per_token =
      2ull * c.num_hidden_layers * c.num_key_value_heads * c.head_dim * DTypeSize(dtype);
  return a;
}

std::string ParameterAccounting::Summary() const {
  std::ostringstream s;
  s << "parameters " << total_params << " (" << FormatBytes(total_bytes()) << " in "
    << DTypeName(dtype) << ")\n";
  s << "  embed_tokens " << FormatBytes(embed_tokens_bytes()) << "\n";
  for (size_t i = 0; i < layers.size(); ++i) {
    s << "  layer " << i << " " << FormatBytes(layer_bytes(i)) << " (attention "
      << FormatBytes(Bytes(layers[i].attention_params)) << ", mlp "
      << FormatBytes(Bytes(layers[i].mlp_params)) << ", norms "
      << FormatBytes(Bytes(layers[i].norm_params)) << ")\n";
  }
  s << "  norm " << FormatBytes(norm_bytes()) << "\n";
  s << "  lm_head " << (lm_head_params ? FormatBytes(lm_head_bytes()) : "tied to embed_tokens")
    << "\n";
  s << "  KV cache per token " << FormatBytes(kv_cache_bytes_per_token) << "\n";
  return s.str();
}

}  // namespace compass::model
