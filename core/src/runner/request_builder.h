// Turns dataset items into token-id requests, the same way for every
// backend: the rules all backends share live here, so two backends can only
// differ in how they compute, never in what they were asked.
//
// - Context/continuation splitting follows lm-evaluation-harness: trailing
//   whitespace of the context moves to the continuation, the pair is encoded
//   whole, and the continuation is what follows the context's tokens.
// - Truncation to the context window `max_length` (lm-evaluation-harness):
//   a loglikelihood pair keeps (context + continuation)[-(max_length + 1):],
//   so the model's input (all but the last token) has at most max_length
//   tokens; a continuation longer than max_length keeps its last max_length
//   tokens. A generation keeps the last max_length - max_new_tokens context
//   tokens (at least one), with max_new_tokens capped at max_length - 1.
// - Rolling log-likelihoods are split into lm-evaluation-harness's disjoint
//   windows (get_rolling_token_windows with context_len 1, then
//   make_disjoint_window), each an ordinary loglikelihood request; the
//   text's log-prob is the sum over its windows. The first window's context
//   is the prefix token (BOS, else EOS).
#ifndef COMPASS_RUNNER_REQUEST_BUILDER_H_
#define COMPASS_RUNNER_REQUEST_BUILDER_H_

#include <compass/plugin.hpp>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/tokenizer.h"
#include "util/status.h"

namespace compass {

struct EncodedPair {
  std::vector<int32_t> context;       // BOS first when the tokenizer adds one
  std::vector<int32_t> continuation;  // never empty for a non-empty continuation
};

// `add_bos`: whether BOS starts the context (when the tokenizer has one).
EncodedPair EncodePair(const Tokenizer& tokenizer, std::string_view context,
                       std::string_view continuation, bool add_bos);

// lm-evaluation-harness truncation of a loglikelihood pair (see above).
void FitLoglikelihood(std::vector<int32_t>& context, std::vector<int32_t>& continuation,
                      int64_t max_length);

// lm-evaluation-harness's disjoint rolling windows over `tokens`: (context,
// continuation) pairs that together predict every token once, each fitting
// max_length.
std::vector<std::pair<std::vector<int32_t>, std::vector<int32_t>>> RollingWindows(
    const std::vector<int32_t>& tokens, int32_t prefix_token, int64_t max_length);

// Generation parameters of a task (compass_request's sampling fields).
struct GenerationParams {
  float temperature = 0;  // 0 = greedy
  float top_p = 1;
  int32_t top_k = 0;
  uint32_t num_samples = 1;
  uint64_t seed = 1234;
};

struct RequestRules {
  int64_t max_length = 2048;
  uint32_t default_max_new_tokens = 256;  // for generate items that give none
  bool add_bos = true;
  GenerationParams generation;
};

// Which part of which item a request answers: the choice of a multiple-choice
// item, or the window of a rolling item (0 for generations).
struct RequestOwner {
  size_t item = 0;
  size_t part = 0;
};

// The requests of one task. compass_request views point into the buffers
// here: keep the object alive (and unmoved elements) while they are used.
struct TaskRequests {
  std::vector<compass_request> requests;  // index == position
  std::vector<RequestOwner> owner;        // per request
  std::vector<std::string> hash;          // per request (HashRequest)
  std::vector<size_t> windows;            // per item: rolling windows (0 otherwise)

  std::deque<std::vector<int32_t>> buffers;  // stable addresses
  std::deque<std::vector<std::string>> stop_text;
  std::deque<std::vector<compass_str>> stop_views;
  std::vector<int32_t> eos_ids;
};

// Builds the requests for `items`. InvalidArgument when a rolling item
// needs a prefix token and the tokenizer has neither BOS nor EOS.
StatusOr<TaskRequests> BuildRequests(const Tokenizer& tokenizer,
                                     const std::vector<sdk::Item>& items,
                                     const RequestRules& rules);

}  // namespace compass

#endif  // COMPASS_RUNNER_REQUEST_BUILDER_H_
