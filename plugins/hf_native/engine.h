// hf_native's request engine: the three request kinds on a PlacedModel, with
// requests sorted by length into padded batches and a contiguous KV cache
// for generation.
//
// - loglikelihood: input = (context + continuation)[-(max_length + 1):][:-1],
//   as lm-evaluation-harness; log-softmax in float32 over the continuation
//   positions. Requests that feed the model the same input (e.g. one-token
//   continuations of a shared context) are computed with one forward.
// - loglikelihood_rolling: lm-evaluation-harness's disjoint rolling windows
//   (get_rolling_token_windows with context_len 1, then make_disjoint_window)
//   of at most max_length tokens, each scored as a loglikelihood request; the
//   text's log-prob is their sum. The first window's context is the prefix
//   (BOS).
// - generate_until: greedy; the prompt is left-truncated to
//   max_length - max_new_tokens; stops at a stop token (not returned), at a
//   stop string found in the decoded continuation (the completing token is
//   returned; the host cuts the text), or at max_new_tokens. Only ids the
//   tokenizer knows are generated.
//
// Progress goes to the host after every batch; cancellation is checked
// between batches. Not thread-safe: one batch call at a time.
#ifndef COMPASS_HF_NATIVE_ENGINE_H_
#define COMPASS_HF_NATIVE_ENGINE_H_

#include <compass/plugin.hpp>

#include <cstdint>
#include <vector>

#include "placed_model.h"

namespace compass::hf_native {

struct EngineStats {
  uint64_t forwards = 0;         // model forward passes (batches, decode steps)
  uint64_t tokens = 0;           // input tokens processed
  uint64_t shared_contexts = 0;  // loglikelihood requests served by another's forward
  double seconds = 0;
};

class Engine {
 public:
  // `generate_vocab`: generation picks only ids below it (the tokenizer's
  // vocabulary, when the model's embedding table is padded beyond it); 0 =
  // the model's whole vocabulary.
  Engine(const PlacedModel& model, const sdk::Host& host, uint32_t batch_size, int64_t max_length,
         int64_t generate_vocab = 0)
      : model_(model),
        host_(host),
        batch_size_(batch_size ? batch_size : 1),
        max_length_(max_length),
        generate_vocab_(generate_vocab) {}

  void Loglikelihood(const compass_loglikelihood_request* requests, uint64_t n,
                     const sdk::ResponseSink& sink);
  void Rolling(const compass_rolling_request* requests, uint64_t n, const sdk::ResponseSink& sink);
  void Generate(const compass_generate_request* requests, uint64_t n,
                const sdk::ResponseSink& sink);

  const EngineStats& stats() const { return stats_; }

  // lm-evaluation-harness's rolling windows: (context, continuation) pairs
  // covering `tokens`, each at most max_length long. Exposed for tests.
  static std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>> RollingWindows(
      const std::vector<int64_t>& tokens, int64_t prefix_token, int64_t max_length);

 private:
  struct Score {
    double logprob = 0;
    bool greedy = true;
    std::vector<float> token_logprobs;
  };
  struct Job;
  // Scores (context, continuation) pairs; calls `done(i, score)` for each,
  // `progress(k)` after each batch with the number of pairs finished so far.
  template <typename Done, typename Progress>
  void ScorePairs(const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>>& pairs,
                  Done&& done, Progress&& progress);

  const PlacedModel& model_;
  sdk::Host host_;
  uint32_t batch_size_;
  int64_t max_length_;
  int64_t generate_vocab_;
  EngineStats stats_;
};

}  // namespace compass::hf_native

#endif  // COMPASS_HF_NATIVE_ENGINE_H_
