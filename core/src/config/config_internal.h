// Helpers shared by the config sources: positions, type names, key order.
// Values set with --set have no source position; messages then name the
// override ("--set model.dtype") instead of file:line:column.
#ifndef COMPASS_CONFIG_CONFIG_INTERNAL_H_
#define COMPASS_CONFIG_CONFIG_INTERNAL_H_

#include <toml++/toml.h>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace compass::config_internal {

// "file:line:column" of `node`, or "" when it has no source (set by --set).
std::string PosOf(const std::string& file, const toml::node& node);

// "file:line:column: path", or "--set path" for a value without source.
std::string Where(const std::string& file, const toml::node& node, const std::string& path);

// "file:line:column: ", or "--set path: " for a value without source.
std::string Prefix(const std::string& file, const toml::node& node, const std::string& path);

// "a string", "an integer", ...
std::string TypeName(const toml::node& node);

// "table.key", or "key" at top level.
std::string JoinPath(const std::string& table_path, std::string_view key);

// The entries of `table` in file order (std::map order would be alphabetical);
// entries without source come last.
std::vector<std::pair<const toml::key*, const toml::node*>> InSourceOrder(const toml::table& table);

// "<pos>: unknown key 'k' in [table] (did you mean 'x'?); allowed: a, b<suffix>"
std::string UnknownKey(const std::string& file, const toml::key& key, const toml::node& node,
                       const std::string& table_path, const std::vector<std::string>& allowed,
                       std::string_view allowed_suffix = "");

}  // namespace compass::config_internal

#endif  // COMPASS_CONFIG_CONFIG_INTERNAL_H_
