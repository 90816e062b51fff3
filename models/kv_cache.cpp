#include "models/kv_cache.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace compass::model {
namespace {

double Lowest(c10::ScalarType dtype) {
  switch (dtype) {
    case c10::kHalf: return -65504.0;
    case c10::kBFloat16: return -3.3895313892515355e38;
    case c10::kDouble: return std::numeric_limits<double>::lowest();
    default: return std::numeric_limits<float>::lowest();
  }
}

// What the host needs to know about a step: whether every slot holds a
// token, and the range of its positions. One read from the device.
struct StepFacts {
  bool all_tokens = true;
  int64_t min_position = 0;
  int64_t max_position = 0;
};

StepFacts ReadFacts(const at::Tensor& valid, const at::Tensor& positions) {
  std::vector<at::Tensor> parts = {positions.min(), positions.max()};
  if (valid.defined()) parts.push_back(valid.all().to(at::kLong));
  const at::Tensor host = at::stack(parts).to(at::kCPU, at::kLong).contiguous();
  const int64_t* p = host.data_ptr<int64_t>();
  StepFacts facts;
  facts.min_position = p[0];
  facts.max_position = p[1];
  facts.all_tokens = !valid.defined() || p[2] != 0;
  return facts;
}

at::Tensor RepeatKv(const at::Tensor& x, int64_t n_rep) {
  if (n_rep == 1) return x;
  const int64_t b = x.size(0), kv = x.size(1), s = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, kv, n_rep, s, d}).reshape({b, kv * n_rep, s, d});
}

Status CheckStep(const at::Tensor& valid, const at::Tensor& positions) {
  if (!positions.defined() || positions.dim() != 2 || positions.scalar_type() != at::kLong) {
    return InvalidArgument("step positions must be an int64 tensor [batch, tokens]");
  }
  if (positions.size(1) == 0) return InvalidArgument("the step has no slots");
  if (valid.defined() && valid.sizes() != positions.sizes()) {
    return InvalidArgument("the step's valid " + c10::str(valid.sizes()) +
                           " is not shaped like its positions " + c10::str(positions.sizes()));
  }
  return Status::Ok();
}

}  // namespace

const char* AttentionImplName(AttentionImpl impl) {
  return impl == AttentionImpl::kEager ? "eager" : "sdpa";
}

StatusOr<AttentionImpl> ParseAttentionImpl(std::string_view text) {
  if (text == "eager") return AttentionImpl::kEager;
  if (text == "sdpa") return AttentionImpl::kSdpa;
  return InvalidArgument("unknown attention implementation '" + std::string(text) +
                         "' (eager, sdpa)");
}

// ---------------------------------------------------------------- AttentionBatch

at::Tensor AttentionBatch::AllowedMask(int64_t sliding_window, c10::Device device) const {
  for (const CachedMask& m : masks_) {
    if (m.window == sliding_window && m.device == device && m.dtype == at::kBool) return m.mask;
  }
  const int64_t t = num_queries();
  const int64_t s = num_keys();
  const auto long_options = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor q_slot = at::arange(t, long_options) + query_offset;
  const at::Tensor k_slot = at::arange(s, long_options);
  const at::Tensor causal = k_slot.unsqueeze(0) <= q_slot.unsqueeze(1);          // [T, S]
  at::Tensor allowed = key_valid.to(device).unsqueeze(1) & causal.unsqueeze(0);  // [B, T, S]
  if (sliding_window > 0) {
    const at::Tensor distance =
        query_positions.to(device).unsqueeze(2) - key_positions.to(device).unsqueeze(1);
    allowed = allowed & (distance < sliding_window);
  }
  allowed = allowed | (k_slot.unsqueeze(0) == q_slot.unsqueeze(1)).unsqueeze(0);
  masks_.push_back(CachedMask{sliding_window, device, at::kBool, allowed.unsqueeze(1)});
  return masks_.back().mask;
}

at::Tensor AttentionBatch::AdditiveMask(int64_t sliding_window, c10::Device device,
                                        c10::ScalarType dtype) const {
  for (const CachedMask& m : masks_) {
    if (m.window == sliding_window && m.device == device && m.dtype == dtype) return m.mask;
  }
  const at::Tensor allowed = AllowedMask(sliding_window, device);
  at::Tensor mask = at::zeros(allowed.sizes(), at::TensorOptions().dtype(dtype).device(device));
  mask.masked_fill_(allowed.logical_not(), Lowest(dtype));
  masks_.push_back(CachedMask{sliding_window, device, dtype, mask});
  return mask;
}

