// How paged_tp computes one scheduled step: the rows' new tokens over their
// cached blocks, and the logits at the positions the engine asks for. One
// implementation per parallel layout; the engine does not know which.
//
// Not thread-safe: one step at a time. Step throws (c10::Error, sdk::Error,
// CollectiveError) on failure, as the modules do.
#ifndef COMPASS_PAGED_TP_MODEL_RUNNER_H_
#define COMPASS_PAGED_TP_MODEL_RUNNER_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "models/causal_lm.h"
#include "models/communicator.h"
#include "models/model_config.h"
#include "models/paged_kv_cache.h"
#include "models/process_group.h"
#include "models/stage.h"
#include "models/weights.h"

namespace compass::paged_tp {

// One step: row b computes ids[b, 0, n_b) at positions past[b] + t over the
// blocks of tables[b] (which hold its first past[b] tokens and have room for
// the new ones); slots from n_b on are padding.
struct StepInput {
  at::Tensor ids;        // [B, T] int64, host
  at::Tensor positions;  // [B, T] int64, host
  at::Tensor valid;      // [B, T] bool, host
  std::vector<std::vector<int32_t>> tables;
  std::vector<int64_t> past;
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  virtual const model::ModelConfig& config() const = 0;
  // The device of every rank.
  virtual std::vector<c10::Device> devices() const = 0;
  // Replaces every rank's KV blocks by `num_blocks` fresh ones (the old
  // ones, and what they held, are freed first).
  virtual void AllocateKv(int64_t num_blocks) = 0;
  // float32 logits [N, vocab] (the model's whole vocabulary) at the N
  // (rows[i], cols[i]) slots of the step. Rows run in forwards of similar
  // lengths: a [rows, width] block pads every row to the longest, so a row
  // joins a forward only while it is at least half the longest.
  at::Tensor Step(const StepInput& input, const std::vector<int64_t>& rows,
                  const std::vector<int64_t>& cols);

 protected:
  // One forward of rows of similar length; same contract as Step.
  virtual at::Tensor Forward(const StepInput& input, const std::vector<int64_t>& rows,
                             const std::vector<int64_t>& cols) = 0;
};

// The whole model on one device, with `num_blocks` KV blocks of
// `block_size` tokens.
class SingleDeviceRunner final : public ModelRunner {
 public:
  SingleDeviceRunner(model::CausalLM model, int64_t num_blocks, int64_t block_size);
  const model::ModelConfig& config() const override { return model_.config(); }
  std::vector<c10::Device> devices() const override { return {model_.placement().device}; }
  void AllocateKv(int64_t num_blocks) override;

 protected:
  at::Tensor Forward(const StepInput& input, const std::vector<int64_t>& rows,
                     const std::vector<int64_t>& cols) override;

 private:
  model::CausalLM model_;
  int64_t block_size_;
  std::unique_ptr<model::PagedKvPool> pool_;
};

// Tensor parallelism over ranks, one per device, each a thread of this
// process: rank r holds the r-th shard of every layer (column-parallel
// q/k/v and gate/up, row-parallel o/down summed by an all-reduce), of the
// embedding and of the LM head (vocab shards; the logits are gathered and
// cut to the vocabulary before any softmax), and its own KV blocks (KV heads
// split, or replicated when there are fewer than ranks). The ranks
// communicate through NCCL on CUDA devices, through an in-process group on
// cpu:N virtual devices.
class TensorParallelRunner final : public ModelRunner {
 public:
  // Loads every rank's shards onto `devices` (one per rank) in `dtype`, with
  // a pool of `num_blocks` blocks each. Errors: those of Stage::Load and,
  // on CUDA devices, of NcclRanks.
  static StatusOr<std::unique_ptr<TensorParallelRunner>> Load(
      const model::ModelWeights& weights, const std::vector<c10::Device>& devices,
      c10::ScalarType dtype, int64_t num_blocks, int64_t block_size);
  const model::ModelConfig& config() const override { return stages_.front().config(); }
  std::vector<c10::Device> devices() const override;
  void AllocateKv(int64_t num_blocks) override;

