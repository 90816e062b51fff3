#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include <compass/plugin.hpp>

#include "cli/commands.h"
#include "plugin_host/plugin_registry.h"

namespace compass::cli {
namespace {

const char* OptionTypeName(uint32_t type) {
  switch (type) {
    case COMPASS_OPT_BOOL: return "bool";
    case COMPASS_OPT_INT: return "int";
    case COMPASS_OPT_FLOAT: return "float";
    case COMPASS_OPT_STRING: return "string";
    case COMPASS_OPT_STRING_LIST: return "string list";
    case COMPASS_OPT_TABLE: return "table";
    case COMPASS_OPT_PATH: return "path";
    default: return "any";
  }
}

std::string S(compass_str s) {
  return s.size ? std::string(s.data, s.size) : "";
}

}  // namespace

int PluginsCommand(const GlobalOptions& global, bool json) {
  const auto registry = PluginRegistry::Discover(PluginSearchPath(global.plugin_dirs));
  if (json) {
    nlohmann::json out;
    out["abi"] = std::to_string(COMPASS_ABI_MAJOR) + "." + std::to_string(COMPASS_ABI_MINOR);
    out["searched"] = registry.searched();
    out["plugins"] = nlohmann::json::array();
    for (const auto& p : registry.plugins()) {
      nlohmann::json options = nlohmann::json::array();
      const auto& list = p.options();
      for (uint64_t i = 0; i < list.size; ++i) {
        const auto& o = sdk::option_at(list, i);
        options.push_back({{"key", S(o.key)},
                           {"type", OptionTypeName(o.type)},
                           {"help", S(o.help)},
                           {"choices", S(o.choices)}});
      }
      nlohmann::json entry = {
          {"kind", PluginKindName(p.kind)},
          {"name", p.name},
          {"version", p.version},
          {"abi", std::to_string(p.abi_major) + "." + std::to_string(p.abi_minor)},
          {"description", p.description},
          {"path", p.path},
          {"options", options}};
      if (p.kind == PluginKind::kBackend) {
        nlohmann::json serves = nlohmann::json::array();
        for (const auto& [flag, what] : {std::pair{COMPASS_CAN_LOGLIKELIHOOD, "loglikelihood"},
                                         std::pair{COMPASS_CAN_GENERATE, "generate"},
                                         std::pair{COMPASS_CAN_SAMPLE, "sample"}}) {
          if (p.backend.capabilities & flag) serves.push_back(what);
        }
        entry["serves"] = serves;
      }
      if (p.kind == PluginKind::kScorer && p.scorer.item_kinds != 0) {
        entry["scores"] = ItemKindNames(p.scorer.item_kinds);
      }
      out["plugins"].push_back(entry);
    }
    out["refused"] = nlohmann::json::array();
    for (const auto& r : registry.refused()) {
      out["refused"].push_back({{"path", r.path}, {"reason", r.reason}});
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::printf("Plugin ABI %d.%d; searched: %s\n", COMPASS_ABI_MAJOR, COMPASS_ABI_MINOR,
              registry.searched().empty() ? "(no plugin folder found)" : "");
  for (const auto& d : registry.searched()) std::printf("  %s\n", d.c_str());
  std::printf("\n%-8s %-14s %-22s %-5s %s\n", "KIND", "NAME", "VERSION", "ABI", "PATH");
  for (const auto& p : registry.plugins()) {
    std::printf("%-8s %-14s %-22s %u.%-3u %s\n", PluginKindName(p.kind), p.name.c_str(),
                p.version.c_str(), p.abi_major, p.abi_minor, p.path.c_str());
  }
  if (!registry.refused().empty()) {
    std::printf("\nRefused:\n");
    for (const auto& r : registry.refused()) {
      std::printf("  %s: %s\n", r.path.c_str(), r.reason.c_str());
    }
  }
  return kExitOk;
}

}  // namespace compass::cli
