#include "models/paged_kv_cache.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <string>

namespace compass::model {
namespace {

std::string Row(int64_t row) {
  return "paged KV cache: row " + std::to_string(row);
}

}  // namespace

// ---------------------------------------------------------------- PagedKvPool

PagedKvPool::PagedKvPool(int64_t num_layers, int64_t num_blocks, int64_t block_size,
                         int64_t kv_heads, int64_t head_dim, const at::TensorOptions& options,
                         int64_t first_layer)
    : first_layer_(first_layer),
      num_blocks_(num_blocks),
      block_size_(block_size),
      kv_heads_(kv_heads),
      head_dim_(head_dim) {
  TORCH_CHECK(first_layer >= 0 && num_layers > 0 && num_blocks > 0 && block_size > 0 &&
                  kv_heads > 0 && head_dim > 0,
              "paged KV pool: ", num_layers, " layers of ", num_blocks, " blocks of ", block_size,
              " slots, ", kv_heads, " KV heads of ", head_dim);
  const int64_t slots = num_slots();
  for (int64_t l = 0; l < num_layers; ++l) {
    for (auto [all, blocks] : {std::pair{&all_keys_, &keys_}, {&all_values_, &values_}}) {
      all->push_back(at::empty({slots + 1, kv_heads, head_dim}, options));
      all->back().narrow(0, slots, 1).zero_();
      blocks->push_back(all->back().narrow(0, 0, slots));
    }
  }
}

uint64_t PagedKvPool::BytesPerBlock(int64_t num_layers, int64_t block_size, int64_t kv_heads,
                                    int64_t head_dim, c10::ScalarType dtype) {
  return 2ull * static_cast<uint64_t>(num_layers) * static_cast<uint64_t>(block_size) *
         static_cast<uint64_t>(kv_heads) * static_cast<uint64_t>(head_dim) *
         static_cast<uint64_t>(c10::elementSize(dtype));
}

uint64_t PagedKvPool::bytes() const {
  return static_cast<uint64_t>(num_blocks_) *
         BytesPerBlock(num_layers(), block_size_, kv_heads_, head_dim_, dtype());
}

// ---------------------------------------------------------------- PagedKvCache

PagedKvCache::PagedKvCache(PagedKvPool* pool, std::vector<std::vector<int32_t>> tables,
                           std::vector<int64_t> past)
    : pool_(pool),
      tables_(std::move(tables)),
      past_(std::move(past)),
      new_(past_.size(), 0),
      length_(past_.empty() ? 0 : *std::max_element(past_.begin(), past_.end())) {}

std::vector<int64_t> PagedKvCache::stored() const {
  std::vector<int64_t> out(past_.size());
  for (size_t r = 0; r < past_.size(); ++r) out[r] = past_[r] + new_[r];
  return out;
}

StatusOr<AttentionBatch> PagedKvCache::BeginStep(const at::Tensor& valid,
                                                 const at::Tensor& positions) {
  if (pool_ == nullptr) return InvalidArgument("paged KV cache: no pool");
  if (!positions.defined() || positions.dim() != 2 || positions.scalar_type() != at::kLong) {
    return InvalidArgument("step positions must be an int64 tensor [batch, tokens]");
  }
  if (positions.size(1) == 0) return InvalidArgument("the step has no slots");
  if (valid.defined() && valid.sizes() != positions.sizes()) {
    return InvalidArgument("the step's valid " + c10::str(valid.sizes()) +
                           " is not shaped like its positions " + c10::str(positions.sizes()));
  }
  const int64_t rows = static_cast<int64_t>(tables_.size());
  if (static_cast<int64_t>(past_.size()) != rows) {
    return InvalidArgument("paged KV cache: " + std::to_string(rows) + " tables for " +
                           std::to_string(past_.size()) + " past lengths");
  }
  if (positions.size(0) != rows) {
    return InvalidArgument("paged KV cache holds " + std::to_string(rows) +
                           " rows; the step's positions have shape " + c10::str(positions.sizes()));
  }
  if (rows == 0) return InvalidArgument("paged KV cache: the step has no rows");
  const int64_t t = positions.size(1);
  const int64_t bs = pool_->block_size();

  // The previous step's tokens count as stored from now on; committed only
  // when this step is accepted.
  std::vector<int64_t> past = stored();
  for (int64_t r = 0; r < rows; ++r) {
    if (past[r] < 0) return InvalidArgument(Row(r) + " has a negative past length");
  }
  // One read from the device: positions, then validity.
  const at::Tensor host =
      (valid.defined() ? at::cat({positions, valid.to(positions.device(), at::kLong)}) : positions)
          .to(at::kCPU)
          .contiguous();
  const int64_t* pos = host.data_ptr<int64_t>();
  const int64_t* val = valid.defined() ? pos + rows * t : nullptr;

  std::vector<int64_t> n(static_cast<size_t>(rows), 0);
  for (int64_t r = 0; r < rows; ++r) {
    int64_t k = 0;
    while (k < t && (val == nullptr || val[r * t + k] != 0)) ++k;
    n[r] = k;
    for (; k < t; ++k) {
      if (val[r * t + k] != 0) {
        return InvalidArgument(Row(r) + ": valid slots must come first (slot " + std::to_string(k) +
                               " is a token after padding)");
      }
    }
    for (k = 0; k < n[r]; ++k) {
      if (pos[r * t + k] != past[r] + k) {
        return InvalidArgument(Row(r) + ": token " + std::to_string(k) + " has position " +
                               std::to_string(pos[r * t + k]) + ", expected " +
                               std::to_string(past[r] + k) + " (past " + std::to_string(past[r]) +
                               ")");
      }
    }
    const std::vector<int32_t>& table = tables_[r];
    const int64_t needed = (past[r] + n[r] + bs - 1) / bs;
    if (static_cast<int64_t>(table.size()) < needed) {
      return InvalidArgument(Row(r) + ": " + std::to_string(table.size()) + " blocks of " +
                             std::to_string(bs) + " slots cannot hold " +
                             std::to_string(past[r] + n[r]) + " tokens");
    }
    for (int64_t j = 0; j < needed; ++j) {
      if (table[j] < 0 || table[j] >= pool_->num_blocks()) {
        return InvalidArgument(Row(r) + ": block " + std::to_string(table[j]) +
                               " is outside the pool's " + std::to_string(pool_->num_blocks()));
      }
    }
  }

  const int64_t max_past = *std::max_element(past.begin(), past.end());
  const int64_t s = max_past + t;
  const int64_t null_slot = pool_->num_slots();
  int64_t writes = 0;
  bool all_tokens = true;
  for (int64_t r = 0; r < rows; ++r) {
    writes += n[r];
    all_tokens = all_tokens && past[r] == max_past && n[r] == t;
  }
  // One host buffer, one copy to the device: gather slots, key positions,
  // key validity (each [B, S]), write slots, then (with padding) their
  // sources among the step's B * T rows.
  const int64_t sources = all_tokens ? 0 : writes;
  at::Tensor buffer = at::empty({3 * rows * s + writes + sources}, at::kLong);
  int64_t* gather = buffer.data_ptr<int64_t>();
  int64_t* key_pos = gather + rows * s;
  int64_t* key_valid = key_pos + rows * s;
  int64_t* write = key_valid + rows * s;
  int64_t* source = write + writes;
  auto slot_of = [&](int64_t r, int64_t p) {
    return static_cast<int64_t>(tables_[r][p / bs]) * bs + p % bs;
  };
  int64_t w = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t gap = max_past - past[r];
    for (int64_t i = 0; i < s; ++i) {
      const int64_t slot = r * s + i;
      if (i < gap) {
        gather[slot] = null_slot;
        key_pos[slot] = 0;
        key_valid[slot] = 0;
      } else if (i < max_past) {
        gather[slot] = slot_of(r, i - gap);
        key_pos[slot] = i - gap;
        key_valid[slot] = 1;
      } else if (i - max_past < n[r]) {
        const int64_t k = i - max_past;
        gather[slot] = slot_of(r, past[r] + k);
        key_pos[slot] = past[r] + k;
        key_valid[slot] = 1;
        write[w] = gather[slot];
        if (sources > 0) source[w] = r * t + k;
        ++w;
      } else {
        gather[slot] = null_slot;
        key_pos[slot] = pos[r * t + (i - max_past)];
        key_valid[slot] = 0;
      }
    }
  }
  std::vector<int64_t> sorted(write, write + writes);
  std::sort(sorted.begin(), sorted.end());
  const auto twice = std::adjacent_find(sorted.begin(), sorted.end());
  if (twice != sorted.end()) {
    return InvalidArgument("paged KV cache: the step writes slot " + std::to_string(*twice) +
                           " (block " + std::to_string(*twice / bs) + ") twice");
  }

