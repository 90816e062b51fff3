#include "models/layers.h"

#include <ATen/ATen.h>

#include <cmath>

#include "models/parallel_accounting.h"

namespace compass::model {
namespace {

Status CheckShard(const char* what, int64_t features, int64_t index, int64_t count) {
  if (count < 1 || index < 0 || index >= count) {
    return InvalidArgument(std::string(what) + ": shard " + std::to_string(index) + " of " +
                           std::to_string(count) + " does not exist");
  }
  if (features % count != 0) {
    return InvalidArgument(std::string(what) + ": " + std::to_string(features) +
                           " features do not split into " + std::to_string(count) + " shards");
  }
  return Status::Ok();
}

Status CheckTensorParallel(const TensorParallel& tp) {
  if (tp.size < 1 || tp.rank < 0 || tp.rank >= tp.size) {
    return InvalidArgument("tensor parallel rank " + std::to_string(tp.rank) + " of " +
                           std::to_string(tp.size) + " does not exist");
  }
  return Status::Ok();
}

std::string LayerPrefix(int64_t layer) {
  return "model.layers." + std::to_string(layer) + ".";
}

// The weight and, when the config has one, the bias of a projection.
StatusOr<std::pair<at::Tensor, at::Tensor>> Projection(const ModelWeights& weights,
                                                       const std::string& name, bool bias) {
  COMPASS_ASSIGN_OR_RETURN(at::Tensor w, weights.View(name + ".weight"));
  at::Tensor b;
  if (bias) {
    COMPASS_ASSIGN_OR_RETURN(b, weights.View(name + ".bias"));
  }
  return std::make_pair(w, b);
}

// 1 / theta^(2i / dim), as transformers computes it (float32, on the CPU).
at::Tensor DefaultInvFreq(double theta, int64_t dim) {
  const at::Tensor exponents = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / dim;
  return at::reciprocal(at::pow(theta, exponents));
}

}  // namespace

// ---------------------------------------------------------------- Linear

Linear Linear::Create(const at::Tensor& weight, const at::Tensor& bias,
                      const Placement& placement) {
  Linear l;
  l.weight_ = CopyTo(weight, placement);
  if (bias.defined()) l.bias_ = CopyTo(bias, placement);
  return l;
}

StatusOr<Linear> Linear::ColumnShard(const at::Tensor& weight, const at::Tensor& bias,
                                     int64_t index, int64_t count, const Placement& placement) {
  COMPASS_RETURN_IF_ERROR(CheckShard("column-parallel linear", weight.size(0), index, count));
  const int64_t n = weight.size(0) / count;
  return Create(weight.narrow(0, index * n, n),
                bias.defined() ? bias.narrow(0, index * n, n) : at::Tensor(), placement);
}

StatusOr<Linear> Linear::RowShard(const at::Tensor& weight, const at::Tensor& bias, int64_t index,
                                  int64_t count, const Placement& placement) {
  COMPASS_RETURN_IF_ERROR(CheckShard("row-parallel linear", weight.size(1), index, count));
  const int64_t n = weight.size(1) / count;
  return Create(weight.narrow(1, index * n, n), index == 0 ? bias : at::Tensor(), placement);
}

at::Tensor Linear::Forward(const at::Tensor& x) const {
  return at::linear(x, weight_, bias_);
}

// ---------------------------------------------------------------- Embedding

Embedding Embedding::Create(const at::Tensor& weight, const Placement& placement) {
  Embedding e;
  e.weight_ = CopyTo(weight, placement);
  return e;
}

StatusOr<Embedding> Embedding::VocabShard(const at::Tensor& weight, int64_t index, int64_t count,
                                          const Placement& placement) {
  if (count < 1 || index < 0 || index >= count) {
    return InvalidArgument("vocab-parallel embedding: shard " + std::to_string(index) + " of " +
                           std::to_string(count) + " does not exist");
  }
  const int64_t vocab = weight.size(0);
  // The vocabulary padded to a multiple of 64 x count: every shard has the
  // same whole number of 64-row tiles (aligned GEMMs on GPUs).
  const int64_t n = (vocab + 64 * count - 1) / (64 * count) * 64;
  const int64_t begin = std::min(vocab, index * n);
  const int64_t rows = std::min(vocab, begin + n) - begin;
  Embedding e;
  e.weight_ = at::zeros({n, weight.size(1)},
                        at::TensorOptions().dtype(placement.dtype).device(placement.device));
  if (rows > 0) e.weight_.narrow(0, 0, rows).copy_(weight.narrow(0, begin, rows));
  e.begin_ = index * n;
  e.sharded_ = true;
  return e;
}

at::Tensor Embedding::Forward(const at::Tensor& ids) const {
  if (!sharded_) return at::embedding(weight_, ids);
  const at::Tensor local = ids - begin_;
  const at::Tensor inside = (local >= 0) & (local < weight_.size(0));
  at::Tensor out = at::embedding(weight_, at::where(inside, local, at::zeros_like(local)));
  return out.masked_fill_(inside.logical_not().unsqueeze(-1), 0);
}

// ---------------------------------------------------------------- RMSNorm

RMSNorm RMSNorm::Create(const at::Tensor& weight, double eps, const Placement& placement) {
  RMSNorm n;
  n.weight_ = CopyTo(weight, placement);
  n.eps_ = eps;
  return n;
}

at::Tensor RMSNorm::Forward(const at::Tensor& x) const {
  const auto input_dtype = x.scalar_type();
  at::Tensor h = x.to(at::kFloat);
  const at::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
  h = h * at::rsqrt(variance + eps_);
  return weight_ * h.to(input_dtype);
}

// ---------------------------------------------------------------- RotaryEmbedding

RotaryEmbedding RotaryEmbedding::Create(const ModelConfig& config, c10::Device device) {
  RotaryEmbedding r;
  r.rope_ = config.rope;
  r.dim_ = config.head_dim;
  r.max_positions_ = config.max_position_embeddings;
  // Computed on the CPU, as transformers does at construction.
  r.inv_freq_ = r.InvFreq(r.max_positions_).to(device);
  return r;
}

at::Tensor RotaryEmbedding::InvFreq(int64_t seq_len) const {
  const at::Tensor inv = DefaultInvFreq(rope_.theta, dim_);
  switch (rope_.type) {
    case RopeType::kDefault: return inv;
    case RopeType::kLinear: return inv / rope_.factor;
    case RopeType::kDynamic: {
      if (seq_len <= max_positions_) return inv;
      const at::Tensor len = at::full({1}, seq_len, at::kLong);
      const at::Tensor base = ((len * rope_.factor) / max_positions_ - (rope_.factor - 1))
                                  .pow(static_cast<double>(dim_) / static_cast<double>(dim_ - 2)) *
                              rope_.theta;
      const at::Tensor exponents = at::arange(0, dim_, 2, at::kLong).to(at::kFloat) / dim_;
      return at::reciprocal(at::pow(base, exponents));
    }
    case RopeType::kLlama3: {
      // Operation for operation as transformers' _compute_llama3_parameters,
      // so that the float32 roundings agree.
      const double factor = rope_.factor;
      const double low = rope_.low_freq_factor;
      const double high = rope_.high_freq_factor;
      const double old_context = static_cast<double>(rope_.original_max_position_embeddings);
      const double low_freq_wavelen = old_context / low;
      const double high_freq_wavelen = old_context / high;
      const at::Tensor wavelen = at::reciprocal(inv) * (2 * M_PI);
      at::Tensor inv_llama = at::where(wavelen > low_freq_wavelen, inv / factor, inv);
      const at::Tensor smooth = (at::reciprocal(wavelen) * old_context - low) / (high - low);
      const at::Tensor smoothed = at::rsub(smooth, 1) * inv_llama / factor + smooth * inv_llama;
      const at::Tensor medium =
          (wavelen < high_freq_wavelen).logical_not() & (wavelen > low_freq_wavelen).logical_not();
      return at::where(medium, smoothed, inv_llama);
    }
  }
  return inv;
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::CosSin(const at::Tensor& positions,
                                                          const at::Tensor& valid,
                                                          c10::ScalarType dtype) const {
  at::Tensor inv = inv_freq_.to(positions.device());  // [D/2]
  if (rope_.type == RopeType::kDynamic) {
    const at::Tensor used =
        valid.defined() ? positions.masked_fill(valid.logical_not(), 0) : positions;
    const at::Tensor seq_len = std::get<0>(used.max(1)) + 1;  // [B]
    const at::Tensor clamped = at::clamp_min(seq_len, max_positions_);
    const at::Tensor base = ((clamped * rope_.factor) / max_positions_ - (rope_.factor - 1))
                                .pow(static_cast<double>(dim_) / static_cast<double>(dim_ - 2)) *
                            rope_.theta;  // [B] float32
    const at::Tensor exponents =
        at::arange(0, dim_, 2, positions.options().dtype(at::kLong)).to(at::kFloat) / dim_;
    const at::Tensor scaled = at::reciprocal(at::pow(base.unsqueeze(1), exponents));  // [B, D/2]
    inv = at::where((seq_len > max_positions_).unsqueeze(1), scaled, inv.unsqueeze(0));
    inv = inv.unsqueeze(1);  // [B, 1, D/2]
  }
  const at::Tensor freqs = positions.unsqueeze(-1).to(at::kFloat) * inv;  // [B, T, D/2]
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor RotaryEmbedding::Apply(const at::Tensor& x, const at::Tensor& cos,
                                  const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return (x * cos.unsqueeze(1)) + (rotated * sin.unsqueeze(1));
}

// ---------------------------------------------------------------- MLP

MLP::MLP(Linear gate, Linear up, Linear down)
    : gate_(std::move(gate)), up_(std::move(up)), down_(std::move(down)) {}

StatusOr<MLP> MLP::Load(const ModelWeights& weights, int64_t layer, const Placement& placement,
                        const TensorParallel& tp) {
  COMPASS_RETURN_IF_ERROR(CheckTensorParallel(tp));
  const ModelConfig& c = weights.config();
  if (const std::string why = TensorParallelRefusal(c, tp.size); !why.empty()) {
    return InvalidArgument(c.source + ": " + why);
  }
  const std::string p = LayerPrefix(layer) + "mlp.";
  COMPASS_ASSIGN_OR_RETURN(auto gate, Projection(weights, p + "gate_proj", c.mlp_bias));
  COMPASS_ASSIGN_OR_RETURN(auto up, Projection(weights, p + "up_proj", c.mlp_bias));
  COMPASS_ASSIGN_OR_RETURN(auto down, Projection(weights, p + "down_proj", c.mlp_bias));
  COMPASS_ASSIGN_OR_RETURN(
      Linear g, Linear::ColumnShard(gate.first, gate.second, tp.rank, tp.size, placement));
  COMPASS_ASSIGN_OR_RETURN(Linear u,
                           Linear::ColumnShard(up.first, up.second, tp.rank, tp.size, placement));
  COMPASS_ASSIGN_OR_RETURN(Linear d,
                           Linear::RowShard(down.first, down.second, tp.rank, tp.size, placement));
  return MLP(std::move(g), std::move(u), std::move(d));
}

at::Tensor MLP::Forward(const at::Tensor& x) const {
  return down_.Forward(at::silu(gate_.Forward(x)) * up_.Forward(x));
}

// ---------------------------------------------------------------- Attention

Attention::Attention(Linear q, Linear k, Linear v, Linear o, Shape shape, int64_t layer)
    : q_(std::move(q)),
      k_(std::move(k)),
      v_(std::move(v)),
      o_(std::move(o)),
      shape_(shape),
      layer_(layer) {}

StatusOr<Attention> Attention::Load(const ModelWeights& weights, int64_t layer,
                                    const Placement& placement, const TensorParallel& tp) {
  COMPASS_RETURN_IF_ERROR(CheckTensorParallel(tp));
  const ModelConfig& c = weights.config();
  const int64_t heads = c.num_attention_heads;
  const int64_t kv_heads = c.num_key_value_heads;
  if (const std::string why = TensorParallelRefusal(c, tp.size); !why.empty()) {
    return InvalidArgument(c.source + ": " + why);
  }
  // KV heads are split when there are enough, else each rank keeps the one
  // its query heads read.
  int64_t kv_index = tp.rank, kv_count = tp.size;
  if (kv_heads < tp.size) {
    kv_index = tp.rank / (tp.size / kv_heads);
    kv_count = kv_heads;
  }
  const std::string p = LayerPrefix(layer) + "self_attn.";
  COMPASS_ASSIGN_OR_RETURN(auto q, Projection(weights, p + "q_proj", c.qkv_bias));
  COMPASS_ASSIGN_OR_RETURN(auto k, Projection(weights, p + "k_proj", c.qkv_bias));
  COMPASS_ASSIGN_OR_RETURN(auto v, Projection(weights, p + "v_proj", c.qkv_bias));
  COMPASS_ASSIGN_OR_RETURN(auto o, Projection(weights, p + "o_proj", c.o_bias));
  COMPASS_ASSIGN_OR_RETURN(Linear lq,
                           Linear::ColumnShard(q.first, q.second, tp.rank, tp.size, placement));
  COMPASS_ASSIGN_OR_RETURN(Linear lk,
                           Linear::ColumnShard(k.first, k.second, kv_index, kv_count, placement));
  COMPASS_ASSIGN_OR_RETURN(Linear lv,
                           Linear::ColumnShard(v.first, v.second, kv_index, kv_count, placement));
  COMPASS_ASSIGN_OR_RETURN(Linear lo,
                           Linear::RowShard(o.first, o.second, tp.rank, tp.size, placement));
  Shape shape;
  shape.num_heads = heads / tp.size;
  shape.num_kv_heads = kv_heads / kv_count;
  shape.head_dim = c.head_dim;
  shape.sliding_window = c.layer_sliding_window.at(layer);
  return Attention(std::move(lq), std::move(lk), std::move(lv), std::move(lo), shape, layer);
}

at::Tensor Attention::Forward(const at::Tensor& hidden, const at::Tensor& cos,
                              const at::Tensor& sin, const AttentionBatch& batch,
                              KvCache* cache) const {
  const int64_t b = hidden.size(0);
  const int64_t t = hidden.size(1);
  const int64_t d = shape_.head_dim;
  at::Tensor q = q_.Forward(hidden).view({b, t, -1, d}).transpose(1, 2);
  at::Tensor k = k_.Forward(hidden).view({b, t, -1, d}).transpose(1, 2);
  at::Tensor v = v_.Forward(hidden).view({b, t, -1, d}).transpose(1, 2);
  q = RotaryEmbedding::Apply(q, cos, sin);
  k = RotaryEmbedding::Apply(k, cos, sin);
  const at::Tensor attended =
      cache ? cache->Attend(layer_, q, k, v, batch, shape_.sliding_window)
            : DenseAttention(q, k, v, batch, shape_.sliding_window);  // [B, heads, T, D]
  return o_.Forward(attended.transpose(1, 2).contiguous().reshape({b, t, -1}));
}

// ---------------------------------------------------------------- DecoderLayer

StatusOr<DecoderLayer> DecoderLayer::Load(const ModelWeights& weights, int64_t layer,
                                          const Placement& placement, const TensorParallel& tp) {
  const ModelConfig& c = weights.config();
  if (layer < 0 || layer >= c.num_hidden_layers) {
    return InvalidArgument(c.source + ": layer " + std::to_string(layer) + " does not exist (" +
                           std::to_string(c.num_hidden_layers) + " layers)");
  }
  const std::string p = LayerPrefix(layer);
  DecoderLayer l;
  l.placement_ = placement;
  COMPASS_ASSIGN_OR_RETURN(at::Tensor in_norm, weights.View(p + "input_layernorm.weight"));
  COMPASS_ASSIGN_OR_RETURN(at::Tensor post_norm,
                           weights.View(p + "post_attention_layernorm.weight"));
  l.input_norm_ = RMSNorm::Create(in_norm, c.rms_norm_eps, placement);
  l.post_attention_norm_ = RMSNorm::Create(post_norm, c.rms_norm_eps, placement);
  COMPASS_ASSIGN_OR_RETURN(l.attention_, Attention::Load(weights, layer, placement, tp));
  COMPASS_ASSIGN_OR_RETURN(l.mlp_, MLP::Load(weights, layer, placement, tp));
  return l;
}

at::Tensor DecoderLayer::Forward(const at::Tensor& hidden, const at::Tensor& cos,
                                 const at::Tensor& sin, const AttentionBatch& batch, KvCache* cache,
                                 const AllReduce& reduce) const {
  at::Tensor h = attention_.Forward(input_norm_.Forward(hidden), cos, sin, batch, cache);
  if (reduce) h = reduce(h);
  const at::Tensor residual = hidden + h;
  at::Tensor m = mlp_.Forward(post_attention_norm_.Forward(residual));
  if (reduce) m = reduce(m);
  return residual + m;
}

// ---------------------------------------------------------------- LMHead

StatusOr<LMHead> LMHead::Load(const ModelWeights& weights, const Placement& placement,
                              const TensorParallel& tp) {
  COMPASS_RETURN_IF_ERROR(CheckTensorParallel(tp));
  COMPASS_ASSIGN_OR_RETURN(at::Tensor w, weights.View(weights.lm_head_name()));
  LMHead head;
  if (tp.size == 1) {
    head.weight_ = CopyTo(w, placement);
  } else {
    COMPASS_ASSIGN_OR_RETURN(Embedding shard,
                             Embedding::VocabShard(w, tp.rank, tp.size, placement));
    head.weight_ = shard.weight();
  }
  return head;
}

at::Tensor LMHead::Forward(const at::Tensor& hidden) const {
  return at::linear(hidden, weight_).to(at::kFloat);
}

}  // namespace compass::model
