// The plugin class of a dataset module: loads the dataset from the ABI
// config and feeds its items to the host, checking for cancellation before
// each one. A module names its dataset library's pieces and exports it:
//
//   using ArcDataset = compass::datasets::PluginDataset<"arc", arc::Arc,
//                                                       arc::config_from_abi,
//                                                       arc::option_specs>;
//   COMPASS_EXPORT_DATASET(ArcDataset, "arc", ...)
//
// `Data` is built from config_from_abi(config) and offers size() and
// for_each_item(); without option_specs the module declares no options.
// `Describe`, when given, is an sdk::TaskInfo (const compass_dataset_config&)
// function: what a task will deliver, known from its config alone (ABI 2.1).
// Once loaded it logs "<name>: [<S> subjects, ]<N> items[ from <file>]" at
// debug level, the optional parts when Data has subjects() or file().
#ifndef COMPASS_DATASETS_PLUGIN_GLUE_H_
#define COMPASS_DATASETS_PLUGIN_GLUE_H_

#include <compass/plugin.hpp>

#include <algorithm>
#include <cstddef>
#include <string>
#include <type_traits>

namespace compass::plugin_support {

// A string literal as a template argument.
template <size_t N>
struct PluginName {
  constexpr PluginName(const char (&text)[N]) { std::copy_n(text, N, value); }
  char value[N];
};

// A Describe for a dataset whose items are all of one kind.
template <compass_item_kind Kind>
sdk::TaskInfo items_of_kind(const compass_dataset_config&) {
  sdk::TaskInfo info;
  info.item_kinds = COMPASS_ITEM_KIND_BIT(Kind);
  return info;
}

template <PluginName Name, typename Data, auto ConfigFromAbi, auto OptionSpecs = nullptr,
          auto Describe = nullptr>
class PluginDataset final : public sdk::Dataset {
 public:
  PluginDataset(const sdk::Host& host, const compass_dataset_config& config)
      : host_(host), data_(ConfigFromAbi(config)) {
    host_.log(COMPASS_LOG_DEBUG, summary());
  }

  static compass_option_list options() requires(!std::is_null_pointer_v<decltype(OptionSpecs)>) {
    return OptionSpecs();
  }

  static sdk::TaskInfo describe(const sdk::Host&, const compass_dataset_config& config) requires(
      !std::is_null_pointer_v<decltype(Describe)>) {
    return Describe(config);
  }

  void items(const sdk::ItemSink& sink) override {
    data_.for_each_item([&](const sdk::Item& item) {
      host_.check_cancelled();
      return sink(item);
    });
  }

 private:
  std::string summary() const {
    std::string out = std::string(Name.value) + ": ";
    if constexpr (requires { data_.subjects(); }) {
      out += std::to_string(data_.subjects().size()) + " subjects, ";
    }
    out += std::to_string(data_.size()) + " items";
    if constexpr (requires { data_.file(); }) out += " from " + data_.file().string();
    return out;
  }

  sdk::Host host_;
  Data data_;
};

}  // namespace compass::plugin_support

#endif  // COMPASS_DATASETS_PLUGIN_GLUE_H_
