#include "models/tiny_model.h"

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <nlohmann/json.hpp>

#include "util/strings.h"

namespace compass::model {
namespace {

using nlohmann::ordered_json;

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t Fnv1a(uint64_t h, const void* data, size_t n) {
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= kFnvPrime;
  }
  return h;
}

uint64_t Fnv1a(uint64_t h, std::string_view s) {
  return Fnv1a(h, s.data(), s.size());
}

uint64_t FnvU64(uint64_t h, uint64_t v) {
  uint8_t le[8];
  for (int i = 0; i < 8; ++i) le[i] = static_cast<uint8_t>(v >> (8 * i));
  return Fnv1a(h, le, 8);
}

// Standard normal deviates from raw 64-bit draws (Box-Muller), so that the
// values do not depend on a standard library's distribution code.
class Normal {
 public:
  explicit Normal(uint64_t seed) : gen_(seed) {}
  double Next() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    constexpr double kScale = 1.0 / 9007199254740992.0;                    // 2^-53
    const double u1 = (static_cast<double>(gen_() >> 11) + 1.0) * kScale;  // (0, 1]
    const double u2 = static_cast<double>(gen_() >> 11) * kScale;          // [0, 1)
    const double r = std::sqrt(-2.0 * std::log(u1));
    const double angle = 6.283185307179586 * u2;
    spare_ = r * std::sin(angle);
    has_spare_ = true;
    return r * std::cos(angle);
  }

 private:
  std::mt19937_64 gen_;
  double spare_ = 0;
  bool has_spare_ = false;
};

TinyModelSpec Base(const char* variant, Architecture arch, uint64_t seed) {
  TinyModelSpec s;
  s.variant = variant;
  s.architecture = arch;
  s.seed = seed;
  return s;
}

const char* ModelType(Architecture arch) {
  switch (arch) {
    case Architecture::kLlama: return "llama";
    case Architecture::kMistral: return "mistral";
    case Architecture::kQwen2: return "qwen2";
  }
  return "";
}

const char* TorchDTypeName(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "float32";
    case DType::kF16: return "float16";
    case DType::kBF16: return "bfloat16";
  }
  return "";
}

StatusOr<std::string> ConfigJson(const TinyModelSpec& s) {
  ordered_json j;
  j["architectures"] = {ArchitectureName(s.architecture)};
  j["model_type"] = ModelType(s.architecture);
  j["vocab_size"] = s.vocab_size;
  j["hidden_size"] = s.hidden_size;
  j["intermediate_size"] = s.intermediate_size;
  j["num_hidden_layers"] = s.num_layers;
  j["num_attention_heads"] = s.num_heads;
  j["num_key_value_heads"] = s.num_kv_heads;
  if (s.head_dim > 0) j["head_dim"] = s.head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = s.max_position_embeddings;
  j["rms_norm_eps"] = s.rms_norm_eps;
  ordered_json rope;
  if (!s.rope_json.empty()) {
    try {
      rope = ordered_json::parse(s.rope_json);
    } catch (const ordered_json::exception& e) {  // also a number beyond double
      return InvalidArgument("tiny model " + s.variant + ": rope_json is not JSON: " + e.what());
    }
  }
  if (s.rope_key == "rope_parameters" && !rope.is_null()) {
    if (!rope.contains("rope_theta")) rope["rope_theta"] = s.rope_theta;
    j["rope_parameters"] = rope;
  } else {
    j["rope_theta"] = s.rope_theta;
    j["rope_scaling"] = rope;
  }
  j["tie_word_embeddings"] = s.tie_word_embeddings;
  switch (s.architecture) {
    case Architecture::kLlama:
      j["attention_bias"] = false;
      j["mlp_bias"] = false;
      break;
    case Architecture::kMistral:
      j["sliding_window"] = s.sliding_window ? ordered_json(*s.sliding_window) : ordered_json();
      break;
    case Architecture::kQwen2:
      j["use_sliding_window"] = false;
      j["sliding_window"] = nullptr;
      j["max_window_layers"] = s.num_layers;
      break;
  }
  j["torch_dtype"] = TorchDTypeName(s.dtype);
  j["bos_token_id"] = 1;
  j["eos_token_id"] = 2;
  j["initializer_range"] = s.init_std;
  return j.dump(2) + "\n";
}

