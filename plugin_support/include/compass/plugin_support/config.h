// What every dataset reads from the task's ABI config.
#ifndef COMPASS_DATASETS_CONFIG_H_
#define COMPASS_DATASETS_CONFIG_H_

#include <compass/plugin.h>

#include <cstdint>
#include <filesystem>
#include <string_view>

namespace compass::plugin_support {

struct RunSettings {
  uint32_t num_shots = 0;
  uint64_t seed = 1234;
  uint64_t limit = 0;  // 0 = all items
};

// Throws sdk::Error COMPASS_INVALID_ARGUMENT "<name>: dataset config from an
// unknown ABI" for a config without options_json, and `missing_path` for
// one without a path. Copies num_shots, seed and limit into `settings`;
// returns the path.
std::filesystem::path read_abi_config(const compass_dataset_config& abi, std::string_view name,
                                      std::string_view missing_path, RunSettings& settings);

}  // namespace compass::plugin_support

#endif  // COMPASS_DATASETS_CONFIG_H_
