// Sizes that depend on how a model is split over tensor-parallel ranks and
// pipeline stages, from the config alone (no torch): what the planners of
// the backends (and the core's cluster plan) budget with.
#ifndef COMPASS_MODELS_PARALLEL_ACCOUNTING_H_
#define COMPASS_MODELS_PARALLEL_ACCOUNTING_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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

// K and V bytes one token takes on one of `tp` ranks for `layers` decoder
// layers: 2 x layers x KvHeadsPerRank x head_dim x dtype size.
uint64_t KvBytesPerToken(const ModelConfig& config, DType dtype, int64_t tp, int64_t layers);

// Working set of one decoder layer for `tokens` tokens on one of `tp`
// ranks, through SDPA (which never materialises the [heads, T, T] scores):
// in the run dtype the layer's input, its normed copy, the attention output
// and the residual (4 hidden); q, k, v and their rotated copies
// (2 (q + 2 kv)); the attention output and its transposed copy (2 q); the
// MLP's gate, up, silu(gate) and product (4 intermediate); plus RMSNorm's
// float32 copy of the hidden state. Heads and intermediate are the rank's.
uint64_t LayerActivationBytes(const ModelConfig& config, DType dtype, uint64_t tokens,
                              int64_t tp = 1);

// Decoder layers [begin, end) per stage for `stages` stages of equal layer
// counts (differing by at most one, earlier stages get the extra); empty
// unless 1 <= stages <= layers.
std::vector<std::pair<int64_t, int64_t>> EvenLayerSplit(int64_t layers, int64_t stages);

// The weight bytes of a stage holding layers [begin, end): its layers, plus
// the embedding when `first`, plus the final norm and the LM head when
// `last` (a tied head, acc.lm_head_params == 0, is a copy of the embedding
// when the stage is last but not also first). Split over tp ranks, a rank
// holds this / tp (rounded up).
uint64_t StageWeightBytes(const ParameterAccounting& acc, int64_t begin, int64_t end, bool first,
                          bool last);

// The hidden states a stage boundary holds for `tokens` tokens: two
// buffers (the one being sent or received and the next) of [tokens,
// hidden] in the run dtype.
uint64_t StageBoundaryBytes(const ModelConfig& config, DType dtype, uint64_t tokens);

}  // namespace compass::model

#endif  // COMPASS_MODELS_PARALLEL_ACCOUNTING_H_
