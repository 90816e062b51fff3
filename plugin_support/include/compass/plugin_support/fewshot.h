// Few-shot selection and prompt assembly as lm-evaluation-harness does it.
//
// Selection (lm-eval's default ContextSampler): one random.Random(seed) per
// task, consumed by the evaluated documents in order. For each document,
// sample(pool, n) draws n = num_shots documents, or num_shots + 1 when the
// pool is the evaluated split itself; documents equal to the evaluated one
// are dropped and the first num_shots kept. With num_shots == 0 nothing is
// drawn. PythonRandom makes the draws identical to CPython's.
//
// Assembly (ContextSampler.get_context + fewshot_context): for each shot
// text + target_delimiter + target + fewshot_delimiter (both delimiters are
// left out for an empty target), then the document's own text.
#ifndef COMPASS_DATASETS_FEWSHOT_H_
#define COMPASS_DATASETS_FEWSHOT_H_

#include "compass/plugin_support/python_random.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace compass::plugin_support {

// Throws sdk::Error COMPASS_INVALID_ARGUMENT when a pool of `pool_size`
// documents (named `pool_name` in the message) cannot give `num_shots`
// shots: sample() needs num_shots (+1 when `same_split`) documents.
void check_fewshot_pool(size_t pool_size, uint32_t num_shots, bool same_split,
                        std::string_view pool_name);

class FewshotSampler {
 public:
  // Call check_fewshot_pool first; the constructor does not check.
  FewshotSampler(uint64_t seed, size_t pool_size, uint32_t num_shots, bool same_split);

  // Pool indices of the shots for the next evaluated document, in prompt
  // order. `is_doc(i)` says whether pool[i] equals that document.
  std::vector<size_t> next(const std::function<bool(size_t)>& is_doc);

 private:
  PythonRandom random_;
  size_t pool_size_;
  uint32_t num_shots_;
  bool same_split_;
};

struct Shot {
  std::string text;    // doc_to_text(shot)
  std::string target;  // the target text, without the target delimiter
};

std::string fewshot_context(const std::vector<Shot>& shots, std::string_view doc_text,
                            std::string_view target_delimiter = " ",
                            std::string_view fewshot_delimiter = "\n\n");

}  // namespace compass::plugin_support

#endif  // COMPASS_DATASETS_FEWSHOT_H_
