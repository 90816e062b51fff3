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

// Rank comm.rank()'s shard of a stage's forward over its KV blocks in
// `pool`, from the embedding (the first stage) or `hidden_in` (a later
// one): a stage with the head returns the logits [rows, vocab] at (rows,
// cols), gathered from every rank's vocab shard (undefined when there are
// none); a stage before it, its hidden state.
at::Tensor ShardForward(const model::Stage& stage, model::PagedKvPool* pool,
                        model::Communicator& comm, const StepInput& input,
                        const std::vector<int64_t>& rows, const std::vector<int64_t>& cols,
                        const at::Tensor& hidden_in = at::Tensor()) {
  model::PagedKvCache cache(pool, input.tables, input.past);
  const model::Step step =
      ValueOrThrow(model::Step::Begin(stage.config(), input.ids, input.positions, input.valid,
                                      &cache, model::AttentionImpl::kSdpa, stage.device()));
  const model::AllReduce reduce = model::AllReduceSumOver(comm);
  const at::Tensor hidden = stage.Forward(
      hidden_in.defined() ? hidden_in : stage.Embed(step, reduce), step, &cache, reduce);
  if (!stage.spec().head) return hidden;
  if (rows.empty()) return at::Tensor();
  const c10::Device device = hidden.device();
  const at::Tensor shard = stage.Logits(hidden.index(
      {at::tensor(rows, at::kLong).to(device), at::tensor(cols, at::kLong).to(device)}));
  // Every rank's columns side by side, then the padding past the
  // vocabulary dropped: no softmax ever sees a padded column.
  return comm.AllGather(shard, 1).narrow(1, 0, stage.config().vocab_size);
}

// Rank `rank` of `size` of the whole model, or of stage [begin, end) of
// `stages` (a stage holds the embedding when it begins at 0, the head when
// it ends at the last layer).
model::StageSpec ShardSpec(const model::ModelConfig& c, c10::Device device, c10::ScalarType dtype,
                           int64_t rank, int64_t size, int64_t begin = 0, int64_t end = -1) {
  model::StageSpec spec;
  spec.begin = begin;
  spec.end = end < 0 ? c.num_hidden_layers : end;
  spec.embedding = spec.begin == 0;
  spec.head = spec.end == c.num_hidden_layers;
  spec.placement = {device, dtype};
  spec.tp = {rank, size};
  return spec;
}

// The KV blocks of `stage`'s layers, its share of the KV heads.
std::unique_ptr<model::PagedKvPool> ShardPool(const model::Stage& stage, int64_t num_blocks,
                                              int64_t block_size, int64_t size) {
  const model::ModelConfig& c = stage.config();
  return std::make_unique<model::PagedKvPool>(
      stage.spec().end - stage.spec().begin, num_blocks, block_size, model::KvHeadsPerRank(c, size),
      c.head_dim, at::TensorOptions().dtype(stage.dtype()).device(stage.device()),
      stage.spec().begin);
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
    COMPASS_ASSIGN_OR_RETURN(model::Stage stage,
                             model::Stage::Load(weights, ShardSpec(c, devices[r], dtype, r, size)));
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
  const int64_t size = static_cast<int64_t>(stages_.size());
  pools_.clear();
  for (const model::Stage& stage : stages_) {
    pools_.push_back(ShardPool(stage, num_blocks, block_size_, size));
  }
}

at::Tensor TensorParallelRunner::Forward(const StepInput& input, const std::vector<int64_t>& rows,
                                         const std::vector<int64_t>& cols) {
  at::Tensor logits;
  ranks_->Run([&](model::Communicator& comm) {
    const int64_t r = comm.rank();
    const at::Tensor all = ShardForward(stages_[r], pools_[r].get(), comm, input, rows, cols);
    if (r == 0) logits = all;
  });
  return logits;
}