SdpaMask AttentionBatch::ForSdpa(int64_t sliding_window, c10::Device device) const {
  const bool window_binds = sliding_window > 0 && max_distance >= sliding_window;
  if (all_tokens && !window_binds) {
    if (query_offset == 0) return {at::Tensor(), /*is_causal=*/true};  // T == S
    if (num_queries() == 1) return {};  // the last slot sees every key
  }
  return {AllowedMask(sliding_window, device), false};
}

AttentionBatch StepBatch(const at::Tensor& valid, const at::Tensor& positions) {
  const StepFacts facts = ReadFacts(valid, positions);
  AttentionBatch batch;
  batch.query_positions = positions;
  batch.key_positions = positions;
  batch.key_valid = valid.defined()
                        ? valid.to(at::kBool)
                        : at::ones(positions.sizes(), positions.options().dtype(at::kBool));
  batch.query_offset = 0;
  batch.all_tokens = facts.all_tokens;
  if (facts.all_tokens) batch.max_distance = facts.max_position - facts.min_position;
  return batch;
}

// ---------------------------------------------------------------- DenseAttention

at::Tensor DenseAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttentionBatch& batch, int64_t sliding_window) {
  const int64_t heads = q.size(1), kv_heads = k.size(1);
  TORCH_CHECK(kv_heads > 0 && heads % kv_heads == 0, "attention: ", heads,
              " query heads do not group over ", kv_heads, " KV heads");
  TORCH_CHECK(k.size(2) == batch.num_keys() && q.size(2) == batch.num_queries(),
              "attention: ", q.size(2), " queries over ", k.size(2), " keys, the batch has ",
              batch.num_queries(), " over ", batch.num_keys());
  if (batch.impl == AttentionImpl::kEager) {
    const int64_t n_rep = heads / kv_heads;
    const at::Tensor keys = RepeatKv(k, n_rep);
    const at::Tensor values = RepeatKv(v, n_rep);
    at::Tensor scores =
        at::matmul(q, keys.transpose(2, 3)) * std::pow(static_cast<double>(q.size(3)), -0.5);
    scores = scores + batch.AdditiveMask(sliding_window, scores.device(), scores.scalar_type());
    const at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    return at::matmul(probs, values);
  }
  const SdpaMask m = batch.ForSdpa(sliding_window, q.device());
  return at::scaled_dot_product_attention(
      q, k, v, m.mask.defined() ? std::optional<at::Tensor>(m.mask) : std::nullopt,
      /*dropout_p=*/0.0, m.is_causal, /*scale=*/std::nullopt,
      /*enable_gqa=*/heads != kv_heads);
}

// ---------------------------------------------------------------- ContiguousKvCache

ContiguousKvCache::ContiguousKvCache(int64_t batch_size, int64_t capacity, int64_t num_layers)
    : row_capacity_(batch_size),
      batch_size_(batch_size),
      capacity_(capacity),
      keys_(num_layers),
      values_(num_layers) {}

void ContiguousKvCache::Allocate(int64_t layer, int64_t kv_heads, int64_t head_dim,
                                 const at::TensorOptions& options) {
  TORCH_CHECK(layer >= 0, "KV cache: layer ", layer);
  if (layer >= static_cast<int64_t>(keys_.size())) {
    keys_.resize(layer + 1);
    values_.resize(layer + 1);
  }
  if (keys_[layer].defined()) return;
  // Every slot is written before it is read: no need to clear.
  keys_[layer] = at::empty({row_capacity_, kv_heads, capacity_, head_dim}, options);
  values_[layer] = at::empty({row_capacity_, kv_heads, capacity_, head_dim}, options);
}

StatusOr<AttentionBatch> ContiguousKvCache::BeginStep(const at::Tensor& valid,
                                                      const at::Tensor& positions) {
  COMPASS_RETURN_IF_ERROR(CheckStep(valid, positions));
  if (positions.size(0) != batch_size_) {
    return InvalidArgument("KV cache holds " + std::to_string(batch_size_) +
                           " rows; the step's positions have shape " + c10::str(positions.sizes()));
  }
  const int64_t t = positions.size(1);
  if (length_ + t > capacity_) {
    return OutOfMemory("KV cache capacity " + std::to_string(capacity_) + " slots exceeded: " +
                       std::to_string(length_) + " stored, " + std::to_string(t) + " more asked");
  }
  if (!valid_.defined()) {
    valid_ = at::empty({row_capacity_, capacity_}, positions.options().dtype(at::kBool));
    positions_ = at::empty({row_capacity_, capacity_}, positions.options().dtype(at::kLong));
  }
  const StepFacts facts = ReadFacts(valid, positions);
  past_ = length_;
  length_ += t;
  if (valid.defined()) {
    Rows(valid_).narrow(1, past_, t).copy_(valid);
  } else {
    Rows(valid_).narrow(1, past_, t).fill_(true);
  }
  Rows(positions_).narrow(1, past_, t).copy_(positions);
  all_tokens_ = all_tokens_ && facts.all_tokens;
  min_position_ = std::min(min_position_, facts.min_position);
  AttentionBatch batch;
  batch.query_positions = positions;
  batch.key_positions = Rows(positions_).narrow(1, 0, length_);
  batch.key_valid = Rows(valid_).narrow(1, 0, length_);
  batch.query_offset = past_;
  batch.all_tokens = all_tokens_;
  if (all_tokens_) batch.max_distance = facts.max_position - min_position_;
  return batch;
}

