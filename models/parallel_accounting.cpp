#include "models/parallel_accounting.h"

namespace compass::model {

int64_t KvHeadsPerRank(const ModelConfig& config, int64_t tp) {
  return config.num_key_value_heads >= tp ? config.num_key_value_heads / tp : 1;
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

}  // namespace compass::model