namespace {

// What the driver of a ProcessTensorParallelRunner broadcasts: a header of
// kHeaderSize int64 {op, B, T, asks, table entries, blocks}, then for a
// forward one int64 payload: ids, positions, valid ([B, T] each), past and
// table lengths ([B] each), the tables, the asked rows and columns.
enum Op : int64_t { kStop = 0, kForward = 1, kAllocate = 2 };
constexpr int64_t kHeaderSize = 8;

at::Tensor PackStep(const StepInput& input, const std::vector<int64_t>& rows,
                    const std::vector<int64_t>& cols, int64_t* table_entries) {
  std::vector<int64_t> lengths, entries;
  for (const auto& table : input.tables) {
    lengths.push_back(static_cast<int64_t>(table.size()));
    entries.insert(entries.end(), table.begin(), table.end());
  }
  *table_entries = static_cast<int64_t>(entries.size());
  return at::cat({input.ids.reshape(-1).to(at::kLong), input.positions.reshape(-1).to(at::kLong),
                  input.valid.reshape(-1).to(at::kLong), at::tensor(input.past, at::kLong),
                  at::tensor(lengths, at::kLong), at::tensor(entries, at::kLong),
                  at::tensor(rows, at::kLong), at::tensor(cols, at::kLong)});
}

void UnpackStep(const at::Tensor& packed, int64_t b, int64_t t, int64_t asks, StepInput* input,
                std::vector<int64_t>* rows, std::vector<int64_t>* cols) {
  const int64_t* p = packed.data_ptr<int64_t>();
  auto take = [&](int64_t n) {
    std::vector<int64_t> out(p, p + n);
    p += n;
    return out;
  };
  input->ids = at::tensor(take(b * t), at::kLong).view({b, t});
  input->positions = at::tensor(take(b * t), at::kLong).view({b, t});
  input->valid = at::tensor(take(b * t), at::kLong).view({b, t}).to(at::kBool);
  input->past = take(b);
  const std::vector<int64_t> lengths = take(b);
  input->tables.clear();
  for (int64_t n : lengths) {
    const std::vector<int64_t> table = take(n);
    input->tables.emplace_back(table.begin(), table.end());
  }
  *rows = take(asks);
  *cols = take(asks);
}

}  // namespace

ProcessTensorParallelRunner::ProcessTensorParallelRunner(
    model::Stage stage, std::unique_ptr<model::ProcessCommunicator> comm,
    std::unique_ptr<model::ProcessCommunicator> stage_ranks, int64_t tp, int64_t block_size)
    : stage_(std::move(stage)),
      comm_(std::move(comm)),
      stage_ranks_(std::move(stage_ranks)),
      tp_(tp),
      stages_(comm_->size() / tp),
      block_size_(block_size) {}

StatusOr<std::unique_ptr<ProcessTensorParallelRunner>> ProcessTensorParallelRunner::Load(
    const model::ModelWeights& weights, std::unique_ptr<model::ProcessCommunicator> communicator,
    std::unique_ptr<model::ProcessCommunicator> stage_ranks,
    const std::vector<std::pair<int64_t, int64_t>>& stage_layers, c10::Device device,
    c10::ScalarType dtype, int64_t num_blocks, int64_t block_size) {
  const int64_t stages = static_cast<int64_t>(stage_layers.size());
  const int64_t tp = stage_ranks ? stage_ranks->size() : communicator->size();
  if (stages < 1 || tp * stages != communicator->size() ||
      (stages > 1) != (stage_ranks != nullptr)) {
    return InvalidArgument("paged_tp: " + std::to_string(stages) + " stages of " +
                           std::to_string(tp) + " ranks do not make a copy of " +
                           std::to_string(communicator->size()) + " processes");
  }
  const int64_t p = communicator->rank();
  const auto [begin, end] = stage_layers[static_cast<size_t>(p / tp)];
  COMPASS_ASSIGN_OR_RETURN(model::Stage stage,
                           model::Stage::Load(weights, ShardSpec(weights.config(), device, dtype,
                                                                 p % tp, tp, begin, end)));
  auto runner = std::unique_ptr<ProcessTensorParallelRunner>(new ProcessTensorParallelRunner(
      std::move(stage), std::move(communicator), std::move(stage_ranks), tp, block_size));
  runner->Allocate(num_blocks);
  return runner;
}

