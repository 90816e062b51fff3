// What `compass plan` and `compass plan --backend all` share: the exit code
// of a failed stage and the JSON shape of one backend's plan.
#ifndef COMPASS_CLI_PLAN_SUPPORT_H_
#define COMPASS_CLI_PLAN_SUPPORT_H_

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "config/config.h"
#include "devices/devices.h"
#include "plugin_host/plugin_registry.h"
#include "runner/runner.h"
#include "util/status.h"

namespace compass::cli {

// The exit code for a run or plan that stopped with `status` at `stage`
// (commands.h): 130 interrupted, 3 plugin, 2 usage, 4 a plan that does not
// fit, 1 otherwise.
int ExitCodeFor(const Status& status, RunStage stage);

// {"backend", "dtype", "max_length", "fits", "message", "devices": [{device,
// capacity_bytes, weight_bytes, cache_bytes, activation_bytes}],
// "placements": [{module, device, bytes}], "figures": {name: value}}.
nlohmann::json PlanJson(const PlanReport& report);

// The config (with --set) and the simulated devices (--devices; empty: this
// machine's) a plan is made for; nothing, the error logged, when either is
// bad (exit kExitUsage).
struct PlanInputs {
  EvalConfig config;
  std::vector<Device> simulated;
};
std::optional<PlanInputs> LoadPlanInputs(const RunOptions& options);

// `backend`'s plan for the config file `config_path` read with `overrides`
// (--set forms), on `simulated` devices (empty: the config's own). On
// failure, *exit is the exit code for it (a bad config: kExitUsage).
StatusOr<PlanReport> PlanWithOverrides(const PluginRegistry& registry,
                                       const std::string& config_path,
                                       const std::vector<std::string>& overrides,
                                       const std::string& backend,
                                       const std::vector<Device>& simulated, int* exit);

}  // namespace compass::cli

#endif  // COMPASS_CLI_PLAN_SUPPORT_H_
