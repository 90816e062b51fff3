// `compass plan --devices NODESxGPUSxGPU` (a cluster, `2x8xH100`): paged_tp
// laid out as tensor parallel within a node, pipeline stages across nodes
// and data-parallel replicas (planning/cluster_layout.h), each candidate
// layout planned by the paged_tp plugin itself (`tp` and `stages` given as
// overrides, as `plan --backend all` gives them), the first that fits
// chosen. The compass executable links no plugin: the memory accounting is
// the plugin's plan and models/parallel_accounting.h.
#ifndef COMPASS_CLI_PLAN_CLUSTER_H_
#define COMPASS_CLI_PLAN_CLUSTER_H_

#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/plan_support.h"
#include "models/model_config.h"
#include "planning/cluster_layout.h"
#include "plugin_host/plugin_registry.h"
#include "runner/runner.h"
#include "util/status.h"

namespace compass::cli {

// The backend a cluster is laid out for.
inline constexpr char kClusterBackend[] = "paged_tp";

struct ClusterChoice {
  Status error;              // a given layout refused, a plan that could not be made
  int error_exit = kExitOk;  // its exit code
  planning::ClusterShape shape;
  planning::Layout layout;           // the one chosen, or the last tried when none fits
  bool given = false;                // tp or stages came from the config or --set
  std::optional<PlanReport> report;  // the plan of `layout` (one replica)
  bool fits = false;
  std::string why_stages;                  // why one node does not do (stages > 1), with numbers
  std::string shortfall;                   // when none fits: needed vs available per GPU
  std::optional<planning::Layout> larger;  // what fits on more nodes, when none fits here
  std::string larger_devices;              // its --devices, e.g. "2x8xH100"
};

// Chooses and plans the layout for `simulated` (a cluster, IsClusterSpec)
// with paged_tp: the given tp/stages checked, then each candidate planned.
ClusterChoice ChooseClusterLayout(const PluginRegistry& registry, const RunOptions& options,
                                  const EvalConfig& config, const std::vector<Device>& simulated,
                                  const model::ModelConfig& model);

// One line saying what fits, for messages: "needs 2 nodes of 8 x H100 with
// tp = 8 and 2 stages (--devices 2x8xH100)"; "" when nothing was found.
std::string LargerClusterText(const ClusterChoice& choice);

// The whole `plan --backend paged_tp --devices 2x8xH100` command.
int PlanClusterCommand(const GlobalOptions& global, const RunOptions& options, bool json);

}  // namespace compass::cli

#endif  // COMPASS_CLI_PLAN_CLUSTER_H_
