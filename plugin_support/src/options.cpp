#include "compass/plugin_support/options.h"

#include <compass/plugin.hpp>

namespace compass::plugin_support {

namespace {

[[noreturn]] void wrong_type(const std::string& key, std::string_view expected,
                             const nlohmann::json& value) {
  throw sdk::Error(COMPASS_INVALID_ARGUMENT, "option '" + key + "' must be " +
                                                 std::string(expected) + ", got " + value.dump());
}

const nlohmann::json* find(const nlohmann::json& options, const std::string& key) {
  const auto it = options.find(key);
  if (it == options.end() || it->is_null()) return nullptr;
  return &*it;
}

}  // namespace

nlohmann::json parse_options(std::string_view options_json, std::string_view what) {
  if (options_json.empty()) return nlohmann::json::object();
  nlohmann::json options = nlohmann::json::parse(options_json, nullptr, /*allow_exceptions=*/false);
  if (options.is_discarded() || !options.is_object()) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT, std::string(what) + " must be a JSON object, got: " +
                                                   std::string(options_json));
  }
  return options;
}

std::optional<std::string> get_string(const nlohmann::json& options, const std::string& key) {
  const auto* value = find(options, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) wrong_type(key, "a string", *value);
  return value->get<std::string>();
}

std::optional<std::vector<std::string>> get_string_list(const nlohmann::json& options,
                                                        const std::string& key) {
  const auto* value = find(options, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_array()) wrong_type(key, "a list of strings", *value);
  std::vector<std::string> out;
  for (const auto& element : *value) {
    if (!element.is_string()) wrong_type(key, "a list of strings", *value);
    out.push_back(element.get<std::string>());
  }
  return out;
}

std::optional<int64_t> get_int(const nlohmann::json& options, const std::string& key) {
  const auto* value = find(options, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number_integer()) wrong_type(key, "an integer", *value);
  return value->get<int64_t>();
}

std::optional<bool> get_bool(const nlohmann::json& options, const std::string& key) {
  const auto* value = find(options, key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) wrong_type(key, "true or false", *value);
  return value->get<bool>();
}

}  // namespace compass::plugin_support
