#include "stage_workers.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <stdexcept>

namespace compass::pipeline {

double PhaseStats::bubble() const {
  if (span <= 0 || stages.empty()) return 0;
  double busy = 0;
  for (const StageTimes& t : stages) busy += t.busy;
  const double idle = 1.0 - busy / (static_cast<double>(stages.size()) * span);
  return idle < 0 ? 0 : idle;
}

at::Tensor HeadOutput(const model::Stage& last, const at::Tensor& hidden,
                      const at::Tensor& head_rows, const at::Tensor& head_cols) {
  if (!head_rows.defined()) return last.Logits(hidden.select(1, hidden.size(1) - 1));
  const c10::Device device = hidden.device();
  return last.Logits(hidden.index({head_rows.to(device), head_cols.to(device)}));
}

StageWorkers::StageWorkers(std::vector<model::Stage> stages, int64_t queue_depth,
                           FaultInjection fault, std::unique_ptr<RemoteStages> remote)
    : stages_(std::move(stages)),
      remote_(std::move(remote)),
      workers_(stages_.size() + (remote_ ? 1 : 0)),
      fault_(fault),
      times_(workers_) {
  for (size_t i = 0; i <= workers_; ++i) {
    // The output queue is unbounded in effect: the engine bounds what is in
    // flight, so the last stage never waits on it.
    queues_.push_back(std::make_unique<Queue>(i < workers_ ? static_cast<size_t>(queue_depth)
                                                           : static_cast<size_t>(1) << 30));
  }
  for (size_t i = 0; i < workers_; ++i) threads_.emplace_back([this, i] { Run(i); });
}

StageWorkers::~StageWorkers() {
  for (auto& q : queues_) q->Close();
  for (std::thread& t : threads_) t.join();
}

std::string StageWorkers::Describe(size_t stage) const {
  if (stage == stages_.size() && remote_) return remote_->Describe();
  const model::Stage& s = stages_[stage];
  const int64_t begin = s.spec().begin, end = s.spec().end;
  std::string layers = begin == end
                           ? "no layers"
                           : "layers " + std::to_string(begin) + "-" + std::to_string(end - 1);
  return "stage " + std::to_string(stage) + " on " + s.device_name() + " (" + layers + ")";
}

void StageWorkers::Submit(std::unique_ptr<MicroBatch> micro_batch) {
  ++in_flight_;
  queues_.front()->Push(std::move(micro_batch));
}

std::unique_ptr<MicroBatch> StageWorkers::Next() {
  std::optional<std::unique_ptr<MicroBatch>> mb = queues_.back()->Pop();
  if (!mb) throw std::logic_error("pipeline: the stage workers have stopped");
  --in_flight_;
  return std::move(*mb);
}

void StageWorkers::Drain() {
  abandon_ = true;
  while (in_flight_ > 0) Next();
  abandon_ = false;
}

void StageWorkers::BeginPhase() {
  std::lock_guard<std::mutex> lock(stats_mu_);
  times_.assign(workers_, StageTimes());
  started_ = false;
}

PhaseStats StageWorkers::EndPhase() {
  std::lock_guard<std::mutex> lock(stats_mu_);
  PhaseStats stats;
  stats.stages = times_;
  if (started_) stats.span = std::chrono::duration<double>(last_out_ - first_in_).count();
  stats.micro_batches = times_.empty() ? 0 : times_.back().micro_batches;
  return stats;
}

void StageWorkers::Compute(size_t i, MicroBatch& mb) {
  if (i == stages_.size()) {
    remote_->Exchange(mb);
    mb.hidden = at::Tensor();
    return;
  }
  const model::Stage& stage = stages_[i];
  if (fault_.stage == static_cast<int64_t>(i) &&
      times_[i].micro_batches == static_cast<uint64_t>(fault_.after)) {
    fault_.stage = -1;  // once
    throw std::runtime_error("injected fault (debug_fail_stage)");
  }
  at::Tensor h = i == 0 ? stage.Embed(*mb.step) : mb.hidden.to(stage.device());
  h = stage.Forward(h, *mb.step, mb.cache);
  if (i + 1 == workers_) {
    mb.out = HeadOutput(stage, h, mb.head_rows, mb.head_cols);
    mb.hidden = at::Tensor();
  } else {
    mb.hidden = h;
  }
}

void StageWorkers::Run(size_t i) {
  Queue& in = *queues_[i];
  const bool last = i + 1 == workers_;
  while (true) {
    const Clock::time_point wait_start = Clock::now();
    std::optional<std::unique_ptr<MicroBatch>> item = in.Pop();
    if (!item) return;
    std::unique_ptr<MicroBatch> mb = std::move(*item);
    const Clock::time_point start = Clock::now();
    if (!mb->skipped && !abandon_) {
      try {
        Compute(i, *mb);
      } catch (const c10::Error& e) {
        mb->error = Describe(i) + " failed: " + e.what_without_backtrace();
      } catch (const std::exception& e) {
        mb->error = Describe(i) + " failed: " + e.what();
      }
    } else {
      mb->skipped = true;
    }
    const Clock::time_point end = Clock::now();
    {
      std::lock_guard<std::mutex> lock(stats_mu_);
      StageTimes& t = times_[i];
      if (!mb->skipped) {
        t.busy += std::chrono::duration<double>(end - start).count();
        t.wait_input += std::chrono::duration<double>(start - wait_start).count();
        ++t.micro_batches;
        if (i == 0 && !started_) {
          started_ = true;
          first_in_ = start;
        }
        if (last) last_out_ = end;
      }
    }
    // A failed micro-batch passes through the later stages uncomputed, in
    // its place in the queues: the micro-batches ahead of it finish and are
    // delivered first, then the engine, seeing the failure, abandons the rest.
    Queue& out = *queues_[i + 1];
    const Clock::time_point push_start = Clock::now();
    if (!mb->error.empty()) mb->skipped = true;
    const bool computed = !mb->skipped;
    if (!out.Push(std::move(mb))) return;
    if (computed && !last) {
      std::lock_guard<std::mutex> lock(stats_mu_);
      times_[i].wait_output += std::chrono::duration<double>(Clock::now() - push_start).count();
    }
  }
}

}  // namespace compass::pipeline
