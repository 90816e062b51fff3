// Attention over the keys of a forward step, and KV caches that compute it
// for their layout.
//
// Sequences of a batch occupy rows; each step appends T slots per row. A
// slot holds a token or padding. Query t of a step sits in slot
// query_offset + t and sees key slot s when the key is a token, s is not
// after the query's slot (causal in slot order, which is token order within
// a row for left or right padding alike), and, for sliding-window layers,
// q_pos - k_pos < window. A query always sees its own slot, so a padding
// query's row is never empty and stays finite. Positions are per token (RoPE
// positions), so rows may hold prompts of different lengths.
//
// The attention itself sits behind the cache (KvCache::Attend), so that each
// layout computes it its own way: the contiguous cache over dense [B, kv, S,
// D] buffers (DenseAttention), a paged cache over its blocks.
#ifndef COMPASS_MODELS_KV_CACHE_H_
#define COMPASS_MODELS_KV_CACHE_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <cstdint>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace compass::model {

// How attention is computed.
// - kSdpa (the default): at::scaled_dot_product_attention, libtorch's fused
//   kernels where it has them (flash attention on CPU; flash or
//   memory-efficient on CUDA), grouped-query heads without copying them.
//   No mask when every query may see every key (a decode step of tokens
//   only), is_causal for a fresh step of tokens only, else a boolean
//   [B, 1, T, S] mask; never a T x S additive mask.
// - kEager: operation for operation as transformers' eager attention
//   (repeat_kv, matmul, additive mask, softmax in float32, matmul), for exact
//   comparison with it.
enum class AttentionImpl { kEager, kSdpa };

// "eager", "sdpa".
const char* AttentionImplName(AttentionImpl impl);
// Accepts the names above; InvalidArgument otherwise.
StatusOr<AttentionImpl> ParseAttentionImpl(std::string_view text);

// What SDPA is given: no mask (mask undefined, is_causal false), a causal
// step (is_causal), or a boolean mask [B, 1, T, S], true where allowed.
struct SdpaMask {
  at::Tensor mask;
  bool is_causal = false;
};

// The attention bookkeeping of one step, shared by every layer.
struct AttentionBatch {
  at::Tensor query_positions;  // [B, T] int64
  at::Tensor key_positions;    // [B, S] int64, S = query_offset + T
  at::Tensor key_valid;        // [B, S] bool: the slot holds a token
  int64_t query_offset = 0;    // slots before this step
  AttentionImpl impl = AttentionImpl::kSdpa;
  // Known on the host, so that SDPA's mask is chosen without reading device
  // memory: every query and key slot holds a token, and then an upper bound
  // of q_pos - k_pos over the step's (query, key) pairs.
  bool all_tokens = false;
  int64_t max_distance = std::numeric_limits<int64_t>::max();

  int64_t num_queries() const { return query_positions.size(1); }
  int64_t num_keys() const { return key_valid.size(1); }

  // Boolean mask [B, 1, T, S] on `device`, true where a query sees a key.
  // `sliding_window` 0 means full attention. Memoized per (window, device),
  // like the two below: not thread-safe, use one batch per thread.
  at::Tensor AllowedMask(int64_t sliding_window, c10::Device device) const;
  // Additive mask [B, 1, T, S] in `dtype`: 0 where allowed, the dtype's
  // lowest value elsewhere (as transformers' eager attention).
  at::Tensor AdditiveMask(int64_t sliding_window, c10::Device device, c10::ScalarType dtype) const;
  // The least SDPA needs for this step (see AttentionImpl::kSdpa).
  SdpaMask ForSdpa(int64_t sliding_window, c10::Device device) const;

 private:
  struct CachedMask {
    int64_t window;
    c10::Device device;
    c10::ScalarType dtype;  // kBool for AllowedMask
    at::Tensor mask;
  };
  mutable std::vector<CachedMask> masks_;
};

// The batch of a step without a cache: keys are the step's own tokens.
// `valid` [B, T] bool (undefined: all tokens), `positions` [B, T] int64.
// Reads two numbers back to the host (see AttentionBatch::all_tokens).
AttentionBatch StepBatch(const at::Tensor& valid, const at::Tensor& positions);

// Attention of q [B, heads, T, D] over dense keys and values k, v
// [B, kv_heads, S, D] that hold every key slot of `batch`, as batch.impl
// says; heads must be a multiple of kv_heads. Returns [B, heads, T, D] in
// q's dtype.
at::Tensor DenseAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttentionBatch& batch, int64_t sliding_window);