void ContiguousKvCache::Store(int64_t layer, const at::Tensor& k, const at::Tensor& v) {
  TORCH_CHECK(k.dim() == 4 && k.size(0) == batch_size_ && v.sizes() == k.sizes(), "KV cache: keys ",
              k.sizes(), " and values ", v.sizes(), " for ", batch_size_, " rows");
  Allocate(layer, k.size(1), k.size(3), k.options());
  const at::Tensor& keys = keys_[layer];
  TORCH_CHECK(keys.size(1) == k.size(1) && keys.size(3) == k.size(3) &&
                  keys.device() == k.device() && keys.scalar_type() == k.scalar_type(),
              "KV cache: layer ", layer, " holds ", keys.sizes(), " ", keys.scalar_type(), " on ",
              keys.device(), "; the step brings ", k.sizes(), " ", k.scalar_type(), " on ",
              k.device());
  const int64_t t = k.size(2);
  TORCH_CHECK(past_ + t == length_, "KV cache: layer ", layer, " stores ", t,
              " slots, the step began with ", length_ - past_);
  Rows(keys_[layer]).narrow(2, past_, t).copy_(k);
  Rows(values_[layer]).narrow(2, past_, t).copy_(v);
}

at::Tensor ContiguousKvCache::Attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                                     const at::Tensor& v, const AttentionBatch& batch,
                                     int64_t sliding_window) {
  Store(layer, k, v);
  return DenseAttention(q, Rows(keys_[layer]).narrow(2, 0, length_),
                        Rows(values_[layer]).narrow(2, 0, length_), batch, sliding_window);
}

std::pair<at::Tensor, at::Tensor> ContiguousKvCache::Stored(int64_t layer) const {
  if (layer < 0 || layer >= static_cast<int64_t>(keys_.size()) || !keys_[layer].defined()) {
    return {};
  }
  return {Rows(keys_[layer]).narrow(2, 0, length_), Rows(values_[layer]).narrow(2, 0, length_)};
}

Status ContiguousKvCache::KeepRows(const std::vector<int64_t>& rows) {
  if (rows.empty()) return InvalidArgument("KV cache: keeping no rows");
  std::vector<bool> seen(static_cast<size_t>(batch_size_), false);
  bool in_order = true;
  for (size_t i = 0; i < rows.size(); ++i) {
    const int64_t r = rows[i];
    if (r < 0 || r >= batch_size_) {
      return InvalidArgument("KV cache: row " + std::to_string(r) + " is outside its " +
                             std::to_string(batch_size_) + " rows");
    }
    if (seen[static_cast<size_t>(r)]) {
      return InvalidArgument("KV cache: row " + std::to_string(r) + " is kept twice");
    }
    seen[static_cast<size_t>(r)] = true;
    in_order = in_order && (i == 0 || r > rows[i - 1]);
  }
  const int64_t n = static_cast<int64_t>(rows.size());
  // Row rows[i] moves to row i of each [R, ...] buffer `t` (slots along
  // `slot_dim`, of which only the first length_ hold anything). In
  // increasing order no row is overwritten before it is read; otherwise the
  // kept rows are gathered first.
  const at::Tensor index = in_order ? at::Tensor() : at::tensor(rows, at::kLong);
  auto keep = [&](at::Tensor& t, int64_t slot_dim) {
    if (!t.defined() || length_ == 0) return;
    const at::Tensor stored = t.narrow(slot_dim, 0, length_);
    if (in_order) {
      for (int64_t i = 0; i < n; ++i) {
        if (rows[i] != i) stored.select(0, i).copy_(stored.select(0, rows[i]));
      }
    } else {
      stored.narrow(0, 0, n).copy_(
          stored.narrow(0, 0, batch_size_).index_select(0, index.to(t.device())));
    }
  };
  for (size_t l = 0; l < keys_.size(); ++l) {
    keep(keys_[l], 2);
    keep(values_[l], 2);
  }
  keep(valid_, 1);
  keep(positions_, 1);
  batch_size_ = n;
  // What the kept rows' history allows SDPA (dropping padded rows may leave
  // only tokens).
  if (valid_.defined() && length_ > 0) {
    const StepFacts facts =
        ReadFacts(Rows(valid_).narrow(1, 0, length_), Rows(positions_).narrow(1, 0, length_));
    all_tokens_ = facts.all_tokens;
    min_position_ = facts.min_position;
  }
  return Status::Ok();
}

