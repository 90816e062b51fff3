// The documents a dataset evaluates, with the pool its few-shot examples are
// drawn from as fewshot.h describes: another split, or the documents
// themselves (each then left out of its own shots). `Doc` has a `value`
// that compares equal for equal documents.
#ifndef COMPASS_DATASETS_FEWSHOT_DOCS_H_
#define COMPASS_DATASETS_FEWSHOT_DOCS_H_

#include "compass/plugin_support/config.h"
#include "compass/plugin_support/fewshot.h"

#include <compass/plugin.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <utility>
#include <vector>

namespace compass::plugin_support {

template <typename Doc>
class FewshotDocs {
 public:
  using ReadPool = std::function<std::vector<Doc>(const std::filesystem::path&)>;
  // The shots of one document: pointers into the pool, in prompt order.
  using Shots = std::vector<const Doc*>;

  FewshotDocs() = default;
  // Takes the evaluated documents. With shots and not `same_split`, the pool
  // is read_pool(pool_file); then check_fewshot_pool() checks that it can
  // give them (naming pool_file).
  FewshotDocs(std::vector<Doc> docs, RunSettings settings, bool same_split,
              const std::filesystem::path& pool_file, const ReadPool& read_pool)
      : docs_(std::move(docs)), settings_(settings), same_split_(same_split) {
    if (settings_.num_shots > 0 && !same_split_) other_pool_ = read_pool(pool_file);
    check_fewshot_pool(pool().size(), settings_.num_shots, same_split_, pool_file.string());
  }

  // The documents for_each_item goes through (limit applied).
  uint64_t size() const {
    const uint64_t total = docs_.size();
    return settings_.limit > 0 ? std::min(total, settings_.limit) : total;
  }

  // For each document in order, draws its shots and hands
  // make_item(index, doc, shots) to `fn` until it returns false. Draws
  // restart from the seed on every call.
  template <typename MakeItem>
  void for_each_item(MakeItem&& make_item, const std::function<bool(const sdk::Item&)>& fn) const {
    const std::vector<Doc>& from = pool();
    FewshotSampler sampler(settings_.seed, from.size(), settings_.num_shots, same_split_);
    const uint64_t count = size();
    for (uint64_t index = 0; index < count; ++index) {
      const Doc& doc = docs_[index];
      Shots shots;
      for (const size_t i : sampler.next([&](size_t i) { return from[i].value == doc.value; })) {
        shots.push_back(&from[i]);
      }
      if (!fn(make_item(index, doc, shots))) return;
    }
  }

 private:
  const std::vector<Doc>& pool() const { return same_split_ ? docs_ : other_pool_; }

  std::vector<Doc> docs_;
  std::vector<Doc> other_pool_;  // the pool when it is another split
  RunSettings settings_;
  bool same_split_ = true;
};

}  // namespace compass::plugin_support

#endif  // COMPASS_DATASETS_FEWSHOT_DOCS_H_
