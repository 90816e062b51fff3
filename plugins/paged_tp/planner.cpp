#include "planner.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <set>

#include "models/parallel_accounting.h"

namespace compass::paged_tp {
namespace {

Status Bad(const std::string& option, const std::string& what) {
  return InvalidArgument("paged_tp: " + option + " " + what);
}

std::string Bytes(double b) {
  const double gib = b / (1ull << 30);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", gib);
  return buf;
}

// One step's activations on a rank: the layer working set for
// max_batched_tokens tokens (as hf_native's estimate, heads split over the
// ranks), the K and V a layer gathers for max_num_seqs rows of max_length
// keys, float32 logits with their log-softmax for every token on the last
// stage, and the hidden states at the stage boundary when there are stages.
uint64_t StepActivationBytes(const model::ModelConfig& c, model::DType dtype, const PagedOptions& o,
                             int64_t max_length, bool last_stage) {
  const uint64_t ds = model::DTypeSize(dtype);
  const uint64_t tokens = static_cast<uint64_t>(o.max_batched_tokens);
  const uint64_t tp = static_cast<uint64_t>(o.tp);
  const uint64_t kv = static_cast<uint64_t>(model::KvHeadsPerRank(c, o.tp) * c.head_dim);
  uint64_t bytes = model::LayerActivationBytes(c, dtype, tokens, o.tp);
  const uint64_t keys =
      static_cast<uint64_t>(std::min<int64_t>(o.max_num_seqs, o.max_batched_tokens)) *
      static_cast<uint64_t>(max_length);
  bytes += 2 * keys * kv * ds;
  if (last_stage) bytes += tokens * static_cast<uint64_t>(c.vocab_size) * (4 * 2 + ds) / tp;
  if (o.stages > 1) bytes += model::StageBoundaryBytes(c, dtype, tokens);
  return bytes;
}

}  // namespace

uint64_t KvBlockBytes(const model::ModelConfig& config, model::DType dtype, int64_t block_size,
                      int64_t tp, int64_t layers) {
  return static_cast<uint64_t>(block_size) *
         model::KvBytesPerToken(config, dtype, tp, layers > 0 ? layers : config.num_hidden_layers);
}

Status CheckOptions(const PagedOptions& o, const model::ModelConfig& c,
                    const std::vector<DeviceInfo>& devices, int64_t max_length) {
  if (o.tp < 1) return Bad("tp", "must be at least 1, got " + std::to_string(o.tp));
  if (o.stages < 1 || o.stages > c.num_hidden_layers) {
    return Bad("stages", "must be between 1 and the model's " +
                             std::to_string(c.num_hidden_layers) +
                             " decoder layers (every stage holds at least one), got " +
                             std::to_string(o.stages));
  }
  if (o.tp > static_cast<int64_t>(devices.size())) {
    return Bad("tp", "= " + std::to_string(o.tp) + " needs " + std::to_string(o.tp) +
                         " devices, one per rank, but backend.devices lists " +
                         std::to_string(devices.size()) + "; list more devices or lower tp");
  }
  // tp <= devices <= 2^63, so the product cannot overflow when it is checked by division.
  if (o.stages > static_cast<int64_t>(devices.size()) / o.tp) {
    return Bad("stages", "= " + std::to_string(o.stages) + " with tp = " + std::to_string(o.tp) +
                             " needs " + std::to_string(o.tp * o.stages) +
                             " devices (tp ranks per stage), but backend.devices lists " +
                             std::to_string(devices.size()) +
                             "; list more devices, or lower stages or tp");
  }
  std::set<std::string> seen;
  const bool cpu = devices.front().name.rfind("cpu", 0) == 0;
  for (int64_t r = 0; r < o.tp * o.stages; ++r) {
    if ((devices[r].name.rfind("cpu", 0) == 0) != cpu) {
      return Bad("tp", "mixes CPU and GPU ranks (" + devices.front().name + ", " + devices[r].name +
                           "); the ranks of a group are all cpu:N (in-process communicator) or "
                           "all cuda:N (NCCL)");
    }
    if (!seen.insert(devices[r].name).second) {
      return Bad("tp", "places two ranks on " + devices[r].name +
                           "; each rank needs its own device (use cpu:0, cpu:1, ... on CPU)");
    }
  }
  if (o.block_size < 1 || o.block_size > kMaxBlockSize ||
      (o.block_size & (o.block_size - 1)) != 0) {
    return Bad("block_size", "must be a power of two from 1 to " + std::to_string(kMaxBlockSize) +
                                 " (16 by default), got " + std::to_string(o.block_size));
  }
  if (!(o.memory_utilization > 0 && o.memory_utilization <= 1)) {
    return Bad("memory_utilization",
               "must be in (0, 1], got " + std::to_string(o.memory_utilization));
  }
  // Upper bounds keep every product of the plan (bytes per rank) in 64 bits.
  auto range = [](const char* option, int64_t v, int64_t lo, int64_t hi,
                  const std::string& meaning) -> Status {
    if (v >= lo && v <= hi) return Status::Ok();
    return Bad(option, "must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                           meaning + ", got " + std::to_string(v));
  };
  COMPASS_RETURN_IF_ERROR(
      range("num_blocks", o.num_blocks, 0, kMaxNumBlocks, " (0: from the memory budget)"));
  COMPASS_RETURN_IF_ERROR(range("max_num_seqs", o.max_num_seqs, 1, kMaxNumSeqs, ""));
  COMPASS_RETURN_IF_ERROR(
      range("max_batched_tokens", o.max_batched_tokens, 1, kMaxBatchedTokens, ""));
  if (!o.chunked_prefill && o.max_batched_tokens < max_length) {
    return Bad("max_batched_tokens",
               "= " + std::to_string(o.max_batched_tokens) + " is below the context window " +
                   std::to_string(max_length) +
                   ": without chunked_prefill a prompt must fit one step; raise it or turn "
                   "chunked_prefill on");
  }
  if (const std::string why = model::TensorParallelRefusal(c, o.tp); !why.empty()) {
    return InvalidArgument("paged_tp: " + why);
  }
  return Status::Ok();
}

StatusOr<PagedPlan> PlanPaged(const PagedOptions& given, const model::ModelConfig& c,
                              model::DType dtype, const std::vector<DeviceInfo>& devices,
                              int64_t max_length) {
  PagedPlan plan;
  plan.options = given;
  PagedOptions& o = plan.options;
  if (c.rope.type == model::RopeType::kDynamic &&
      (o.prefix_caching || o.chunked_prefill || o.max_batched_tokens < max_length)) {
    o.prefix_caching = false;
    o.chunked_prefill = false;
    o.max_batched_tokens = std::max(o.max_batched_tokens, max_length);
    plan.notes.push_back(
        "dynamic RoPE: every prompt is computed in one step and unshared (its frequencies "
        "depend on the length of the forward), so prefix caching and chunked prefill are off");
  }
  COMPASS_RETURN_IF_ERROR(CheckOptions(o, c, devices, max_length));
  plan.dtype = dtype;
  plan.max_length = max_length;
  plan.stage_layers = model::EvenLayerSplit(c.num_hidden_layers, o.stages);
  const model::ParameterAccounting acc = model::AccountParameters(c, dtype);
  const uint64_t tp = static_cast<uint64_t>(o.tp);
  const int64_t blocks_per_seq = (max_length + o.block_size - 1) / o.block_size;
  int64_t budget_blocks = std::numeric_limits<int64_t>::max();
  for (int64_t r = 0; r < o.tp * o.stages; ++r) {
    const int64_t stage = r / o.tp;
    const auto [begin, end] = plan.stage_layers[static_cast<size_t>(stage)];
    const bool first = stage == 0, last = stage == o.stages - 1;
    const uint64_t block_bytes = KvBlockBytes(c, dtype, o.block_size, o.tp, end - begin);
    plan.block_bytes = std::max(plan.block_bytes, block_bytes);
    RankPlan rank;
    rank.device = devices[r].name;
    rank.stage = stage;
    rank.capacity = devices[r].memory_bytes;
    // Norms are replicated, everything else split; rounding up per rank.
    rank.weights = (model::StageWeightBytes(acc, begin, end, first, last) + tp - 1) / tp;
    rank.activations = StepActivationBytes(c, dtype, o, max_length, last);
    rank.reserve = rank.device.rfind("cuda", 0) == 0 ? o.cuda_reserve : 0;
    const double usable = static_cast<double>(rank.capacity) * o.memory_utilization;
    double left = usable - static_cast<double>(rank.weights + rank.activations + rank.reserve);
    // Host memory is shared with everything else on the machine: on CPU the
    // blocks take at most kCpuKvBudget unless num_blocks says otherwise (as
    // vLLM's CPU backend does with its 4 GiB default).
    if (rank.device.rfind("cpu", 0) == 0) left = std::min(left, static_cast<double>(kCpuKvBudget));
    budget_blocks = std::min<int64_t>(
        budget_blocks,
        left > 0 ? static_cast<int64_t>(left / static_cast<double>(block_bytes)) : 0);
    plan.ranks.push_back(rank);
  }
  const int64_t useful = blocks_per_seq * o.max_num_seqs;
  plan.num_blocks = o.num_blocks > 0 ? o.num_blocks : std::min(budget_blocks, useful);
  // The rank that limits the blocks: the least room per block (the first
  // among equals), named when one sequence does not fit.
  size_t tightest = 0;
  double tightest_room = std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < plan.ranks.size(); ++i) {
    RankPlan& rank = plan.ranks[i];
    const auto [begin, end] = plan.stage_layers[static_cast<size_t>(rank.stage)];
    const uint64_t block_bytes = KvBlockBytes(c, dtype, o.block_size, o.tp, end - begin);
    rank.kv_bytes = plan.num_blocks * block_bytes;
    const double room = (static_cast<double>(rank.capacity) * o.memory_utilization -
                         static_cast<double>(rank.weights + rank.activations + rank.reserve)) /
                        static_cast<double>(block_bytes);
    if (room < tightest_room) {
      tightest_room = room;
      tightest = i;
    }
  }
  const uint64_t need = static_cast<uint64_t>(blocks_per_seq) * plan.block_bytes;
  if (plan.num_blocks < blocks_per_seq) {
    const RankPlan& r = plan.ranks[tightest];
    plan.fits = false;
    plan.message =
        "the KV cache holds " + std::to_string(plan.num_blocks) + " blocks of " +
        std::to_string(o.block_size) + " tokens, fewer than one sequence of " +
        std::to_string(max_length) + " tokens needs (" + std::to_string(blocks_per_seq) +
        " blocks, " + Bytes(need) + " per rank); " +
        (o.num_blocks > 0 ? "raise num_blocks"
                          : "on " + r.device + " " + Bytes(r.capacity) + " x " +
                                std::to_string(o.memory_utilization) + " leaves too little after " +
                                Bytes(r.weights) + " of weights and " + Bytes(r.activations) +
                                " of activations; lower max_batched_tokens or "
                                "max_num_seqs, raise memory_utilization, use more "
                                "ranks (tp, or stages of tp ranks) or set model.max_length "
                                "lower");
    return plan;
  }
  plan.fits = true;
  return plan;
}

StatusOr<int64_t> MeasuredKvBlocks(const PagedPlan& plan,
                                   const std::vector<MeasuredMemory>& ranks) {
  const PagedOptions& o = plan.options;
  const int64_t blocks_per_seq = (plan.max_length + o.block_size - 1) / o.block_size;
  int64_t blocks = std::numeric_limits<int64_t>::max();
  const MeasuredMemory* tightest = nullptr;
  double tightest_left = 0;
  for (const MeasuredMemory& m : ranks) {
    const double used = static_cast<double>(m.total - std::min(m.total, m.free + m.released));
    const double left = static_cast<double>(m.total) * o.memory_utilization - used -
                        static_cast<double>(m.step_peak);
    const int64_t here =
        left > 0 ? static_cast<int64_t>(left / static_cast<double>(plan.block_bytes)) : 0;
    if (here < blocks) {
      blocks = here;
      tightest = &m;
      tightest_left = left;
    }
  }
  if (tightest == nullptr) return plan.num_blocks;
  const int64_t useful = blocks_per_seq * o.max_num_seqs;
  if (o.num_blocks > 0) {
    blocks = o.num_blocks;
  } else {
    blocks = std::min(blocks, useful);
  }
  if (blocks < blocks_per_seq) {
    const MeasuredMemory& m = *tightest;
    return OutOfMemory(
        "paged_tp: measured on " + m.device + ": " + Bytes(m.total) + " x " +
        std::to_string(o.memory_utilization) + " leaves " +
        Bytes(tightest_left > 0 ? tightest_left : 0) + " for KV blocks after " +
        Bytes(m.total - std::min(m.total, m.free + m.released)) +
        " in use (weights, CUDA context, other processes) and a worst-case step of " +
        Bytes(m.step_peak) + "; one sequence of " + std::to_string(plan.max_length) +
        " tokens needs " + Bytes(static_cast<uint64_t>(blocks_per_seq) * plan.block_bytes) +
        " per rank. Lower max_batched_tokens or max_num_seqs, raise memory_utilization, use "
        "more ranks (tp) or set model.max_length lower");
  }
  return blocks;
}

std::vector<int64_t> ProfileStepRows(const PagedPlan& plan) {
  int64_t tokens = std::max<int64_t>(1, plan.options.max_batched_tokens);
  const int64_t width = std::max<int64_t>(1, plan.max_length);
  std::vector<int64_t> rows;
  while (tokens > 0 && static_cast<int64_t>(rows.size()) < plan.options.max_num_seqs) {
    rows.push_back(std::min(tokens, width));
    tokens -= rows.back();
  }
  return rows;
}

}  // namespace compass::paged_tp
