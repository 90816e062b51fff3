// Reading a dataset's options_json (already validated by the host against
// the plugin's option specs; these checks guard direct library use).
#ifndef COMPASS_DATASETS_OPTIONS_H_
#define COMPASS_DATASETS_OPTIONS_H_

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace compass::plugin_support {

// Parses options JSON text; "" counts as {}. Throws sdk::Error
// COMPASS_INVALID_ARGUMENT "<what> must be a JSON object, got: <text>" when
// it is not a JSON object.
nlohmann::json parse_options(std::string_view options_json,
                             std::string_view what = "dataset options");

// The value of `key`, or nullopt when absent or null. Throws sdk::Error
// COMPASS_INVALID_ARGUMENT naming the key when the type is wrong.
std::optional<std::string> get_string(const nlohmann::json& options, const std::string& key);
std::optional<std::vector<std::string>> get_string_list(const nlohmann::json& options,
                                                        const std::string& key);
std::optional<int64_t> get_int(const nlohmann::json& options, const std::string& key);
std::optional<bool> get_bool(const nlohmann::json& options, const std::string& key);

}  // namespace compass::plugin_support

#endif  // COMPASS_DATASETS_OPTIONS_H_