 protected:
  at::Tensor Forward(const StepInput& input, const std::vector<int64_t>& rows,
                     const std::vector<int64_t>& cols) override;

 private:
  std::vector<model::Stage> stages_;
  std::vector<std::unique_ptr<model::PagedKvPool>> pools_;
  int64_t block_size_ = 0;
  std::unique_ptr<model::RankGroup> ranks_;
};

// Tensor parallelism, and pipeline stages of tensor-parallel ranks, over
// ranks that are processes (one device each, on any nodes): process
// p = s x tp + r of the model copy holds rank r of stage s (the shards of
// TensorParallelRunner, of the stage's layers). Process 0, the driver, runs
// the engine: each of its forwards and KV allocations is broadcast to the
// other processes, which compute their part of it in Serve until the
// driver's runner is destroyed. A stage's ranks all-reduce among
// themselves; each hands its hidden state to the same rank of the next
// stage; the last stage's gathered logits go back to the driver. A failed
// collective or transfer throws CollectiveError naming the processes (the
// driver then tells no one: the others learn it from the broken connections
// when it exits).
class ProcessTensorParallelRunner final : public ModelRunner {
 public:
  // Loads this process's shard (communicator->rank() of the copy's size())
  // onto `device`, with `num_blocks` KV blocks; `stage_layers` gives each
  // stage's [begin, end), and with more than one stage `stage_ranks` links
  // this stage's tp ranks (null for one stage: the copy is the tp group).
  // InvalidArgument for a layout that does not make the copy; the errors of
  // Stage::Load.
  static StatusOr<std::unique_ptr<ProcessTensorParallelRunner>> Load(
      const model::ModelWeights& weights, std::unique_ptr<model::ProcessCommunicator> communicator,
      std::unique_ptr<model::ProcessCommunicator> stage_ranks,
      const std::vector<std::pair<int64_t, int64_t>>& stage_layers, c10::Device device,
      c10::ScalarType dtype, int64_t num_blocks, int64_t block_size);
  // The driver tells the other ranks to stop serving.
  ~ProcessTensorParallelRunner() override;
  const model::ModelConfig& config() const override { return stage_.config(); }
  std::vector<c10::Device> devices() const override { return {stage_.device()}; }
  void AllocateKv(int64_t num_blocks) override;
  // On a rank other than 0: computes the driver's forwards until it stops
  // (returns) or fails (throws CollectiveError).
  void Serve();

 protected:
  at::Tensor Forward(const StepInput& input, const std::vector<int64_t>& rows,
                     const std::vector<int64_t>& cols) override;

 private:
  ProcessTensorParallelRunner(model::Stage stage, std::unique_ptr<model::ProcessCommunicator> comm,
                              std::unique_ptr<model::ProcessCommunicator> stage_ranks, int64_t tp,
                              int64_t block_size);
  void Allocate(int64_t num_blocks);
  // This process's part of a forward; the logits on the driver.
  at::Tensor StageForward(const StepInput& input, const std::vector<int64_t>& rows,
                          const std::vector<int64_t>& cols);
  // Broadcasts the driver's command (a fixed-size header) and its payload.
  void Send(const std::vector<int64_t>& header, const at::Tensor& payload);

  model::Stage stage_;
  std::unique_ptr<model::ProcessCommunicator> comm_;         // the copy
  std::unique_ptr<model::ProcessCommunicator> stage_ranks_;  // this stage's; null: comm_
  int64_t tp_ = 1, stages_ = 1;
  std::unique_ptr<model::PagedKvPool> pool_;
  int64_t block_size_ = 0;
  bool broken_ = false;  // a collective failed: the ranks are out of step
};

}  // namespace compass::paged_tp

#endif  // COMPASS_PAGED_TP_MODEL_RUNNER_H_
