// Attention bookkeeping for a forward step, and KV caches.
//
// Sequences of a batch occupy rows; each step appends T slots per row. A
// slot holds a token or padding. Query t of a step sits in slot
// query_offset + t and sees key slot s when the key is a token, s is not
// after the query's slot (causal in slot order, which is token order within
// a row for left or right padding alike), and, for sliding-window layers,
// q_pos - k_pos < window. Positions are per token (RoPE positions), so rows
// may hold prompts of different lengths.
#ifndef COMPASS_MODELS_KV_CACHE_H_
#define COMPASS_MODELS_KV_CACHE_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <utility>
#include <vector>

#include "util/status.h"

namespace compass::model {

struct AttentionBatch {
  at::Tensor query_positions;  // [B, T] int64
  at::Tensor key_positions;    // [B, S] int64, S = query_offset + T
  at::Tensor key_valid;        // [B, S] bool: the slot holds a token
  int64_t query_offset = 0;    // slots before this step

  // Additive mask [B, 1, T, S] in `dtype` on `device`: 0 where allowed, the
  // dtype's lowest value elsewhere (as transformers' eager attention). A
  // query always sees its own slot, so a padding query's row is never empty
  // and stays finite. `sliding_window` 0 means full attention. Memoized per
  // (window, device, dtype): not thread-safe, use one batch per thread.
  const at::Tensor& Mask(int64_t sliding_window, c10::Device device, c10::ScalarType dtype) const;

 private:
  struct CachedMask {
    int64_t window;
    c10::Device device;
    c10::ScalarType dtype;
    at::Tensor mask;
  };
  mutable std::vector<CachedMask> masks_;
};

// The batch of a step without a cache: keys are the step's own tokens.
// `valid` [B, T] bool (undefined: all tokens), `positions` [B, T] int64.
AttentionBatch StepBatch(const at::Tensor& valid, const at::Tensor& positions);

// Keys and values of earlier steps, per layer. Not thread-safe: one cache
// per batch in flight. Tensors are [B, kv_heads, slots, head_dim]; k arrives
// already rotated (RoPE applied), so cached keys keep the rotation they were
// computed with (as transformers' caches do).
class KvCache {
 public:
  virtual ~KvCache() = default;
  // Starts a step of T slots per row: `valid` [B, T] bool (undefined: all
  // tokens), `positions` [B, T] int64. InvalidArgument when the batch size
  // changes; OutOfMemory when the cache's capacity would be exceeded.
  virtual StatusOr<AttentionBatch> BeginStep(const at::Tensor& valid,
                                             const at::Tensor& positions) = 0;
  // Stores the step's k, v [B, kv_heads, T, head_dim] for `layer` and returns
  // every slot's keys and values so far for that layer, [B, kv_heads, S, D].
  // Call once per layer per step, after BeginStep.
  virtual std::pair<at::Tensor, at::Tensor> Update(int64_t layer, const at::Tensor& k,
                                                   const at::Tensor& v) = 0;
  // Slots stored so far per row (including the current step's).
  virtual int64_t length() const = 0;
};

// Contiguous buffers [B, kv_heads, capacity, head_dim] per layer, allocated
// at a layer's first Update on the device and in the dtype of its k (so the
// layers of one cache may sit on different devices).
class ContiguousKvCache : public KvCache {
 public:
  ContiguousKvCache(int64_t batch_size, int64_t capacity, int64_t num_layers);

  StatusOr<AttentionBatch> BeginStep(const at::Tensor& valid, const at::Tensor& positions) override;
  std::pair<at::Tensor, at::Tensor> Update(int64_t layer, const at::Tensor& k,
                                           const at::Tensor& v) override;
  int64_t length() const override { return length_; }
  int64_t capacity() const { return capacity_; }
  // Bytes held by the layers allocated so far.
  uint64_t allocated_bytes() const;

 private:
  int64_t batch_size_;
  int64_t capacity_;
  int64_t past_ = 0;      // slots before the current step
  int64_t length_ = 0;    // slots including the current step
  at::Tensor valid_;      // [B, capacity] bool
  at::Tensor positions_;  // [B, capacity] int64
  std::vector<at::Tensor> keys_;
  std::vector<at::Tensor> values_;
};

}  // namespace compass::model

#endif  // COMPASS_MODELS_KV_CACHE_H_