Status WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) return IoError(path + ": cannot write");
  return Status::Ok();
}

bool IsNorm(const std::string& name) {
  return name.size() >= 11 && name.compare(name.size() - 11, 11, "norm.weight") == 0;
}

}  // namespace

std::vector<std::string> TinyModelVariants() {
  return {"llama",       "llama_tied", "llama_head_dim", "llama_rope_linear", "llama_rope_dynamic",
          "llama3_rope", "mistral",    "qwen2"};
}

StatusOr<TinyModelSpec> TinyModelVariant(std::string_view name) {
  if (name == "llama") {
    TinyModelSpec s = Base("llama", Architecture::kLlama, 101);
    s.num_layers = 5;  // uneven splits
    return s;
  }
  if (name == "llama_tied") {
    TinyModelSpec s = Base("llama_tied", Architecture::kLlama, 102);
    s.vocab_size = 288;
    s.num_kv_heads = 4;
    s.tie_word_embeddings = true;
    return s;
  }
  if (name == "llama_head_dim") {
    TinyModelSpec s = Base("llama_head_dim", Architecture::kLlama, 103);
    s.head_dim = 32;  // hidden_size / num_heads is 16
    s.vocab_size = 256;
    return s;
  }
  if (name == "llama_rope_linear") {
    TinyModelSpec s = Base("llama_rope_linear", Architecture::kLlama, 104);
    s.rope_json = R"({"type": "linear", "factor": 2.0})";  // the legacy key
    return s;
  }
  if (name == "llama_rope_dynamic") {
    // Prompts and generations run past max_position_embeddings, where the
    // dynamic NTK base grows with the sequence.
    TinyModelSpec s = Base("llama_rope_dynamic", Architecture::kLlama, 105);
    s.rope_json = R"({"rope_type": "dynamic", "factor": 2.0})";
    s.max_position_embeddings = 16;
    return s;
  }
  if (name == "llama3_rope") {
    // With head_dim 16 and theta 1e4 the wavelengths (6.3, 19.9, 62.8, ...)
    // fall in all three llama3 bands for an original context of 32.
    TinyModelSpec s = Base("llama3_rope", Architecture::kLlama, 106);
    s.rope_key = "rope_parameters";
    s.rope_json = R"({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, )"
                  R"("high_freq_factor": 4.0, "original_max_position_embeddings": 32})";
    s.max_position_embeddings = 256;
    s.vocab_size = 384;
    return s;
  }
  if (name == "mistral") {
    TinyModelSpec s = Base("mistral", Architecture::kMistral, 107);
    s.num_kv_heads = 1;
    s.sliding_window = 12;
    s.vocab_size = 352;
    return s;
  }
  if (name == "qwen2") {
    TinyModelSpec s = Base("qwen2", Architecture::kQwen2, 108);
    s.tie_word_embeddings = true;
    s.rms_norm_eps = 1e-6;
    s.rope_theta = 1000000.0;
    s.vocab_size = 448;
    return s;
  }
  return NotFound("unknown tiny model variant '" + std::string(name) +
                  "' (variants: " + Join(TinyModelVariants()) + ")");
}

