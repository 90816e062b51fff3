// The decoder's building blocks (Llama, Mistral and Qwen2 families), each
// owning its weights on one device in one dtype, so that backends can place
// and shard them as they like: whole layers per device, tensor-parallel
// shards (TensorParallel), or pipeline stages.
//
// Numerics follow transformers' eager implementation (see docs/model.md).
// Contracts: modules are immutable after creation, so Forward may run from
// several threads at once (each with its own KV cache). Inputs must be on
// the module's device in its dtype (ids int64); misuse (wrong shape, device
// or dtype) throws c10::Error, as libtorch does: these are programming
// errors, and the Status-returning entry points (loading, CausalLM) catch
// and report them. Loaders return Status for bad checkpoints or shardings.
#ifndef COMPASS_MODELS_LAYERS_H_
#define COMPASS_MODELS_LAYERS_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <utility>

#include "models/kv_cache.h"
#include "models/model_config.h"
#include "models/weights.h"
#include "util/status.h"

namespace compass::model {

// This process's part of a tensor-parallel group: rank in [0, size).
struct TensorParallel {
  int64_t rank = 0;
  int64_t size = 1;
};

// y = x W^T + b, W [out, in].
class Linear {
 public:
  Linear() = default;
  // Copies weight [out, in] and bias [out] (undefined: none) into placement.
  static Linear Create(const at::Tensor& weight, const at::Tensor& bias,
                       const Placement& placement);
  // Column-parallel shard `index` of `count`: output features
  // [index * out / count, (index + 1) * out / count) and that part of the
  // bias. The shards' outputs concatenated equal the full layer's.
  // InvalidArgument unless count divides out.
  static StatusOr<Linear> ColumnShard(const at::Tensor& weight, const at::Tensor& bias,
                                      int64_t index, int64_t count, const Placement& placement);
  // Row-parallel shard: the same split of the input features; the input is
  // the matching slice of x. The bias stays with shard 0 only, so the shards'
  // outputs summed equal the full layer's. InvalidArgument unless count
  // divides in.
  static StatusOr<Linear> RowShard(const at::Tensor& weight, const at::Tensor& bias, int64_t index,
                                   int64_t count, const Placement& placement);

  at::Tensor Forward(const at::Tensor& x) const;  // [..., in] -> [..., out]
  const at::Tensor& weight() const { return weight_; }
  const at::Tensor& bias() const { return bias_; }
  int64_t in_features() const { return weight_.size(1); }
  int64_t out_features() const { return weight_.size(0); }

 private:
  at::Tensor weight_;
  at::Tensor bias_;
};

// Token embeddings, whole or vocab-parallel.
class Embedding {
 public:
  Embedding() = default;
  static Embedding Create(const at::Tensor& weight, const Placement& placement);
  // Rows [index * n, (index + 1) * n) with n = ceil(vocab / (64 * count)) *
  // 64 (the vocabulary padded to a multiple of 64 x count), zero rows padding
  // past the vocabulary; ids outside the shard give zeros, so the shards'
  // outputs summed equal the full lookup.
  static StatusOr<Embedding> VocabShard(const at::Tensor& weight, int64_t index, int64_t count,
                                        const Placement& placement);
  at::Tensor Forward(const at::Tensor& ids) const;  // int64 [...] -> [..., hidden]
  const at::Tensor& weight() const { return weight_; }
  int64_t vocab_begin() const { return begin_; }

 private:
  at::Tensor weight_;
  int64_t begin_ = 0;
  bool sharded_ = false;
};

// weight * (x / sqrt(mean(x^2) + eps)), computed in float32 and cast back to
// x's dtype before the weight multiplies, exactly as transformers.
class RMSNorm {
 public:
  RMSNorm() = default;
  static RMSNorm Create(const at::Tensor& weight, double eps, const Placement& placement);
  at::Tensor Forward(const at::Tensor& x) const;
  const at::Tensor& weight() const { return weight_; }

 private:
  at::Tensor weight_;
  double eps_ = 1e-6;
};

// Rotary position embeddings: inverse frequencies as transformers computes
// them for the default, linear, dynamic (NTK) and llama3 types, in float32.
class RotaryEmbedding {
 public:
  RotaryEmbedding() = default;
  static RotaryEmbedding Create(const ModelConfig& config, c10::Device device);

