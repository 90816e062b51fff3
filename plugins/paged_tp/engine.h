// paged_tp's request engine: the requests of one execute() call as
// sequences of a continuous-batching scheduler over a paged KV cache with
// exact prefix sharing (block_manager.h, scheduler.h), computed step by step
// by a ModelRunner. The host has already fitted every request to the context
// window; what all in-tree backends share (checks, shared inputs, answers,
// stop rules) is backend_support/answers.h.
//
// - Log-likelihood requests with the same input are one sequence (one
//   computation serves them all); its logits are needed from the first
//   position that predicts a continuation token, so cached blocks are reused
//   only below it: every position whose logits are read is computed by the
//   request itself, and the log-probs do not depend on what was shared.
// - Generations (each sample its own sequence) take their next token from
//   the logits of the last computed position, greedy or sampled, and stop as
//   backend_support::Advance says.
// - Sequences are added in the order of their token ids, so requests with a
//   common prefix (few-shot prompts, the choices of a question) run side by
//   side and share its blocks.
//
// Progress goes to the host after every answer; cancellation is checked
// between steps. Not thread-safe: one execute() at a time.
#ifndef COMPASS_PAGED_TP_ENGINE_H_
#define COMPASS_PAGED_TP_ENGINE_H_

#include <compass/plugin.hpp>
#include <compass/stop_matcher.hpp>

#include <cstdint>

#include "answers.h"
#include "block_manager.h"
#include "model_runner.h"
#include "scheduler.h"

namespace compass::paged_tp {

struct EngineOptions {
  int64_t max_length = 2048;
  int64_t generate_vocab = 0;  // generation picks ids below it; 0: the model's vocabulary
  int64_t num_blocks = 0;
  int64_t block_size = 16;
  bool prefix_caching = true;
  SchedulerOptions scheduler;
};

struct EngineStats {
  uint64_t steps = 0;
  uint64_t prompt_tokens_requested = 0;  // every sequence's prompt, once
  uint64_t prompt_tokens_computed = 0;   // prompt positions the steps computed
  uint64_t decode_tokens = 0;            // tokens generated
  uint64_t shared_contexts = 0;          // log-likelihood requests served by another's input
  uint64_t preemptions = 0;
  int64_t peak_blocks = 0;
  double prefill_seconds = 0;  // steps with prompt positions
  double decode_seconds = 0;   // steps of decodes only
};

class Engine {
 public:
  // `runner` computes; its model's KV blocks are the pool options.num_blocks
  // describes. Both must outlive the engine.
  Engine(ModelRunner& runner, const sdk::Host& host, sdk::TokenBytes token_bytes,
         EngineOptions options)
      : runner_(runner),
        host_(host),
        token_bytes_(token_bytes),
        options_(options),
        progress_(host) {}

  void Execute(const sdk::Requests& requests, const sdk::ResponseSink& sink);
  const EngineStats& stats() const { return stats_; }

 private:
  void Delivered(uint64_t n);

  ModelRunner& runner_;
  sdk::Host host_;
  sdk::TokenBytes token_bytes_;
  EngineOptions options_;
  EngineStats stats_;
  backend_support::Progress progress_;
};

}  // namespace compass::paged_tp

#endif  // COMPASS_PAGED_TP_ENGINE_H_