StatusOr<TinyModelFiles> WriteTinyModel(const TinyModelSpec& spec, const std::string& dir) {
  if (spec.shards != 1 && spec.shards != 2) {
    return InvalidArgument("tiny model " + spec.variant + ": shards must be 1 or 2");
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return IoError(dir + ": cannot create directory: " + ec.message());
  TinyModelFiles out;
  COMPASS_ASSIGN_OR_RETURN(std::string config_text, ConfigJson(spec));
  const std::string config_path = dir + "/config.json";
  COMPASS_ASSIGN_OR_RETURN(ModelConfig config, ParseModelConfig(config_text, config_path));
  COMPASS_RETURN_IF_ERROR(WriteText(config_path, config_text));
  out.files.push_back(config_path);

  const std::vector<ParamSpec> params = ExpectedParameters(config);
  std::vector<std::vector<uint8_t>> buffers;
  buffers.reserve(params.size());
  std::vector<TensorData> tensors;
  uint64_t total_bytes = 0;
  for (const ParamSpec& p : params) {
    // One stream per tensor, so that a tensor's values depend only on its
    // name and the seed.
    Normal normal(spec.seed * 0x9e3779b97f4a7c15ull ^ Fnv1a(kFnvOffset, p.name));
    const bool norm = IsNorm(p.name);
    const size_t n = static_cast<size_t>(p.numel());
    std::vector<uint8_t>& bytes = buffers.emplace_back(n * DTypeSize(spec.dtype));
    for (size_t i = 0; i < n; ++i) {
      const double z = normal.Next();
      const float v = static_cast<float>(norm ? 1.0 + spec.norm_std * z : spec.init_std * z);
      switch (spec.dtype) {
        case DType::kF32: std::memcpy(&bytes[4 * i], &v, 4); break;
        case DType::kF16: {
          const uint16_t h = FloatToF16(v);
          std::memcpy(&bytes[2 * i], &h, 2);
          break;
        }
        case DType::kBF16: {
          const uint16_t h = FloatToBF16(v);
          std::memcpy(&bytes[2 * i], &h, 2);
          break;
        }
      }
    }
    tensors.push_back({p.name, spec.dtype, p.shape, bytes.data()});
    total_bytes += bytes.size();
  }

  if (spec.shards == 1) {
    const std::string path = dir + "/model.safetensors";
    COMPASS_RETURN_IF_ERROR(WriteSafetensors(path, tensors));
    out.files.push_back(path);
  } else {
    // First shard: tensors up to about half the bytes, in checkpoint order.
    size_t split = 0;
    uint64_t acc = 0;
    while (split < tensors.size() && 2 * acc < total_bytes) acc += buffers[split++].size();
    const std::vector<TensorData> parts[2] = {{tensors.begin(), tensors.begin() + split},
                                              {tensors.begin() + split, tensors.end()}};
    ordered_json index;
    index["metadata"] = {{"total_size", total_bytes}};
    ordered_json weight_map = ordered_json::object();
    for (int s = 0; s < 2; ++s) {
      const std::string name = "model-0000" + std::to_string(s + 1) + "-of-00002.safetensors";
      COMPASS_RETURN_IF_ERROR(WriteSafetensors(dir + "/" + name, parts[s]));
      out.files.push_back(dir + "/" + name);
      for (const TensorData& t : parts[s]) weight_map[t.name] = name;
    }
    index["weight_map"] = weight_map;
    const std::string index_path = dir + "/model.safetensors.index.json";
    COMPASS_RETURN_IF_ERROR(WriteText(index_path, index.dump(2) + "\n"));
    out.files.push_back(index_path);
    // A stale single file would take precedence over the index.
    std::filesystem::remove(dir + "/model.safetensors", ec);
  }
  if (spec.shards == 1) {
    std::filesystem::remove(dir + "/model.safetensors.index.json", ec);
  }
  COMPASS_ASSIGN_OR_RETURN(Checkpoint checkpoint, Checkpoint::Open(dir));
  out.weights_checksum = WeightsChecksum(checkpoint);
  return out;
}

std::string WeightsChecksum(const Checkpoint& checkpoint) {
  uint64_t h = kFnvOffset;
  for (const std::string& name : checkpoint.names()) {
    const Checkpoint::Entry* e = checkpoint.Find(name);
    h = Fnv1a(h, name.data(), name.size() + 1);  // with the terminating NUL
    h = Fnv1a(h, std::string_view(DTypeName(e->info->dtype)));
    h = FnvU64(h, e->info->shape.size());
    for (int64_t d : e->info->shape) h = FnvU64(h, static_cast<uint64_t>(d));
    h = Fnv1a(h, e->file->data(*e->info), e->info->nbytes);
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

}  // namespace compass::model
