#include "models/kv_cache.h"

#include <ATen/ATen.h>

#include <limits>

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

at::Tensor AllValid(const at::Tensor& positions) {
  return at::ones(positions.sizes(), positions.options().dtype(at::kBool));
}

}  // namespace

const at::Tensor& AttentionBatch::Mask(int64_t sliding_window, c10::Device device,
                                       c10::ScalarType dtype) const {
  for (const CachedMask& m : masks_) {
    if (m.window == sliding_window && m.device == device && m.dtype == dtype) return m.mask;
  }
  const int64_t t = query_positions.size(1);
  const int64_t s = key_valid.size(1);
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
  at::Tensor mask = at::zeros(allowed.sizes(), at::TensorOptions().dtype(dtype).device(device));
  mask.masked_fill_(allowed.logical_not(), Lowest(dtype));
  masks_.push_back(CachedMask{sliding_window, device, dtype, mask.unsqueeze(1)});
  return masks_.back().mask;
}

AttentionBatch StepBatch(const at::Tensor& valid, const at::Tensor& positions) {
  AttentionBatch batch;
  batch.query_positions = positions;
  batch.key_positions = positions;
  batch.key_valid = valid.defined() ? valid.to(at::kBool) : AllValid(positions);
  batch.query_offset = 0;
  return batch;
}

ContiguousKvCache::ContiguousKvCache(int64_t batch_size, int64_t capacity, int64_t num_layers)
    : batch_size_(batch_size), capacity_(capacity), keys_(num_layers), values_(num_layers) {}

StatusOr<AttentionBatch> ContiguousKvCache::BeginStep(const at::Tensor& valid,
                                                      const at::Tensor& positions) {
  if (positions.dim() != 2 || positions.size(0) != batch_size_) {
    return InvalidArgument("KV cache holds " + std::to_string(batch_size_) +
                           " rows; the step's positions have shape " + c10::str(positions.sizes()));
  }
  const int64_t t = positions.size(1);
  if (length_ + t > capacity_) {
    return OutOfMemory("KV cache capacity " + std::to_string(capacity_) + " slots exceeded: " +
                       std::to_string(length_) + " stored, " + std::to_string(t) + " more asked");
  }
  if (!valid_.defined()) {
    valid_ = at::zeros({batch_size_, capacity_}, positions.options().dtype(at::kBool));
    positions_ = at::zeros({batch_size_, capacity_}, positions.options().dtype(at::kLong));
  }
  past_ = length_;
  length_ += t;
  valid_.narrow(1, past_, t).copy_(valid.defined() ? valid : AllValid(positions));
  positions_.narrow(1, past_, t).copy_(positions);
  AttentionBatch batch;
  batch.query_positions = positions;
  batch.key_positions = positions_.narrow(1, 0, length_);
  batch.key_valid = valid_.narrow(1, 0, length_);
  batch.query_offset = past_;
  return batch;
}

std::pair<at::Tensor, at::Tensor> ContiguousKvCache::Update(int64_t layer, const at::Tensor& k,
                                                            const at::Tensor& v) {
  if (layer >= static_cast<int64_t>(keys_.size())) {
    keys_.resize(layer + 1);
    values_.resize(layer + 1);
  }
  if (!keys_[layer].defined()) {
    keys_[layer] = at::zeros({batch_size_, k.size(1), capacity_, k.size(3)}, k.options());
    values_[layer] = at::zeros({batch_size_, v.size(1), capacity_, v.size(3)}, v.options());
  }
  const int64_t t = k.size(2);
  TORCH_CHECK(past_ + t == length_, "KV cache: layer ", layer, " stores ", t,
              " slots, the step began with ", length_ - past_);
  keys_[layer].narrow(2, past_, t).copy_(k);
  values_[layer].narrow(2, past_, t).copy_(v);
  return {keys_[layer].narrow(2, 0, length_), values_[layer].narrow(2, 0, length_)};
}

uint64_t ContiguousKvCache::allocated_bytes() const {
  uint64_t total = 0;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i].defined()) total += keys_[i].nbytes() + values_[i].nbytes();
  }
  return total;
}

}  // namespace compass::model
