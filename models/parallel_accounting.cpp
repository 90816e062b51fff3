#include "models/parallel_accounting.h"

namespace compass::model {

std::string TensorParallelRefusal(const ModelConfig& c, int64_t tp) {
  const std::string n = std::to_string(tp);
  if (tp < 1) return "tp = " + n + " must be at least 1";
  if (c.num_attention_heads % tp != 0) {
    return "tp = " + n + " does not divide the model's " + std::to_string(c.num_attention_heads) +
           " attention heads (each rank computes heads / tp of them); use a tp that divides " +
           std::to_string(c.num_attention_heads);
  }
  if (c.num_key_value_heads % tp != 0 && tp % c.num_key_value_heads != 0) {
    return "tp = " + n + " and the model's " + std::to_string(c.num_key_value_heads) +
           " KV heads do not divide one another (KV heads are split when tp divides them and "
           "replicated when they divide tp)";
  }
  if (c.intermediate_size % tp != 0) {
    return "tp = " + n + " does not divide the model's intermediate_size " +
           std::to_string(c.intermediate_size) + " (each rank computes a slice of the MLP)";
  }
  return "";
}

int64_t KvHeadsPerRank(const ModelConfig& config, int64_t tp) {
  return config.num_key_value_heads >= tp ? config.num_key_value_heads / tp : 1;
}

uint64_t KvBytesPerToken(const ModelConfig& config, DType dtype, int64_t tp, int64_t layers) {
  return 2ull * static_cast<uint64_t>(layers) * static_cast<uint64_t>(KvHeadsPerRank(config, tp)) *
         static_cast<uint64_t>(config.head_dim) * DTypeSize(dtype);
}

uint64_t LayerActivationBytes(const ModelConfig& config, DType dtype, uint64_t tokens, int64_t tp) {
  const uint64_t ds = DTypeSize(dtype);
  const uint64_t ranks = static_cast<uint64_t>(tp);
  const uint64_t h = static_cast<uint64_t>(config.hidden_size);
  const uint64_t q = static_cast<uint64_t>(config.q_size()) / ranks;
  const uint64_t kv = static_cast<uint64_t>(KvHeadsPerRank(config, tp) * config.head_dim);
  const uint64_t inter = static_cast<uint64_t>(config.intermediate_size) / ranks;
  return tokens * ds * (4 * h + 2 * (q + 2 * kv) + 2 * q + 4 * inter) + tokens * h * 4;
}

std::vector<std::pair<int64_t, int64_t>> EvenLayerSplit(int64_t layers, int64_t stages) {
  std::vector<std::pair<int64_t, int64_t>> out;
  if (stages < 1 || stages > layers) return out;
  const int64_t base = layers / stages, extra = layers % stages;
  int64_t begin = 0;
  for (int64_t s = 0; s < stages; ++s) {
    const int64_t end = begin + base + (s < extra ? 1 : 0);
    out.emplace_back(begin, end);
    begin = end;
  }
  return out;
}

uint64_t StageWeightBytes(const ParameterAccounting& acc, int64_t begin, int64_t end, bool first,
                          bool last) {
  uint64_t bytes = 0;
  for (int64_t l = begin; l < end; ++l) bytes += acc.layer_bytes(static_cast<size_t>(l));
  if (first) bytes += acc.embed_tokens_bytes();
  if (last) {
    bytes += acc.norm_bytes() + acc.lm_head_bytes();
    if (acc.lm_head_params == 0 && !first) bytes += acc.embed_tokens_bytes();
  }
  return bytes;
}

uint64_t StageBoundaryBytes(const ModelConfig& config, DType dtype, uint64_t tokens) {
  return 2 * tokens * static_cast<uint64_t>(config.hidden_size) * DTypeSize(dtype);
}

}  // namespace compass::model