  // cos, sin [B, T, head_dim] in `dtype` for `positions` [B, T] int64.
  // Dynamic scaling gives each row the frequencies transformers uses for
  // that sequence alone: those for length 1 + the row's largest position
  // among this call's tokens (`valid` [B, T] bool; undefined: all), the
  // unscaled ones up to max_position_embeddings.
  std::pair<at::Tensor, at::Tensor> CosSin(const at::Tensor& positions, const at::Tensor& valid,
                                           c10::ScalarType dtype) const;
  // Inverse frequencies [head_dim / 2] float32 for a sequence of `seq_len`
  // (only the dynamic type depends on it).
  at::Tensor InvFreq(int64_t seq_len) const;
  // x * cos + rotate_half(x) * sin for x [B, heads, T, D], cos/sin [B, T, D].
  static at::Tensor Apply(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

 private:
  RopeConfig rope_;
  int64_t dim_ = 0;
  int64_t max_positions_ = 0;
  at::Tensor inv_freq_;  // [dim / 2] float32 on the device
};

// down(silu(gate(x)) * up(x)). Under tensor parallelism gate/up are column
// shards and down a row shard: Forward returns this rank's partial sum.
class MLP {
 public:
  MLP() = default;
  MLP(Linear gate, Linear up, Linear down);
  // InvalidArgument unless tp.size divides intermediate_size.
  static StatusOr<MLP> Load(const ModelWeights& weights, int64_t layer, const Placement& placement,
                            const TensorParallel& tp = {});
  at::Tensor Forward(const at::Tensor& x) const;

 private:
  Linear gate_, up_, down_;
};

// Self-attention with RoPE, grouped-query heads and an optional sliding
// window. The attention itself is the KV cache's (KvCache::Attend), or
// DenseAttention over the step's own keys without a cache, computed as the
// batch's impl says (eager or SDPA).
class Attention {
 public:
  struct Shape {
    int64_t num_heads = 0;     // on this rank
    int64_t num_kv_heads = 0;  // on this rank
    int64_t head_dim = 0;
    int64_t sliding_window = 0;  // 0: full attention
  };
  Attention() = default;
  Attention(Linear q, Linear k, Linear v, Linear o, Shape shape, int64_t layer);
  // Tensor parallel: q heads split evenly (tp.size must divide them), KV heads
  // split when tp.size <= kv heads (and divides them) or else replicated
  // (kv heads must divide tp.size), o_proj a row shard. InvalidArgument
  // naming the counts otherwise.
  static StatusOr<Attention> Load(const ModelWeights& weights, int64_t layer,
                                  const Placement& placement, const TensorParallel& tp = {});

  // hidden [B, T, hidden]; cos/sin from RotaryEmbedding::CosSin in hidden's
  // dtype; `batch` from the cache's BeginStep (or StepBatch without a
  // cache), whose impl chooses eager or SDPA attention. Returns
  // [B, T, hidden] (this rank's partial sum under TP).
  at::Tensor Forward(const at::Tensor& hidden, const at::Tensor& cos, const at::Tensor& sin,
                     const AttentionBatch& batch, KvCache* cache) const;
  const Shape& shape() const { return shape_; }
  int64_t layer() const { return layer_; }

 private:
  Linear q_, k_, v_, o_;
  Shape shape_;
  int64_t layer_ = 0;
};

// Reduces a rank's partial sum across the tensor-parallel group (an
// all-reduce); empty for a single rank.
using AllReduce = std::function<at::Tensor(const at::Tensor&)>;

// Pre-norm residual block: x + attn(norm1(x)), then + mlp(norm2(.)).
class DecoderLayer {
 public:
  DecoderLayer() = default;
  static StatusOr<DecoderLayer> Load(const ModelWeights& weights, int64_t layer,
                                     const Placement& placement, const TensorParallel& tp = {});
  // Inputs as Attention::Forward; all on this layer's device. `reduce` is
  // applied to the attention and MLP outputs before each residual add when
  // the layer is a tensor-parallel shard.
  at::Tensor Forward(const at::Tensor& hidden, const at::Tensor& cos, const at::Tensor& sin,
                     const AttentionBatch& batch, KvCache* cache,
                     const AllReduce& reduce = nullptr) const;
  const Placement& placement() const { return placement_; }
  const Attention& attention() const { return attention_; }

 private:
  Placement placement_;
  RMSNorm input_norm_, post_attention_norm_;
  Attention attention_;
  MLP mlp_;
};

// The output projection to vocabulary logits (lm_head, or the tied
// embeddings), whole or vocab-parallel like Embedding::VocabShard.
class LMHead {
 public:
  LMHead() = default;
  static StatusOr<LMHead> Load(const ModelWeights& weights, const Placement& placement,
                               const TensorParallel& tp = {});
  // hidden [..., hidden] -> float32 logits [..., vocab] (a shard: [...,
  // the shard's rows of Embedding::VocabShard], padding columns 0; concatenate
  // and cut to vocab).
  at::Tensor Forward(const at::Tensor& hidden) const;

 private:
  at::Tensor weight_;
};

}  // namespace compass::model

#endif  // COMPASS_MODELS_LAYERS_H_
