#include "model_runner.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <numeric>

#include "models/nccl_communicator.h"
#include "models/parallel_accounting.h"
#include "util/status_throw.h"

namespace compass::paged_tp {
namespace {

// Groups of row indices, longest first; a group's rows are at least half as
// long as its first.
std::vector<std::vector<int64_t>> GroupByLength(const std::vector<int64_t>& lengths) {
  std::vector<int64_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return lengths[a] > lengths[b]; });
  std::vector<std::vector<int64_t>> groups;
  for (int64_t b : order) {
    if (groups.empty() || 2 * lengths[b] < lengths[groups.back().front()]) groups.emplace_back();
    groups.back().push_back(b);
  }
  return groups;
}

}  // namespace

at::Tensor ModelRunner::Step(const StepInput& input, const std::vector<int64_t>& rows,
                             const std::vector<int64_t>& cols) {
  const at::Tensor counts = input.valid.sum(1);
  const int64_t* count = counts.data_ptr<int64_t>();
  const std::vector<int64_t> lengths(count, count + counts.size(0));
  at::Tensor out;
  for (const std::vector<int64_t>& group : GroupByLength(lengths)) {
    const int64_t width = std::max<int64_t>(1, lengths[group.front()]);
    const at::Tensor which = at::tensor(group, at::kLong);
    StepInput part;
    part.ids = input.ids.index_select(0, which).narrow(1, 0, width);
    part.positions = input.positions.index_select(0, which).narrow(1, 0, width);
    part.valid = input.valid.index_select(0, which).narrow(1, 0, width);
    std::vector<int64_t> local(lengths.size(), -1);
    for (size_t k = 0; k < group.size(); ++k) {
      part.tables.push_back(input.tables[group[k]]);
      part.past.push_back(input.past[group[k]]);
      local[group[k]] = static_cast<int64_t>(k);
    }
    std::vector<int64_t> asks, ask_rows, ask_cols;
    for (size_t i = 0; i < rows.size(); ++i) {
      if (local[rows[i]] < 0) continue;
      asks.push_back(static_cast<int64_t>(i));
      ask_rows.push_back(local[rows[i]]);
      ask_cols.push_back(cols[i]);
    }
    const at::Tensor logits = Forward(part, ask_rows, ask_cols);
    if (asks.empty()) continue;
    if (!out.defined()) {
      out = at::empty({static_cast<int64_t>(rows.size()), logits.size(1)}, logits.options());
    }
    out.index_copy_(0, at::tensor(asks, at::kLong).to(logits.device()), logits);
  }
  return out;
}

SingleDeviceRunner::SingleDeviceRunner(model::CausalLM model, int64_t num_blocks,
                                       int64_t block_size)
    : model_(std::move(model)), block_size_(block_size) {
  AllocateKv(num_blocks);
}

void SingleDeviceRunner::AllocateKv(int64_t num_blocks) {
  const model::ModelConfig& c = model_.config();
  const model::Placement& p = model_.placement();
  pool_.reset();
  pool_ = std::make_unique<model::PagedKvPool>(c.num_hidden_layers, num_blocks, block_size_,
                                               c.num_key_value_heads, c.head_dim,
                                               at::TensorOptions().dtype(p.dtype).device(p.device));
}

at::Tensor SingleDeviceRunner::Forward(const StepInput& input, const std::vector<int64_t>& rows,
                                       const std::vector<int64_t>& cols) {
  model::PagedKvCache cache(pool_.get(), input.tables, input.past);
  const at::Tensor hidden =
      ValueOrThrow(model_.Hidden(input.ids, input.positions, input.valid, &cache));
  if (rows.empty()) return at::Tensor();
  const c10::Device device = hidden.device();
  return model_.Logits(hidden.index(
      {at::tensor(rows, at::kLong).to(device), at::tensor(cols, at::kLong).to(device)}));
}

StatusOr<std::unique_ptr<TensorParallelRunner>> TensorParallelRunner::Load(
    const model::ModelWeights& weights, const std::vector<c10::Device>& devices,
    c10::ScalarType dtype, int64_t num_blocks, int64_t block_size) {
  const model::ModelConfig& c = weights.config();
  const int64_t size = static_cast<int64_t>(devices.size());
  auto runner = std::unique_ptr<TensorParallelRunner>(new TensorParallelRunner());
  runner->block_size_ = block_size;
  for (int64_t r = 0; r < size; ++r) {
    model::StageSpec spec;
    spec.begin = 0;
    spec.end = c.num_hidden_layers;
    spec.embedding = true;
    spec.head = true;
    spec.placement = {devices[r], dtype};
    spec.tp = {r, size};
    COMPASS_ASSIGN_OR_RETURN(model::Stage stage, model::Stage::Load(weights, spec));
    runner->stages_.push_back(std::move(stage));
  }
  runner->AllocateKv(num_blocks);
  if (devices.front().is_cuda()) {
    COMPASS_ASSIGN_OR_RETURN(runner->ranks_, model::NcclRanks(devices));
  } else {
    runner->ranks_ = model::InProcessRanks(size);
  }
  return runner;
}

std::vector<c10::Device> TensorParallelRunner::devices() const {
  std::vector<c10::Device> out;
  for (const model::Stage& stage : stages_) out.push_back(stage.device());
  return out;
}

void TensorParallelRunner::AllocateKv(int64_t num_blocks) {
  const model::ModelConfig& c = config();
  const int64_t size = static_cast<int64_t>(stages_.size());
  pools_.clear();
  for (const model::Stage& stage : stages_) {
    pools_.push_back(std::make_unique<model::PagedKvPool>(
        c.num_hidden_layers, num_blocks, block_size_, model::KvHeadsPerRank(c, size), c.head_dim,
        at::TensorOptions().dtype(stage.dtype()).device(stage.device())));
  }
}

at::Tensor TensorParallelRunner::Forward(const StepInput& input, const std::vector<int64_t>& rows,
                                         const std::vector<int64_t>& cols) {
  const int64_t vocab = config().vocab_size;
  at::Tensor logits;
  ranks_->Run([&](model::Communicator& comm) {
    const int64_t r = comm.rank();
    const model::Stage& stage = stages_[r];
    model::PagedKvCache cache(pools_[r].get(), input.tables, input.past);
    const model::Step step =
        ValueOrThrow(model::Step::Begin(config(), input.ids, input.positions, input.valid, &cache,
                                        model::AttentionImpl::kSdpa, stage.device()));
    const model::AllReduce reduce = model::AllReduceSumOver(comm);
    const at::Tensor hidden = stage.Forward(stage.Embed(step, reduce), step, &cache, reduce);
    if (rows.empty()) return;
    const c10::Device device = hidden.device();
    const at::Tensor shard = stage.Logits(hidden.index(
        {at::tensor(rows, at::kLong).to(device), at::tensor(cols, at::kLong).to(device)}));
    // Every rank's columns side by side, then the padding past the
    // vocabulary dropped: no softmax ever sees a padded column.
    const at::Tensor all = comm.AllGather(shard, 1);
    if (r == 0) logits = all.narrow(1, 0, vocab);
  });
  return logits;
}

}  // namespace compass::paged_tp
