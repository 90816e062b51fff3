#include "compass/plugin_support/fewshot.h"

#include <compass/plugin.hpp>

namespace compass::plugin_support {

void check_fewshot_pool(size_t pool_size, uint32_t num_shots, bool same_split,
                        std::string_view pool_name) {
  if (num_shots == 0) return;
  const size_t needed = static_cast<size_t>(num_shots) + (same_split ? 1 : 0);
  if (needed <= pool_size) return;
  const size_t usable = pool_size - (same_split && pool_size > 0 ? 1 : 0);
  throw sdk::Error(COMPASS_INVALID_ARGUMENT, "num_shots = " + std::to_string(num_shots) + " but '" +
                                                 std::string(pool_name) + "' has " +
                                                 std::to_string(pool_size) + " records" +
                                                 (same_split ? " (one is the item itself)" : "") +
                                                 "; use num_shots <= " + std::to_string(usable));
}

FewshotSampler::FewshotSampler(uint64_t seed, size_t pool_size, uint32_t num_shots, bool same_split)
    : random_(seed), pool_size_(pool_size), num_shots_(num_shots), same_split_(same_split) {}

std::vector<size_t> FewshotSampler::next(const std::function<bool(size_t)>& is_doc) {
  std::vector<size_t> shots;
  if (num_shots_ == 0) return shots;
  const size_t draws = static_cast<size_t>(num_shots_) + (same_split_ ? 1 : 0);
  for (const size_t index : random_.sample(pool_size_, draws)) {
    if (is_doc(index)) continue;
    if (shots.size() < num_shots_) shots.push_back(index);
  }
  return shots;
}

std::string fewshot_context(const std::vector<Shot>& shots, std::string_view doc_text,
                            std::string_view target_delimiter, std::string_view fewshot_delimiter) {
  std::string out;
  for (const Shot& shot : shots) {
    out += shot.text;
    if (!shot.target.empty()) {
      out += target_delimiter;
      out += shot.target;
      out += fewshot_delimiter;
    }
  }
  out += doc_text;
  return out;
}

}  // namespace compass::plugin_support
