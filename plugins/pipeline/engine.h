// pipeline's request engine: the requests of one execute() call as
// micro-batches through the stage workers (stage_workers.h).
//
// - loglikelihood: requests grouped by input (backend_support), sorted by
//   length (longest first, to limit padding), cut into micro-batches of
//   micro_batch_size right-padded rows without a cache; up to
//   micro_batches of them in flight. The last stage computes the logits at
//   the target positions only.
// - generate: `micro_batches` groups (at least one per stage) of up to
//   micro_batch_size sequences, each with its own KV cache (every stage's
//   layers on that stage's device); a group's prefill and then each of its
//   decode steps is one micro-batch, so the decode steps of different groups
//   overlap in the stages. Finished rows leave their group's cache
//   (KeepRows); an empty group takes the next waiting sequences.
// - The rules shared with the other backends (request checks, shared
//   inputs, answers, stop rules, sampling) are backend_support's.
//
// A stage failure ends the call with an error naming the stage (results
// already delivered stay delivered); cancellation drains the stages first.
// Not thread-safe: one call at a time.
#ifndef COMPASS_PIPELINE_ENGINE_H_
#define COMPASS_PIPELINE_ENGINE_H_

#include <compass/plugin.hpp>

#include <cstdint>
#include <vector>

#include "answers.h"
#include "stage_workers.h"

namespace compass::pipeline {

struct EngineOptions {
  int64_t micro_batch_size = 8;
  int64_t micro_batches = 2;  // in flight at once
  int64_t max_length = 0;
  int64_t generate_vocab = 0;  // 0: the model's vocabulary
  model::AttentionImpl attention = model::AttentionImpl::kSdpa;
};

struct PhaseFigures {
  PhaseStats stats;
  uint64_t phases = 0;
  // Accumulates a phase: busy and waits summed, spans summed.
  void Add(const PhaseStats& phase);
};

struct EngineStats {
  uint64_t prompt_tokens = 0;
  uint64_t decode_tokens = 0;
  uint64_t shared_contexts = 0;
  double scoring_seconds = 0;
  double generation_seconds = 0;
  PhaseFigures scoring, generation;
};

class Engine {
 public:
  Engine(StageWorkers& workers, const sdk::Host& host, sdk::TokenBytes token_bytes,
         EngineOptions options)
      : workers_(workers),
        host_(host),
        token_bytes_(token_bytes),
        options_(options),
        progress_(host) {}

  void Execute(const sdk::Requests& requests, const sdk::ResponseSink& sink);
  const EngineStats& stats() const { return stats_; }

 private:
  void Loglikelihood(const sdk::Requests& requests, const std::vector<uint64_t>& which,
                     const sdk::ResponseSink& sink);
  void Generate(const sdk::Requests& requests, const std::vector<uint64_t>& which,
                const sdk::ResponseSink& sink);
  // The next finished micro-batch; a failed one drains the stages and
  // throws sdk::Error naming the stage.
  std::unique_ptr<MicroBatch> Finished();
  const model::ModelConfig& config() const { return workers_.stages().front().config(); }
  c10::Device first_device() const { return workers_.stages().front().device(); }

  StageWorkers& workers_;
  sdk::Host host_;
  sdk::TokenBytes token_bytes_;
  EngineOptions options_;
  EngineStats stats_;
  uint64_t tokens_ = 0;
  backend_support::Progress progress_;
};

}  // namespace compass::pipeline

#endif  // COMPASS_PIPELINE_ENGINE_H_
