// hf_native's request engine: the requests of one execute() call on a
// PlacedModel, in padded batches sorted by length, with a contiguous KV
// cache for generation. The host has already truncated every request to the
// context window and split rolling texts into windows; the engine computes.
//
// What is shared with the other in-tree backends (request checks, shared
// inputs, answers from logits, stop rules) is in backend_support/answers.h.
//
// - loglikelihood: the input is context + continuation minus its last token;
//   log-softmax in float32 over the continuation positions, with the greedy
//   token and its log-prob at each. Requests that feed the model the same
//   input (e.g. one-token continuations of a shared context) are computed
//   with one forward.
//   Right-padded batches run as plain causal steps (no mask: padding sits
//   after every token of its row, where causal attention never looks).
// - generate: greedy (argmax) or sampled (compass/sampling.hpp, one
//   generator per sample); stops at a stop token (not returned), at a stop
//   string (compass/stop_matcher.hpp on the host's token bytes; the
//   completing token is returned and the host cuts the text), or at
//   max_new_tokens. Only ids the tokenizer knows are generated. A finished
//   sequence is delivered at once and leaves the batch: its row is dropped
//   from the KV cache (ContiguousKvCache::KeepRows) and from the step
//   tensors, so every decode step computes live rows only. Greedy rows are
//   chosen on the device; only sampling rows' logits come to the host.
// - A request with a token id the model does not know is answered with an
//   error; the others go on.
//
// Progress goes to the host after every result; cancellation is checked
// between forwards. Not thread-safe: one call at a time.
#ifndef COMPASS_HF_NATIVE_ENGINE_H_
#define COMPASS_HF_NATIVE_ENGINE_H_

#include <compass/plugin.hpp>
#include <compass/stop_matcher.hpp>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "answers.h"
#include "placed_model.h"

namespace compass::hf_native {

struct EngineStats {
  uint64_t forwards = 0;         // model forward passes (batches, decode steps)
  uint64_t tokens = 0;           // useful tokens: prompt tokens computed + tokens generated
  uint64_t computed_tokens = 0;  // slots the forwards computed, padding included
  uint64_t shared_contexts = 0;  // loglikelihood requests served by another's forward
  double seconds = 0;
};

class Engine {
 public:
  // `generate_vocab`: generation picks only ids below it (the tokenizer's
  // vocabulary, when the model's embedding table is padded beyond it); 0 =
  // the model's whole vocabulary.
  Engine(const PlacedModel& model, const sdk::Host& host, sdk::TokenBytes token_bytes,
         uint32_t batch_size, int64_t max_length, int64_t generate_vocab = 0)
      : model_(model),
        host_(host),
        token_bytes_(token_bytes),
        batch_size_(batch_size ? batch_size : 1),
        max_length_(max_length),
        generate_vocab_(generate_vocab),
        progress_(host) {}

  void Execute(const sdk::Requests& requests, const sdk::ResponseSink& sink);

  const EngineStats& stats() const { return stats_; }

 private:
  void Loglikelihood(const sdk::Requests& requests, const std::vector<uint64_t>& which,
                     const sdk::ResponseSink& sink);
  void Generate(const sdk::Requests& requests, const std::vector<uint64_t>& which,
                const sdk::ResponseSink& sink);
  void Delivered(uint64_t n);

  const PlacedModel& model_;
  sdk::Host host_;
  sdk::TokenBytes token_bytes_;
  uint32_t batch_size_;
  int64_t max_length_;
  int64_t generate_vocab_;
  EngineStats stats_;
  backend_support::Progress progress_;
};

}  // namespace compass::hf_native

#endif  // COMPASS_HF_NATIVE_ENGINE_H_
