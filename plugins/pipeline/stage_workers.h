// The pipeline's execution: one worker thread per stage, bounded queues
// between consecutive stages, micro-batches flowing through them. The
// engine (engine.h) submits micro-batches to the first stage and takes
// finished ones from the last; hidden states move between devices only
// here, at stage boundaries.
//
// Measurement: per stage the time it computed (busy), waited for input and
// waited to hand its output on, per phase (BeginPhase / EndPhase); the
// phase's span runs from the first micro-batch entering stage 0 to the last
// leaving the last stage, and the measured bubble is the share of p x span
// that no stage computed: 1 - sum(busy) / (p x span).
//
// Stages in other processes (a pipeline whose stages are processes,
// remote_stages.h) follow the local ones as one more worker: it hands each
// micro-batch's hidden state on and waits for the last stage's output.
//
// Failures: a stage that throws marks its micro-batch failed (the message
// names the stage, its device and layers); it passes through the later
// stages uncomputed, after the micro-batches ahead of it, which finish and
// are delivered. The engine, receiving it, calls Drain: every micro-batch
// still in flight passes through the stages without being computed, so
// Drain ends promptly (also on cancellation). Workers survive both: the next call
// starts clean.
//
// Threading: Submit, Next, Abandon and Drain from one engine thread; the
// stages are immutable and each micro-batch is touched by one thread at a
// time (the queues hand it on).
#ifndef COMPASS_PIPELINE_STAGE_WORKERS_H_
#define COMPASS_PIPELINE_STAGE_WORKERS_H_

#include <ATen/core/Tensor.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bounded_queue.h"
#include "models/kv_cache.h"
#include "models/stage.h"

namespace compass::pipeline {

struct MicroBatch {
  int64_t tag = 0;  // the engine's (which group, which chunk)
  std::unique_ptr<model::Step> step;
  model::KvCache* cache = nullptr;  // null: scoring without a cache
  // What the engine needs back, computed by the last stage: the logits at
  // (head_rows[i], head_cols[i]) (int64, host), or, when they are
  // undefined, at each row's last position.
  at::Tensor head_rows, head_cols;
  // For stages in other processes, which keep their own part of each
  // group's cache: the group (-1: no cache), and what changed in it since
  // the group's last micro-batch: a new cache of new_cache_rows rows and
  // new_cache_capacity slots, or the rows it kept (KeepRows).
  int64_t cache_group = -1;
  int64_t new_cache_rows = 0, new_cache_capacity = 0;
  std::vector<int64_t> kept_rows;
  at::Tensor out;
  std::string error;  // set when a stage failed on it
  // Internal: the hidden state between stages; whether it is skipped.
  at::Tensor hidden;
  bool skipped = false;
};

// A stage that throws on purpose, for fault tests: stage `stage` fails on
// its micro-batch number `after` (0-based), once.
struct FaultInjection {
  int64_t stage = -1;
  int64_t after = 0;
};

struct StageTimes {
  double busy = 0;         // seconds computing
  double wait_input = 0;   // seconds waiting for a micro-batch
  double wait_output = 0;  // seconds waiting for room in the next queue
  uint64_t micro_batches = 0;
};

struct PhaseStats {
  std::vector<StageTimes> stages;
  double span = 0;  // first entry to last exit
  uint64_t micro_batches = 0;
  // 1 - sum(busy) / (stages x span); 0 without a span.
  double bubble() const;
};

// The logits a micro-batch asks for, from the last stage's final-norm hidden
// states.
at::Tensor HeadOutput(const model::Stage& last, const at::Tensor& hidden,
                      const at::Tensor& head_rows, const at::Tensor& head_cols);

// The stages that follow this process's, in other processes.
class RemoteStages {
 public:
  virtual ~RemoteStages() = default;
  // "stage 1 in rank 1 (host h, pid 7)".
  virtual std::string Describe() const = 0;
  // Hands `mb` (its hidden state from this process's last stage) on and
  // fills mb.out with the last stage's output; throws what failed.
  virtual void Exchange(MicroBatch& mb) = 0;
};

class StageWorkers {
 public:
  // Starts one worker per stage, and one for `remote` when given;
  // `queue_depth` micro-batches at most wait before each.
  StageWorkers(std::vector<model::Stage> stages, int64_t queue_depth, FaultInjection fault = {},
               std::unique_ptr<RemoteStages> remote = nullptr);
  ~StageWorkers();
  StageWorkers(const StageWorkers&) = delete;
  StageWorkers& operator=(const StageWorkers&) = delete;

  // The stages of this process.
  const std::vector<model::Stage>& stages() const { return stages_; }
  // "stage 1 on cpu:1 (layers 15-29)".
  std::string Describe(size_t stage) const;

  // Hands a micro-batch to the first stage (blocks while its queue is full).
  void Submit(std::unique_ptr<MicroBatch> micro_batch);
  // The next micro-batch out of the last stage (or a failed one); blocks.
  std::unique_ptr<MicroBatch> Next();
  int64_t in_flight() const { return in_flight_; }
  // Micro-batches in flight pass through uncomputed until Drain returns.
  void Abandon() { abandon_ = true; }
  // Takes back every micro-batch in flight (skipping their work), then
  // computes again.
  void Drain();

  void BeginPhase();
  PhaseStats EndPhase();

 private:
  using Clock = std::chrono::steady_clock;
  using Queue = BoundedQueue<std::unique_ptr<MicroBatch>>;
  void Run(size_t stage);
  void Compute(size_t stage, MicroBatch& mb);

  std::vector<model::Stage> stages_;
  std::unique_ptr<RemoteStages> remote_;
  size_t workers_;                              // stages_, and one for remote_
  std::vector<std::unique_ptr<Queue>> queues_;  // before each stage, then the output
  std::vector<std::thread> threads_;
  FaultInjection fault_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<bool> abandon_{false};

  std::mutex stats_mu_;
  std::vector<StageTimes> times_;
  bool started_ = false;
  Clock::time_point first_in_, last_out_;
};

}  // namespace compass::pipeline

#endif  // COMPASS_PIPELINE_STAGE_WORKERS_H_