ProcessTensorParallelRunner::~ProcessTensorParallelRunner() {
  if (comm_->rank() != 0 || broken_) return;
  try {
    Send({kStop}, at::Tensor());
  } catch (const std::exception&) {
    // The others are gone already: nothing to stop.
  }
}

void ProcessTensorParallelRunner::Allocate(int64_t num_blocks) {
  pool_.reset();
  pool_ = ShardPool(stage_, num_blocks, block_size_, tp_);
}

void ProcessTensorParallelRunner::AllocateKv(int64_t num_blocks) {
  Send({kAllocate, 0, 0, 0, 0, num_blocks}, at::Tensor());
  Allocate(num_blocks);
}

void ProcessTensorParallelRunner::Send(const std::vector<int64_t>& header,
                                       const at::Tensor& payload) {
  std::vector<int64_t> h = header;
  h.resize(kHeaderSize, 0);
  try {
    comm_->Broadcast(at::tensor(h, at::kLong).to(stage_.device()), 0);
    if (payload.defined()) comm_->Broadcast(payload.to(stage_.device()), 0);
  } catch (...) {
    broken_ = true;
    throw;
  }
}

at::Tensor ProcessTensorParallelRunner::Forward(const StepInput& input,
                                                const std::vector<int64_t>& rows,
                                                const std::vector<int64_t>& cols) {
  int64_t entries = 0;
  const at::Tensor packed = PackStep(input, rows, cols, &entries);
  Send({kForward, input.ids.size(0), input.ids.size(1), static_cast<int64_t>(rows.size()), entries},
       packed);
  try {
    return StageForward(input, rows, cols);
  } catch (...) {
    broken_ = true;
    throw;
  }
}

at::Tensor ProcessTensorParallelRunner::StageForward(const StepInput& input,
                                                     const std::vector<int64_t>& rows,
                                                     const std::vector<int64_t>& cols) {
  const int64_t p = comm_->rank(), stage = p / tp_;
  const c10::Device device = stage_.device();
  at::Tensor hidden;
  if (stage > 0) {
    hidden = at::empty({input.ids.size(0), input.ids.size(1), config().hidden_size},
                       at::TensorOptions().dtype(stage_.dtype()).device(device));
    comm_->Recv(hidden, p - tp_);
  }
  model::Communicator& ranks = stage_ranks_ ? *stage_ranks_ : *comm_;
  at::Tensor out = ShardForward(stage_, pool_.get(), ranks, input, rows, cols, hidden);
  if (stage + 1 < stages_) {
    comm_->Send(out, p + tp_);
    out = at::Tensor();
  } else if (stages_ > 1 && p % tp_ == 0 && out.defined()) {
    comm_->Send(out.to(at::kFloat), 0);  // to the driver
  }
  if (p == 0 && stages_ > 1 && !rows.empty()) {
    out = at::empty({static_cast<int64_t>(rows.size()), config().vocab_size},
                    at::TensorOptions().dtype(at::kFloat).device(device));
    comm_->Recv(out, (stages_ - 1) * tp_);
  }
  return out;
}

void ProcessTensorParallelRunner::Serve() {
  while (true) {
    const at::Tensor header = at::zeros({kHeaderSize}, at::kLong).to(stage_.device());
    comm_->Broadcast(header, 0);
    const at::Tensor h = header.cpu();
    const int64_t* v = h.data_ptr<int64_t>();
    if (v[0] == kStop) return;
    if (v[0] == kAllocate) {
      Allocate(v[5]);
      continue;
    }
    const int64_t b = v[1], t = v[2], asks = v[3];
    const at::Tensor payload =
        at::empty({3 * b * t + 2 * b + v[4] + 2 * asks}, at::kLong).to(stage_.device());
    comm_->Broadcast(payload, 0);
    StepInput input;
    std::vector<int64_t> rows, cols;
    UnpackStep(payload.cpu(), b, t, asks, &input, &rows, &cols);
    StageForward(input, rows, cols);
  }
}

}  // namespace compass::paged_tp
