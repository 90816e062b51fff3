// Building the items datasets deliver.
#ifndef COMPASS_DATASETS_ITEMS_H_
#define COMPASS_DATASETS_ITEMS_H_

#include <compass/plugin.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace compass::plugin_support {

// A multiple-choice item: each choice after `target_delimiter` (the
// continuation scored, as lm-eval writes it) and the index of the right one.
inline sdk::Item multiple_choice_item(const std::vector<std::string>& choices, int64_t gold,
                                      std::string_view target_delimiter = " ") {
  sdk::Item item;
  item.kind = COMPASS_ITEM_MULTIPLE_CHOICE;
  for (const auto& choice : choices) item.choices.push_back(std::string(target_delimiter) + choice);
  item.gold = gold;
  return item;
}

}  // namespace compass::plugin_support

#endif  // COMPASS_DATASETS_ITEMS_H_
