// paged_tp's plan, made from the model config and the devices before any
// weight is read: the options checked, the tensor-parallel layout, and per
// rank the weights, the step's activations and the KV blocks that fit in
// what is left.
//
// KV budget per rank = capacity x memory_utilization - reserve (CUDA: the
// context and allocator) - the rank's weights - the activations of the
// largest step (max_batched_tokens tokens, max_num_seqs rows of up to
// max_length keys gathered per layer), at most kCpuKvBudget on a CPU device;
// blocks = budget / bytes per block,
// at most what max_num_seqs sequences of max_length tokens can use, or
// `num_blocks` when given. The plan fits when one sequence of max_length
// tokens fits.
//
// With `stages` > 1 the decoder layers are split into that many stages of
// equal layer counts (models/parallel_accounting.h, EvenLayerSplit), each
// stage a group of tp ranks on devices [s x tp, (s + 1) x tp): a rank holds
// its stage's weights / tp (StageWeightBytes: the embedding on stage 0, the
// final norm and LM head on the last), KV blocks for its stage's layers
// only, and the step's activations with the logits on the last stage only
// and, between stages, the hidden states at the boundary
// (StageBoundaryBytes). Every stage holds the same blocks (a sequence's
// tokens in every stage), so blocks = the least any rank can hold. Stages
// run with processes = true (ProcessTensorParallelRunner).
#ifndef COMPASS_PAGED_TP_PLANNER_H_
#define COMPASS_PAGED_TP_PLANNER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/dtype.h"
#include "models/model_config.h"
#include "util/status.h"

namespace compass::paged_tp {

// The most host memory the KV blocks of a CPU rank take from the budget.
constexpr uint64_t kCpuKvBudget = 4ull << 30;

struct DeviceInfo {
  std::string name;  // "cpu", "cpu:1", "cuda:0"
  uint64_t memory_bytes = 0;
};

// The options' upper bounds (lower ones: block_size and max_num_seqs and
// max_batched_tokens 1, num_blocks 0).
inline constexpr int64_t kMaxBlockSize = 65536;
inline constexpr int64_t kMaxNumBlocks = (int64_t{1} << 31) - 1;
inline constexpr int64_t kMaxNumSeqs = 65536;
inline constexpr int64_t kMaxBatchedTokens = (int64_t{1} << 31) - 1;

struct PagedOptions {
  int64_t tp = 1;
  int64_t stages = 1;  // pipeline stages of tp ranks each
  int64_t block_size = 16;
  double memory_utilization = 0.9;
  int64_t num_blocks = 0;  // 0: from the budget
  int64_t max_num_seqs = 64;
  int64_t max_batched_tokens = 2048;
  bool prefix_caching = true;
  bool chunked_prefill = true;
  uint64_t cuda_reserve = 1ull << 30;
};

struct RankPlan {
  std::string device;
  int64_t stage = 0;
  uint64_t capacity = 0;
  uint64_t weights = 0;
  uint64_t activations = 0;
  uint64_t reserve = 0;
  uint64_t kv_bytes = 0;  // num_blocks x block bytes
};

struct PagedPlan {
  // The options the run uses: those given, except for models with dynamic
  // RoPE (below).
  PagedOptions options;
  std::vector<std::string> notes;  // what was changed and why
  model::DType dtype = model::DType::kF32;
  int64_t max_length = 0;
  int64_t num_blocks = 0;
  uint64_t block_bytes = 0;  // one block, K and V of the largest stage's layers, on one rank
  std::vector<std::pair<int64_t, int64_t>> stage_layers;  // [begin, end) per stage
  std::vector<RankPlan> ranks;
  bool fits = false;
  std::string message;  // why it does not fit, with a fix; empty when it fits
};

// InvalidArgument, naming the option and what is allowed: tp < 1, stages
// outside 1 to the decoder layers, tp x stages larger than the devices given, a device given twice,
// CPU and GPU ranks mixed, block_size not a power of two >= 1, memory_utilization outside (0, 1],
// num_blocks < 0, max_num_seqs or max_batched_tokens < 1, max_batched_tokens < max_length without
// chunked prefill; tp not dividing the attention heads, or tp and the KV
// heads not dividing one another.
Status CheckOptions(const PagedOptions& options, const model::ModelConfig& config,
                    const std::vector<DeviceInfo>& devices, int64_t max_length);

// The plan on the first tp x stages devices (CheckOptions first). With dynamic
// (NTK) RoPE a forward's frequencies depend on its length, so a token's K/V
// depend on how its prompt was split into steps: such models compute every
// prompt in one step, unshared (no chunked prefill, no prefix caching, steps
// of at least max_length tokens), as the reference computes it, with a note.
StatusOr<PagedPlan> PlanPaged(const PagedOptions& options, const model::ModelConfig& config,
                              model::DType dtype, const std::vector<DeviceInfo>& devices,
                              int64_t max_length);

// What a CUDA rank measured at start-up with its weights loaded: the
// device's memory and what the worst-case step (ProfileStep) took at its
// peak beyond what was allocated before it.
struct MeasuredMemory {
  std::string device;
  uint64_t total = 0;
  uint64_t free = 0;      // before the step, with the weights loaded
  uint64_t released = 0;  // of (total - free), freed before the KV blocks are allocated
  uint64_t step_peak = 0;
};

// The KV blocks per rank from measurements (the plan's estimate replaced
// by facts, as vLLM profiles): on each rank total x memory_utilization -
// (total - free - released) - step_peak, divided by the block size; the
// least over the ranks, capped as the plan caps it (max_num_seqs sequences
// of max_length), or the plan's num_blocks when the option gave it.
// OutOfMemory naming the rank, the numbers and the fixes when one sequence
// of max_length does not fit.
StatusOr<int64_t> MeasuredKvBlocks(const PagedPlan& plan, const std::vector<MeasuredMemory>& ranks);

// The worst-case step the measurement runs: max_batched_tokens tokens (at
// least one) as rows of at most max_length, every token's logits asked for.
// Returns the row lengths.
std::vector<int64_t> ProfileStepRows(const PagedPlan& plan);

// K and V of `layers` layers (0: every layer of the model) for one block of
// `block_size` tokens on one of `tp` ranks (KV heads split when there are at
// least tp of them, else each rank holds one).
uint64_t KvBlockBytes(const model::ModelConfig& config, model::DType dtype, int64_t block_size,
                      int64_t tp, int64_t layers = 0);

}  // namespace compass::paged_tp

#endif  // COMPASS_PAGED_TP_PLANNER_H_