// Keys and values of earlier steps, per layer, and the attention over them.
// Not thread-safe: one cache per batch in flight. k arrives already rotated
// (RoPE applied), so cached keys keep the rotation they were computed with
// (as transformers' caches do).
class KvCache {
 public:
  virtual ~KvCache() = default;
  // Starts a step of T slots per row: `valid` [B, T] bool (undefined: all
  // tokens), `positions` [B, T] int64. InvalidArgument when the batch size
  // changes or T is 0; OutOfMemory when the cache's capacity would be
  // exceeded. The batch's impl is kSdpa; callers set the one they want.
  virtual StatusOr<AttentionBatch> BeginStep(const at::Tensor& valid,
                                             const at::Tensor& positions) = 0;
  // Stores the step's k, v [B, kv_heads, T, head_dim] for `layer` and returns
  // the attention of the step's queries q [B, heads, T, head_dim] over every
  // slot stored so far that `batch` lets them see, [B, heads, T, head_dim].
  // Call once per layer per step, after BeginStep, with the batch it
  // returned (its impl may have been changed).
  virtual at::Tensor Attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                            const at::Tensor& v, const AttentionBatch& batch,
                            int64_t sliding_window) = 0;
  // Slots stored so far per row (including the current step's).
  virtual int64_t length() const = 0;
};

// Contiguous buffers [R, kv_heads, capacity, head_dim] per layer, R the
// row capacity given at construction, each allocated once for the whole
// capacity: by Allocate, or else at the layer's first Attend (or AppendRows)
// on the device and in the dtype of its k (so the layers of one cache may
// sit on different devices). The first B <= R rows hold the batch. The
// slots' validity and positions are kept in [R, capacity] buffers on the
// device of the first step's positions. A step writes its slots in place;
// nothing is reallocated per step, nor when rows leave (KeepRows) or join
// (AppendRows).
class ContiguousKvCache : public KvCache {
 public:
  // A batch of `batch_size` rows, which is also the row capacity.
  ContiguousKvCache(int64_t batch_size, int64_t capacity, int64_t num_layers);

  // Allocates `layer`'s buffers now (OutOfMemory shows here, not in the
  // middle of a forward); a second call for a layer does nothing.
  void Allocate(int64_t layer, int64_t kv_heads, int64_t head_dim,
                const at::TensorOptions& options);

  StatusOr<AttentionBatch> BeginStep(const at::Tensor& valid, const at::Tensor& positions) override;
  at::Tensor Attend(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                    const AttentionBatch& batch, int64_t sliding_window) override;
  int64_t length() const override { return length_; }
  int64_t capacity() const { return capacity_; }
  int64_t batch_size() const { return batch_size_; }
  int64_t row_capacity() const { return row_capacity_; }
  // Bytes held by the layers allocated so far.
  uint64_t allocated_bytes() const;
  // `layer`'s keys and values so far, [B, kv_heads, length, head_dim] views
  // (undefined before the layer is allocated).
  std::pair<at::Tensor, at::Tensor> Stored(int64_t layer) const;

  // Keeps only the rows `rows` (distinct, each in [0, B)), in that order:
  // row i of the cache afterwards is row rows[i] before. Between steps, to
  // drop finished sequences from a batch so that later steps compute only
  // the live ones. The rows move within the buffers, copying only their
  // stored slots. InvalidArgument for an empty list, a repeated row or one
  // out of range.
  Status KeepRows(const std::vector<int64_t>& rows);
  // Appends the rows of `other` after this cache's, between steps: for new
  // sequences prefilled in a cache of their own joining a running batch.
  // Their slots are right-aligned, at [length - other.length, length), with
  // nothing in the slots before them, so `other` may not be longer than
  // this cache unless this one has no rows (then it takes other's length).
  // Every layer `other` holds is copied (allocated here when needed).
  // InvalidArgument when the rows exceed the row capacity, other is longer,
  // or the layers' shapes, dtypes or devices differ.
  Status AppendRows(const ContiguousKvCache& other);
  // No rows and no slots; the buffers stay for the rows to come.
  void Clear();

 private:
  void Store(int64_t layer, const at::Tensor& k, const at::Tensor& v);
  // The batch's rows of a [R, ...] buffer.
  at::Tensor Rows(const at::Tensor& t) const { return t.narrow(0, 0, batch_size_); }

  int64_t row_capacity_;
  int64_t batch_size_;
  int64_t capacity_;
  int64_t past_ = 0;      // slots before the current step
  int64_t length_ = 0;    // slots including the current step
  at::Tensor valid_;      // [R, capacity] bool
  at::Tensor positions_;  // [R, capacity] int64
  bool all_tokens_ = true;
  int64_t min_position_ = std::numeric_limits<int64_t>::max();
  std::vector<at::Tensor> keys_;  // [R, kv_heads, capacity, head_dim]
  std::vector<at::Tensor> values_;
};

}  // namespace compass::model

#endif  // COMPASS_MODELS_KV_CACHE_H_
