// What every in-tree backend does the same way around its forwards: which
// requests it can run, the input a log-likelihood request feeds the model,
// requests that share one input, the answers read off log-softmax rows, and
// a generation's state with the stop rules. Backends differ only in how they
// compute the logits (hf_native: padded batches; paged_tp: a paged cache).
//
// Not thread-safe; values only (no global state).
#ifndef COMPASS_BACKEND_SUPPORT_ANSWERS_H_
#define COMPASS_BACKEND_SUPPORT_ANSWERS_H_

#include <compass/plugin.hpp>
#include <compass/sampling.hpp>
#include <compass/stop_matcher.hpp>

#include <ATen/core/Tensor.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <numeric>
#include <string>
#include <vector>

namespace compass::backend_support {

// Why a backend cannot run `r`, or "" when it can: a token id outside
// [0, vocab) (the tokenizer does not match the checkpoint), an empty context
// or continuation, or more tokens than the context window `max_length`.
std::string CheckRequest(const compass_request& r, int64_t vocab, int64_t max_length);

// Answers `r` is owed: num_samples (at least 1) for a generation, else 1.
uint64_t AnswersOwed(const compass_request& r);

// Answers delivered out of those owed, reported to the host after each.
class Progress {
 public:
  explicit Progress(const sdk::Host& host) : host_(host) {}
  // A new execute() call owing one answer per request (and sample).
  void Start(const sdk::Requests& requests);
  // `n` more answers; `tokens` is the backend's running token count.
  void Delivered(uint64_t n, uint64_t tokens);

 private:
  sdk::Host host_;
  uint64_t delivered_ = 0, owed_ = 0;
};

// The requests a backend runs, by kind. Every other request (an unknown
// kind, or CheckRequest's reasons) is answered at once with its error
// through `sink` and counted in `progress`.
struct Runnable {
  std::vector<uint64_t> scoring;     // COMPASS_REQUEST_LOGLIKELIHOOD
  std::vector<uint64_t> generating;  // COMPASS_REQUEST_GENERATE
};
Runnable Triage(const sdk::Requests& requests, const sdk::ResponseSink& sink, int64_t vocab,
                int64_t max_length, Progress& progress, uint64_t tokens);

// Log-likelihood requests grouped by the input they feed the model
// (context + continuation minus its last token): requests with the same
// input have the same logits, so one forward serves them all, each reading
// its continuation off the input's tail. This covers lm-evaluation-harness's
// shared one-token continuations and choices that differ only in their last
// token.
struct ScoringJob {
  std::vector<int64_t> input;
  std::vector<uint64_t> requests;  // indices into the Requests
  // The first input position whose logits some request needs:
  // input.size() - the longest continuation.
  int64_t logits_from = 0;
};
// In order of first appearance; `shared` counts the requests served by
// another's input.
std::vector<ScoringJob> GroupByInput(const sdk::Requests& requests,
                                     const std::vector<uint64_t>& which, uint64_t* shared);

// For each continuation token of each request of `job`, in order: the input
// position whose logits predict it and the token.
struct Target {
  int64_t position;
  int64_t token;
};
std::vector<Target> TargetsOf(const sdk::Requests& requests, const ScoringJob& job);

// Log-softmax (float32) of logits rows [N, V] at N targets: each target's
// log-prob, and the greedy token with its log-prob. Host vectors.
struct TargetScores {
  std::vector<float> logprob;
  std::vector<float> best_logprob;
  std::vector<int32_t> best;
};
TargetScores ScoreTargets(const at::Tensor& logits, const std::vector<int64_t>& targets);

// The answer of a request whose continuation's scores are scores[at, at + n).
sdk::LoglikelihoodAnswer AnswerFrom(const TargetScores& scores, size_t at,
                                    const std::vector<int64_t>& targets, uint64_t n);

// Indices of `items` by length(item), longest first (ties keep their
// order): padded batches of similar lengths, and an out-of-memory shows at
// the first batch.
template <typename T, typename Length>
std::vector<size_t> LongestFirst(const std::vector<T>& items, Length length) {
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return length(items[a]) > length(items[b]); });
  return order;
}

// One completion being generated.
struct Generation {
  uint64_t request = 0;
  uint32_t sample = 0;
  std::vector<int64_t> prompt;
  sdk::GenerationAnswer answer;
  sdk::StopMatcher stop;
  sdk::Sampler sampler;
};
// One per sample of each generation request of `which`.
std::vector<Generation> GenerationsOf(const sdk::Requests& requests,
                                      const std::vector<uint64_t>& which,
                                      const sdk::TokenBytes& token_bytes);

// The ids a generation may pick: those below the host tokenizer's vocabulary
// `generate_vocab` when the model's embedding table is padded beyond it
// (0: the model's whole vocabulary `model_vocab`).
int64_t GenerationLimit(int64_t generate_vocab, int64_t model_vocab);

// Picks each row's next token from its logits [B, >= limit] (greedy on the
// device, or the row's sampler over the first `limit` ids on the host) and
// appends the token's log-prob to the row's answer.
std::vector<int64_t> ChooseNext(const std::vector<Generation*>& rows, const at::Tensor& logits,
                                int64_t limit);

// Applies the stop rules to the token just chosen for `g` (whose log-prob
// ChooseNext appended): a stop token ends it (not returned), a stop string
// ends it (the completing token is returned; the host cuts the text), else
// the token is appended and max_new_tokens ends it. True when finished.
bool Advance(Generation& g, const compass_request& r, int64_t token);

// Advance for every row of a batch with its chosen token next[k]: calls
// `finished(row)` for each row that ends, and returns the indices of those
// that go on. `appended` counts the tokens added to answers (a stop token
// is not).
std::vector<int64_t> AdvanceRows(const sdk::Requests& requests,
                                 const std::vector<Generation*>& rows,
                                 const std::vector<int64_t>& next, uint64_t* appended,
                                 const std::function<void(Generation&)>& finished);

// The torch device a logical device computes on: "cuda:N" is GPU N;
// "cpu" and the virtual "cpu:N" are the CPU.
c10::Device TorchDevice(const std::string& name);

}  // namespace compass::backend_support

#endif  // COMPASS_BACKEND_SUPPORT_ANSWERS_H_
