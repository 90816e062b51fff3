// Header-only token sampling with the exact semantics of compass_request's
// sampling fields, so that every backend that uses it picks the same token
// from the same logits (same seed -> same tokens on the same device).
//
// For one step, on float logits over the ids a backend may generate:
//   temperature 0: the first id with the largest logit (greedy).
//   otherwise:
//     1. x = logits / temperature (in double);
//     2. top_k > 0: keep the top_k largest x (ties: lower id first);
//     3. p = softmax(x) over the kept ids;
//     4. top_p < 1: keep the smallest set of the most likely ids (ties: lower
//        id first) whose probabilities sum to at least top_p;
//     5. u = the generator's next 53 bits as a double in [0, 1), times the
//        kept probabilities' sum; walking the kept ids in increasing id
//        order, pick the first whose running sum exceeds u.
//   The generator is std::mt19937_64 seeded with request.seed + sample.
//
// Threading: a Sampler belongs to one sequence.
#ifndef COMPASS_SAMPLING_HPP_
#define COMPASS_SAMPLING_HPP_

#include <compass/plugin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace compass::sdk {

class Sampler {
 public:
  Sampler() = default;
  Sampler(const compass_request& request, uint32_t sample)
      : temperature_(request.temperature),
        top_p_(request.top_p),
        top_k_(request.top_k),
        rng_(request.seed + sample) {}

  bool greedy() const { return !(temperature_ > 0.0f); }

  // The next token for `logits` (n values, ids 0..n-1).
  int32_t next(const float* logits, size_t n) {
    if (n == 0) return 0;
    if (greedy()) {
      return static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
    }
    ids_.resize(n);
    std::iota(ids_.begin(), ids_.end(), 0);
    const double inv_t = 1.0 / static_cast<double>(temperature_);
    auto more_likely = [&](int32_t a, int32_t b) {
      return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
    };
    if (top_k_ > 0 && static_cast<size_t>(top_k_) < n) {
      std::nth_element(ids_.begin(), ids_.begin() + (top_k_ - 1), ids_.end(), more_likely);
      ids_.resize(static_cast<size_t>(top_k_));
    }
    double top = -INFINITY;
    for (int32_t id : ids_) top = std::max(top, logits[id] * inv_t);
    probs_.assign(n, 0.0);
    double z = 0;
    for (int32_t id : ids_) z += probs_[id] = std::exp(logits[id] * inv_t - top);
    if (top_p_ < 1.0f && top_p_ > 0.0f) {
      std::sort(ids_.begin(), ids_.end(), more_likely);
      double run = 0;
      size_t keep = 0;
      while (keep < ids_.size()) {
        run += probs_[ids_[keep++]] / z;
        if (run >= static_cast<double>(top_p_)) break;
      }
      ids_.resize(std::max<size_t>(1, keep));
    }
    std::sort(ids_.begin(), ids_.end());
    double mass = 0;
    for (int32_t id : ids_) mass += probs_[id];
    const double u = static_cast<double>(rng_() >> 11) * 0x1.0p-53 * mass;
    double run = 0;
    for (int32_t id : ids_) {
      run += probs_[id];
      if (run > u) return id;
    }
    return ids_.back();
  }

 private:
  float temperature_ = 0;
  float top_p_ = 1;
  int32_t top_k_ = 0;
  std::mt19937_64 rng_;
  std::vector<int32_t> ids_;
  std::vector<double> probs_;
};

}  // namespace compass::sdk

#endif  // COMPASS_SAMPLING_HPP_
