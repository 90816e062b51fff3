#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include <compass/plugin.hpp>

#include "config/config.h"
#include "config/config_internal.h"
#include "util/strings.h"

namespace compass {
namespace {

using config_internal::InSourceOrder;
using config_internal::JoinPath;
using config_internal::TypeName;
using config_internal::Where;

std::string_view View(compass_str s) {
  return s.data ? std::string_view(s.data, s.size) : std::string_view();
}

template <typename T>
std::string Streamed(const T& value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

nlohmann::json ToJson(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: {
      nlohmann::json object = nlohmann::json::object();
      for (auto&& [key, value] : *node.as_table()) object[std::string(key.str())] = ToJson(value);
      return object;
    }
    case toml::node_type::array: {
      nlohmann::json array = nlohmann::json::array();
      for (const toml::node& item : *node.as_array()) array.push_back(ToJson(item));
      return array;
    }
    case toml::node_type::string: return node.as_string()->get();
    case toml::node_type::integer: return node.as_integer()->get();
    case toml::node_type::floating_point: return node.as_floating_point()->get();
    case toml::node_type::boolean: return node.as_boolean()->get();
    case toml::node_type::date: return Streamed(node.as_date()->get());
    case toml::node_type::time: return Streamed(node.as_time()->get());
    case toml::node_type::date_time: return Streamed(node.as_date_time()->get());
    default: return nullptr;
  }
}

std::string Dump(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status CheckOption(const std::string& file, const toml::node& node, const std::string& path,
                   const compass_option_spec& spec) {
  const std::string help(View(spec.help));
  auto mismatch = [&](const std::string& expected) {
    return InvalidArgument(Where(file, node, path) + ": expected " + expected + ", got " +
                           TypeName(node) + (help.empty() ? "" : " (" + help + ")"));
  };
  switch (spec.type) {
    case COMPASS_OPT_BOOL:
      if (!node.is_boolean()) return mismatch("a boolean (true or false)");
      break;
    case COMPASS_OPT_INT:
      if (!node.is_integer()) return mismatch("an integer");
      break;
    case COMPASS_OPT_FLOAT:
      if (!node.is_number()) return mismatch("a number");
      break;
    case COMPASS_OPT_STRING: {
      if (!node.is_string()) return mismatch("a string");
      const std::string_view choices = View(spec.choices);
      if (choices.empty()) break;
      std::vector<std::string> allowed;
      for (const std::string& c : Split(choices, '|')) allowed.emplace_back(Trim(c));
      const std::string& value = node.as_string()->get();
      if (std::find(allowed.begin(), allowed.end(), value) == allowed.end())
        return InvalidArgument(Where(file, node, path) + ": '" + value + "' is not allowed" +
                               DidYouMean(value, allowed) + "; allowed: " + Join(allowed));
      break;
    }
    case COMPASS_OPT_STRING_LIST: {
      const toml::array* array = node.as_array();
      if (!array) return mismatch("an array of strings");
      for (size_t i = 0; i < array->size(); ++i) {
        const toml::node& item = *array->get(i);
        if (!item.is_string())
          return InvalidArgument(Where(file, item, path + "[" + std::to_string(i) + "]") +
                                 ": expected a string, got " + TypeName(item));
      }
      break;
    }
    case COMPASS_OPT_TABLE:
      if (!node.is_table()) return mismatch("a table");
      break;
    case COMPASS_OPT_PATH:
      if (!node.is_string()) return mismatch("a string (a file path)");
      if (node.as_string()->get().empty()) {
        return InvalidArgument(Where(file, node, path) + ": is empty; give a file path" +
                               (help.empty() ? "" : " (" + help + ")"));
      }
      break;
    default: break;  // COMPASS_OPT_ANY, and types newer than this host: passed through
  }
  return Status::Ok();
}

}  // namespace

std::string TomlToJson(const toml::node& node) {
  try {
    return Dump(ToJson(node));
  } catch (...) {
    return "null";
  }
}

StatusOr<std::string> PluginOptionsToJson(const toml::table& table,
                                          const compass_option_list& specs, const std::string& file,
                                          const std::string& table_path,
                                          const std::string& base_dir) {
  try {
    std::vector<std::string> keys;
    for (uint64_t i = 0; i < specs.size; ++i) keys.emplace_back(View(sdk::option_at(specs, i).key));
    for (const auto& [key, node] : InSourceOrder(table)) {
      const auto it = std::find(keys.begin(), keys.end(), key->str());
      if (it == keys.end())
        return InvalidArgument(config_internal::UnknownKey(file, *key, *node, table_path, keys));
      COMPASS_RETURN_IF_ERROR(CheckOption(file, *node, JoinPath(table_path, key->str()),
                                          sdk::option_at(specs, it - keys.begin())));
    }
    nlohmann::json json = ToJson(table);
    for (uint64_t i = 0; i < specs.size; ++i) {
      const auto it = json.find(keys[i]);
      if (it == json.end()) continue;
      const uint32_t type = sdk::option_at(specs, i).type;
      // Integers given for float options are passed on as floats.
      if (type == COMPASS_OPT_FLOAT && it->is_number_integer()) *it = it->get<double>();
      // Paths as the task's path: relative to the config file's folder.
      if (type == COMPASS_OPT_PATH && !base_dir.empty()) {
        std::filesystem::path p(it->get<std::string>());
        if (p.is_relative()) p = std::filesystem::path(base_dir) / p;
        *it = p.lexically_normal().string();
      }
    }
    return Dump(json);
  } catch (const std::exception& e) {
    return Internal(table_path + ": unexpected error while reading plugin options: " + e.what());
  } catch (...) {
    return Internal(table_path + ": unexpected error while reading plugin options");
  }
}

Status CheckBackendTables(const EvalConfig& config,
                          const std::vector<std::string>& known_backends) {
  std::vector<std::pair<const std::string*, const toml::table*>> tables;
  for (const auto& [name, table] : config.backend.plugin_tables) tables.emplace_back(&name, &table);
  // In file order, so the first error is the first one in the file.
  std::stable_sort(tables.begin(), tables.end(), [](const auto& a, const auto& b) {
    const auto& x = a.second->source().begin;
    const auto& y = b.second->source().begin;
    if ((x.line == 0) != (y.line == 0)) return y.line == 0;
    return std::tie(x.line, x.column) < std::tie(y.line, y.column);
  });
  for (const auto& [name, table] : tables) {
    if (std::find(known_backends.begin(), known_backends.end(), *name) != known_backends.end())
      continue;
    const std::string path = "backend." + *name;
    return InvalidArgument(config_internal::Prefix(config.display_file, *table, path) +
                           "unknown backend '" + *name + "' in [" + path + "]" +
                           DidYouMean(*name, known_backends) + "; known backends: " +
                           (known_backends.empty() ? std::string("(none)") : Join(known_backends)));
  }
  return Status::Ok();
}

}  // namespace compass
