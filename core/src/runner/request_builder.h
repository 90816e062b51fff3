// Turns dataset items into token-id requests, the same way for every
// backend. Context/continuation splitting follows lm-evaluation-harness:
// trailing whitespace of the context moves to the continuation, the pair is
// encoded whole, and the continuation is what follows the context's tokens.
#ifndef COMPASS_RUNNER_REQUEST_BUILDER_H_
#define COMPASS_RUNNER_REQUEST_BUILDER_H_

#include <compass/plugin.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace compass {

struct EncodedPair {
  std::vector<int32_t> context;       // BOS first when the tokenizer adds one
  std::vector<int32_t> continuation;  // never empty for a non-empty continuation
};

// `add_bos`: whether BOS starts the context (when the tokenizer has one).
EncodedPair EncodePair(const Tokenizer& tokenizer, std::string_view context,
                       std::string_view continuation, bool add_bos);

// Token ids owned for the duration of a batch; requests point into them.
struct RequestBatch {
  std::vector<std::vector<int32_t>> buffers;
  std::vector<compass_loglikelihood_request> loglikelihood;
  std::vector<compass_rolling_request> rolling;
  std::vector<compass_generate_request> generate;
  std::vector<std::vector<compass_str>> stop_strings;  // per generate request
  std::vector<int32_t> eos_ids;
  // Request index -> (item index, choice index), one table per request type.
  std::vector<std::pair<size_t, size_t>> loglikelihood_owner, rolling_owner, generate_owner;
};

// Builds the requests for `items` (all of one kind per request type).
// `default_max_new_tokens` applies to generate items that give none.
RequestBatch BuildRequests(const Tokenizer& tokenizer, const std::vector<sdk::Item>& items,
                           uint32_t default_max_new_tokens, bool add_bos);

}  // namespace compass

#endif  // COMPASS_RUNNER_REQUEST_BUILDER_H_