  const at::Tensor device = buffer.to(pool_->device());
  gather_index_ = device.narrow(0, 0, rows * s);
  write_index_ = device.narrow(0, 3 * rows * s, writes);
  write_source_ = sources > 0 ? device.narrow(0, 3 * rows * s + writes, sources) : at::Tensor();
  past_ = std::move(past);
  new_ = std::move(n);
  length_ = s;

  AttentionBatch batch;
  batch.query_positions = positions;
  batch.key_positions = device.narrow(0, rows * s, rows * s).view({rows, s}).to(positions.device());
  batch.key_valid =
      device.narrow(0, 2 * rows * s, rows * s).view({rows, s}).to(positions.device(), at::kBool);
  batch.query_offset = max_past;
  batch.all_tokens = all_tokens;
  // Every query is at most at max_past + T - 1, every key at least at 0.
  if (all_tokens) batch.max_distance = max_past + t - 1;
  return batch;
}

at::Tensor PagedKvCache::Attend(int64_t layer, const at::Tensor& q, const at::Tensor& k,
                                const at::Tensor& v, const AttentionBatch& batch,
                                int64_t sliding_window) {
  TORCH_CHECK(pool_ != nullptr && layer >= pool_->first_layer() &&
                  layer < pool_->first_layer() + pool_->num_layers(),
              "paged KV cache: layer ", layer, " is outside the pool");
  const int64_t rows = static_cast<int64_t>(tables_.size());
  const int64_t kv = pool_->kv_heads(), d = pool_->head_dim();
  TORCH_CHECK(k.dim() == 4 && k.size(0) == rows && k.size(1) == kv && k.size(3) == d &&
                  v.sizes() == k.sizes(),
              "paged KV cache: keys ", k.sizes(), " and values ", v.sizes(), " for ", rows,
              " rows of ", kv, " KV heads of ", d);
  TORCH_CHECK(gather_index_.defined() && batch.num_keys() == length_ &&
                  k.size(2) == length_ - batch.query_offset,
              "paged KV cache: ", k.size(2), " slots do not match the step begun (", length_,
              " keys)");
  TORCH_CHECK(k.device() == pool_->device() && k.scalar_type() == pool_->dtype() &&
                  v.device() == k.device() && v.scalar_type() == k.scalar_type(),
              "paged KV cache: the pool is ", pool_->dtype(), " on ", pool_->device(),
              "; the step brings ", k.scalar_type(), " on ", k.device());
  const int64_t t = k.size(2), s = length_;
  at::Tensor& keys = pool_->all_keys_[layer - pool_->first_layer()];
  at::Tensor& values = pool_->all_values_[layer - pool_->first_layer()];
  if (write_index_.numel() > 0) {
    auto rows_of = [&](const at::Tensor& x) {
      const at::Tensor flat = x.transpose(1, 2).reshape({rows * t, kv, d});
      return write_source_.defined() ? flat.index_select(0, write_source_) : flat;
    };
    keys.index_copy_(0, write_index_, rows_of(k));
    values.index_copy_(0, write_index_, rows_of(v));
  }
  auto gathered = [&](const at::Tensor& x) {
    return x.index_select(0, gather_index_).view({rows, s, kv, d}).transpose(1, 2);
  };
  return DenseAttention(q, gathered(keys), gathered(values), batch, sliding_window);
}

}  // namespace compass::model
