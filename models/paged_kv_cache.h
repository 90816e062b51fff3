// A paged KV cache: the keys and values of many sequences in one pool of
// fixed-size blocks (as vLLM's block manager lays them out), each sequence
// reading its tokens through a table of block ids. Which blocks a sequence
// owns, and when they are freed or shared, is the caller's business: the
// pool only holds the tensors, and a PagedKvCache runs steps over them.
#ifndef COMPASS_MODELS_PAGED_KV_CACHE_H_
#define COMPASS_MODELS_PAGED_KV_CACHE_H_

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <c10/core/TensorOptions.h>

#include <cstdint>
#include <vector>

#include "models/kv_cache.h"
#include "util/status.h"

namespace compass::model {

// K and V blocks of every layer (of a pipeline stage: layers first_layer ..
// first_layer + num_layers - 1, indexed as the model numbers them): per
// layer two tensors [num_blocks *
// block_size, kv_heads, head_dim] of flat slots (slot = block * block_size +
// offset), allocated at construction on one device in one dtype and never
// reallocated (so every layer attending through it runs on that device).
// Slots are not cleared: a slot holds what was last written to it. Not
// thread-safe; steps over one pool run one at a time.
class PagedKvPool {
 public:
  // Throws c10::Error for a non-positive size, c10::OutOfMemoryError when
  // the blocks do not fit (as at::empty does).
  PagedKvPool(int64_t num_layers, int64_t num_blocks, int64_t block_size, int64_t kv_heads,
              int64_t head_dim, const at::TensorOptions& options, int64_t first_layer = 0);

  // Bytes of one block: its K and V in every layer.
  static uint64_t BytesPerBlock(int64_t num_layers, int64_t block_size, int64_t kv_heads,
                                int64_t head_dim, c10::ScalarType dtype);

  int64_t num_layers() const { return static_cast<int64_t>(keys_.size()); }
  int64_t first_layer() const { return first_layer_; }
  int64_t num_blocks() const { return num_blocks_; }
  int64_t block_size() const { return block_size_; }
  int64_t num_slots() const { return num_blocks_ * block_size_; }
  int64_t kv_heads() const { return kv_heads_; }
  int64_t head_dim() const { return head_dim_; }
  c10::Device device() const { return all_keys_.front().device(); }
  c10::ScalarType dtype() const { return all_keys_.front().scalar_type(); }
  // Bytes of every block (the pool's whole size but for one padding slot
  // per layer).
  uint64_t bytes() const;

  // `layer`'s flat slots [num_slots, kv_heads, head_dim]; the caller may read
  // and write them (to copy or move blocks) between steps.
  at::Tensor& keys(int64_t layer) { return keys_.at(layer - first_layer_); }
  at::Tensor& values(int64_t layer) { return values_.at(layer - first_layer_); }

 private:
  friend class PagedKvCache;

  int64_t first_layer_;
  int64_t num_blocks_;
  int64_t block_size_;
  int64_t kv_heads_;
  int64_t head_dim_;
  // Per layer [num_slots + 1, kv_heads, head_dim]: the blocks, then one slot
  // of zeros that padding key slots read (masked out, but finite: a NaN left
  // in an unused block would otherwise reach the softmax).
  std::vector<at::Tensor> all_keys_, all_values_;
  std::vector<at::Tensor> keys_, values_;  // views of the blocks
};

// One step over the pool. Row b is a sequence whose tokens [0, past[b])
// already hold K/V in the blocks of tables[b] (in order: tables[b][j] holds
// positions [j * block_size, (j + 1) * block_size)). A step brings T slots
// per row, of which the first n_b are the row's next tokens (positions
// past[b] .. past[b] + n_b - 1) and the rest padding (valid false); n_b may
// be 0. Blocks may be shared between rows (a shared prefix): they are only
// read. The step's new K/V are written into the row's blocks at positions
// past[b] + t, which the caller guarantees are not shared with another row
// or sequence in flight. Tables must cover past[b] + n_b positions.
//
// Slot model of a step (AttentionBatch): S = max_b past[b] + T key slots per
// row. Row b's cached tokens are right-aligned at slots
// [max_past - past[b], max_past) (earlier slots are padding), its new slots
// at [max_past, max_past + T); query_offset = max_past. Sequences start at
// position 0, so cached slots hold positions 0 .. past[b] - 1.
//
// Several steps may run through one cache: each BeginStep first counts the
// previous step's tokens as stored (past[b] += n_b). Tables may grow between
// steps (AppendBlock). The pool must outlive the cache. Not thread-safe.
class PagedKvCache : public KvCache {
 public:
  // `tables` and `past` are checked by BeginStep.
  PagedKvCache(PagedKvPool* pool, std::vector<std::vector<int32_t>> tables,
               std::vector<int64_t> past);

  // Reads the step's valid and positions back to the host (once) to build
  // its slot indexes. InvalidArgument for a step of another shape than
  // [rows, T > 0], valid slots that are not a prefix of each row, positions
  // of tokens other than past[b] .., a table too short for past[b] + n_b
  // positions or naming a block outside the pool, or two rows writing the
  // same slot.
  StatusOr<AttentionBatch> BeginStep(const at::Tensor& valid, const at::Tensor& positions) override;
  // Writes the valid new slots' k, v [B, kv_heads, T, head_dim] into the
  // pool, then attends over the row's cached and new slots (DenseAttention
  // over keys gathered to [B, kv_heads, S, head_dim]). k and v must be on the
  // pool's device in its dtype; throws c10::Error on misuse.
  at::Tensor Attend(int64_t layer, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                    const AttentionBatch& batch, int64_t sliding_window) override;
  // S of the current step (before any: max_b past[b]).
  int64_t length() const override { return length_; }

  int64_t rows() const { return static_cast<int64_t>(tables_.size()); }
  const std::vector<std::vector<int32_t>>& tables() const { return tables_; }
  // Tokens of each row in the pool, counting the current step's.
  std::vector<int64_t> stored() const;
  // Appends a block to row `row`'s table between steps (unchecked until the
  // next BeginStep).
  void AppendBlock(int64_t row, int32_t block) { tables_.at(row).push_back(block); }

 private:
  PagedKvPool* pool_;
  std::vector<std::vector<int32_t>> tables_;
  std::vector<int64_t> past_;  // tokens stored before the current step
  std::vector<int64_t> new_;   // tokens the current step brings, n_b
  int64_t length_ = 0;
  // On the pool's device: flat slots [B * S] to gather (padding: the zero
  // slot), the flat slots written by the step's tokens and, unless every slot
  // is a token, which of the step's B * T rows they come from.
  at::Tensor gather_index_;
  at::Tensor write_index_;
  at::Tensor write_source_;
};

}  // namespace compass::model

#endif  // COMPASS_MODELS_PAGED_KV_CACHE_H_
