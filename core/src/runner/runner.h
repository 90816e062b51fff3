// Runs the tasks of an EvalConfig through one backend: validates everything
// (plugins, options, devices, data, plan) before any weight is loaded, then
// tokenizes once, sends each task's requests as one batch, scores and
// aggregates.
//
// Threading: one Run at a time per Runner. Cancel() may be called from a
// signal handler.
#ifndef COMPASS_RUNNER_RUNNER_H_
#define COMPASS_RUNNER_RUNNER_H_

#include <cmath>
#include <string>
#include <vector>

#include "config/config.h"
#include "devices/devices.h"
#include "plugin_host/host_services.h"
#include "plugin_host/plugin_instances.h"
#include "plugin_host/plugin_registry.h"
#include "util/status.h"

namespace compass {

struct MetricResult {
  std::string metric;
  std::string group;  // "" for the whole task
  double value = std::nan("");
  double stderr_value = std::nan("");
  std::string stderr_method;
  uint64_t count = 0;
  bool higher_is_better = true;
};

struct TaskResult {
  std::string name, dataset, scorer;
  uint64_t items = 0;
  uint64_t requests = 0;
  double seconds = 0;
  std::vector<MetricResult> metrics;
};

struct RunResult {
  std::string backend, backend_version;
  std::vector<Device> devices;
  std::vector<TaskResult> tasks;
  std::vector<Figure> figures;
  PlanResult plan;
  bool planned = false;
  double seconds = 0;
};

// Where a run stopped, so the CLI can pick an exit code.
enum class RunStage { kValidate, kPlugin, kPlan, kExecute, kDone };

class Runner {
 public:
  Runner(const PluginRegistry& registry, PluginHost& host) : registry_(registry), host_(host) {}

  StatusOr<RunResult> Run(const EvalConfig& config, const std::string& backend_name);
  // Validates and plans only (no data read, no weights): for `compass plan`.
  // `devices` replaces the config's devices when non-empty (simulation).
  StatusOr<RunResult> Plan(const EvalConfig& config, const std::string& backend_name,
                           const std::vector<Device>& devices);

  RunStage stage() const { return stage_; }

 private:
  struct Prepared;
  StatusOr<std::unique_ptr<BackendInstance>> CreateBackend(
      const EvalConfig& config, const PluginRecord& record, const std::vector<Device>& devices,
      const std::string& options_json, uint32_t vocab_size, int32_t bos, int32_t pad);
  const PluginRegistry& registry_;
  PluginHost& host_;
  RunStage stage_ = RunStage::kValidate;
};

}  // namespace compass

#endif  // COMPASS_RUNNER_RUNNER_H_
