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

template <PluginName Name, typename Data, auto ConfigFromAbi, auto OptionSpecs = nullptr>
class PluginDataset final : public sdk::Dataset {
 public:
  PluginDataset(const sdk::Host& host, const compass_dataset_config& config)
      : host_(host), data_(ConfigFromAbi(config)) {
    host_.log(COMPASS_LOG_DEBUG, summary());
  }

  static compass_option_list options() requires(!std::is_null_pointer_v<decltype(OptionSpecs)>) {
    return OptionSpecs();
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
