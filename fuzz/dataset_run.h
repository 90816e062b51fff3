// Runs a dataset plugin's logic as the plugin does: construct it (which
// reads and validates its files), then take every item. A malformed file
// must be an sdk::Error (which the plugin glue reports with its code and
// message); any other exception escapes and is a finding. Delivered items
// must agree with size() and, for multiple choice, name a gold choice.
#ifndef COMPASS_FUZZ_DATASET_RUN_H_
#define COMPASS_FUZZ_DATASET_RUN_H_

#include <compass/plugin.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <utility>

namespace compass::fuzz {

template <typename Dataset, typename Config>
void RunDataset(Config config) {
  try {
    const Dataset dataset(std::move(config));
    const uint64_t size = dataset.size();
    uint64_t delivered = 0;
    dataset.for_each_item([&](const sdk::Item& item) {
      ++delivered;
      if (item.kind == COMPASS_ITEM_MULTIPLE_CHOICE &&
          (item.gold < 0 || static_cast<uint64_t>(item.gold) >= item.choices.size())) {
        std::fprintf(stderr, "item %s: gold %lld outside its %zu choices\n", item.id.c_str(),
                     static_cast<long long>(item.gold), item.choices.size());
        std::abort();
      }
      const sdk::ItemView view(item);  // what crosses the ABI
      return true;
    });
    if (delivered != size) {
      std::fprintf(stderr, "size() is %llu, for_each_item delivered %llu\n",
                   static_cast<unsigned long long>(size),
                   static_cast<unsigned long long>(delivered));
      std::abort();
    }
  } catch (const sdk::Error&) {
    // A clear error for bad input: what the plugin reports.
  }
}

}  // namespace compass::fuzz

#endif  // COMPASS_FUZZ_DATASET_RUN_H_
