// Sizes that depend on how a model is split over tensor-parallel ranks,
// from the config alone (no torch): what the planners of the backends
// budget with.
#ifndef COMPASS_MODELS_PARALLEL_ACCOUNTING_H_
#define COMPASS_MODELS_PARALLEL_ACCOUNTING_H_

#include <cstdint>
#include <string>

#include "models/dtype.h"
#include "models/model_config.h"

namespace compass::model {

// Why `tp` ranks cannot split this model ("" when they can): tp must divide
// the attention heads and the MLP's intermediate size; the KV heads are
// split when tp divides them and replicated when they divide tp. The one
// rule the planners and the layers' loaders apply.
std::string TensorParallelRefusal(const ModelConfig& config, int64_t tp);

// KV heads each of `tp` ranks holds: the KV heads split when there are at
// least tp of them, else one (replicated), as Attention::Load shards them.
int64_t KvHeadsPerRank(const ModelConfig& config, int64_t tp);

// Working set of one decoder layer for `tokens` tokens on one of `tp`
// ranks, through SDPA (which never materialises the [heads, T, T] scores):
// in the run dtype the layer's input, its normed copy, the attention output
// and the residual (4 hidden); q, k, v and their rotated copies
// (2 (q + 2 kv)); the attention output and its transposed copy (2 q); the
// MLP's gate, up, silu(gate) and product (4 intermediate); plus RMSNorm's
// float32 copy of the hidden state. Heads and intermediate are the rank's.
uint64_t LayerActivationBytes(const ModelConfig& config, DType dtype, uint64_t tokens,
                              int64_t tp = 1);

}  // namespace compass::model

#endif  // COMPASS_MODELS_PARALLEL_ACCOUNTING_H_