Status ContiguousKvCache::AppendRows(const ContiguousKvCache& other) {
  const int64_t n = other.batch_size_;
  if (n == 0) return Status::Ok();
  if (batch_size_ + n > row_capacity_) {
    return InvalidArgument("KV cache: " + std::to_string(batch_size_) + " rows and " +
                           std::to_string(n) + " more exceed its " + std::to_string(row_capacity_) +
                           " rows");
  }
  const int64_t length = batch_size_ == 0 ? other.length_ : length_;
  if (other.length_ > length || length > capacity_) {
    return InvalidArgument("KV cache: rows of " + std::to_string(other.length_) +
                           " slots cannot join rows of " + std::to_string(length) + " (capacity " +
                           std::to_string(capacity_) + ")");
  }
  if (other.keys_.size() > keys_.size()) {
    keys_.resize(other.keys_.size());
    values_.resize(other.keys_.size());
  }
  for (size_t l = 0; l < other.keys_.size(); ++l) {
    const at::Tensor& k = other.keys_[l];
    if (!k.defined()) continue;
    if (keys_[l].defined() &&
        (keys_[l].size(1) != k.size(1) || keys_[l].size(3) != k.size(3) ||
         keys_[l].device() != k.device() || keys_[l].scalar_type() != k.scalar_type())) {
      return InvalidArgument("KV cache: layer " + std::to_string(l) + " holds " +
                             c10::str(keys_[l].sizes()) + " on " + keys_[l].device().str() +
                             "; the rows to append bring " + c10::str(k.sizes()) + " on " +
                             k.device().str());
    }
  }
  const int64_t gap = length - other.length_;  // empty slots before the new rows'
  for (size_t l = 0; l < other.keys_.size(); ++l) {
    const at::Tensor& k = other.keys_[l];
    if (!k.defined()) continue;
    Allocate(static_cast<int64_t>(l), k.size(1), k.size(3), k.options());
    for (auto [dst, src] :
         {std::pair{&keys_[l], &other.keys_[l]}, {&values_[l], &other.values_[l]}}) {
      at::Tensor rows = dst->narrow(0, batch_size_, n);
      // The empty slots are masked out, but a masked weight of 0 times a
      // NaN left in uninitialised memory is still NaN: they hold zeros.
      if (gap > 0) rows.narrow(2, 0, gap).zero_();
      rows.narrow(2, gap, other.length_).copy_(src->narrow(0, 0, n).narrow(2, 0, other.length_));
    }
  }
  if (other.valid_.defined()) {
    if (!valid_.defined()) {
      valid_ = at::empty({row_capacity_, capacity_}, other.valid_.options());
      positions_ = at::empty({row_capacity_, capacity_}, other.positions_.options());
    }
    at::Tensor valid_rows = valid_.narrow(0, batch_size_, n);
    at::Tensor position_rows = positions_.narrow(0, batch_size_, n);
    if (gap > 0) {
      valid_rows.narrow(1, 0, gap).fill_(false);
      position_rows.narrow(1, 0, gap).fill_(0);
    }
    valid_rows.narrow(1, gap, other.length_)
        .copy_(other.valid_.narrow(0, 0, n).narrow(1, 0, other.length_));
    position_rows.narrow(1, gap, other.length_)
        .copy_(other.positions_.narrow(0, 0, n).narrow(1, 0, other.length_));
  }
  all_tokens_ = (batch_size_ == 0 || all_tokens_) && other.all_tokens_ && gap == 0;
  min_position_ = std::min(batch_size_ == 0 ? other.min_position_ : min_position_,
                           gap > 0 ? int64_t{0} : other.min_position_);
  batch_size_ += n;
  length_ = past_ = length;
  return Status::Ok();
}

void ContiguousKvCache::Clear() {
  batch_size_ = 0;
  past_ = length_ = 0;
  all_tokens_ = true;
  min_position_ = std::numeric_limits<int64_t>::max();
}

uint64_t ContiguousKvCache::allocated_bytes() const {
  uint64_t total = 0;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i].defined()) total += keys_[i].nbytes() + values_[i].nbytes();
  }
  return total;
}

}  // namespace compass::model
