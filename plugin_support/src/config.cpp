#include "compass/plugin_support/config.h"

#include <compass/plugin.hpp>

#include <string>

namespace compass::plugin_support {

std::filesystem::path read_abi_config(const compass_dataset_config& abi, std::string_view name,
                                      std::string_view missing_path, RunSettings& settings) {
  if (!COMPASS_HAS_FIELD(compass_dataset_config, abi.struct_size, options_json)) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                     std::string(name) + ": dataset config from an unknown ABI");
  }
  if (abi.path.size == 0) throw sdk::Error(COMPASS_INVALID_ARGUMENT, std::string(missing_path));
  settings.num_shots = abi.num_shots;
  settings.seed = abi.seed;
  settings.limit = abi.limit;
  return std::filesystem::path(std::string(sdk::view(abi.path)));
}

}  // namespace compass::plugin_support
