// Owning C++ wrappers around plugin objects (backend, dataset, scorer).
// Each keeps its PluginRecord (and with it the shared library) alive, and
// calls the plugin's destroy before the library can be unloaded.
//
// Threading: an instance is used from one thread at a time. Callbacks passed
// to batch calls may be invoked from plugin threads, one at a time.
#ifndef COMPASS_PLUGIN_HOST_PLUGIN_INSTANCES_H_
#define COMPASS_PLUGIN_HOST_PLUGIN_INSTANCES_H_

#include <compass/plugin.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "plugin_host/host_services.h"
#include "plugin_host/plugin_registry.h"
#include "util/status.h"

namespace compass {

struct Figure {
  std::string name;
  std::string scope;
  double value = 0;
  compass_unit unit = COMPASS_UNIT_COUNT;
  std::string Format() const;  // "12.3 GiB", "45.0 %", "1234.5 /s"
};

struct PlanResult {
  struct Placement {
    std::string module, device;
    uint64_t bytes = 0;
  };
  struct DevicePlan {
    std::string device;
    uint64_t capacity = 0, weights = 0, cache = 0, activations = 0;
  };
  std::vector<Placement> placements;
  std::vector<DevicePlan> devices;
  std::vector<Figure> figures;
  bool fits = false;
  std::string message;
};

class BackendInstance {
 public:
  static StatusOr<std::unique_ptr<BackendInstance>> Create(const PluginRecord& record,
                                                           PluginHost& host,
                                                           const compass_backend_config& config);
  // Wraps a handle create() returned; prefer Create().
  BackendInstance(PluginRecord record, compass_backend* handle)
      : record_(std::move(record)), handle_(handle) {}
  ~BackendInstance();

  const PluginRecord& record() const { return record_; }
  bool supports_plan() const { return record_.backend.plan != nullptr; }

  StatusOr<PlanResult> Plan();
  Status Load();
  // How many processes of a launch one model copy spans (ABI 2.2;
  // 1 for a backend without processes_per_model).
  uint32_t ProcessesPerModel() const;
  // On a process that is not its model copy's first: serves that process
  // until it is done (ABI 2.2). Unsupported for a backend without serve.
  Status Serve();
  // compass_backend_capability flags (0 for a table without the field).
  uint64_t capabilities() const;
  // Calls execute with every request at once. `on_result` sees each result
  // (borrowed, with struct_size widened to the host's) one at a time; a
  // non-OK status from it stops the backend and is returned. A plugin bug
  // stops the backend the same way, at once, and is returned naming the
  // plugin and the request: a result for an unknown index, of the wrong
  // kind or sample, or a second answer for one (index, sample) (errors may
  // repeat: each fails its whole request). `on_result` never sees those.
  Status Execute(const std::vector<compass_request>& requests,
                 const std::function<Status(const compass_result&)>& on_result);
  StatusOr<std::vector<Figure>> Figures();

 private:
  Status Unsupported(const char* what) const;
  PluginRecord record_;
  compass_backend* handle_;
};

// What a task will deliver (compass_task_info), as the dataset describes
// it from the task's config alone.
struct TaskInfo {
  uint64_t item_kinds = 0;  // COMPASS_ITEM_KIND_BIT(...) | ...
  std::string scorer;       // "" = the dataset's default_scorer
  std::string scorer_options_json;
  int64_t num_shots = -1;  // -1 = no default
};

class DatasetInstance {
 public:
  // Calls the dataset's describe; nullopt for a plugin without one (ABI
  // 2.0). An error is the plugin's, prefixed as create's are.
  static StatusOr<std::optional<TaskInfo>> Describe(const PluginRecord& record, PluginHost& host,
                                                    const compass_dataset_config& config);
  static StatusOr<std::unique_ptr<DatasetInstance>> Create(const PluginRecord& record,
                                                           PluginHost& host,
                                                           const compass_dataset_config& config);
  // Wraps a handle create() returned; prefer Create().
  DatasetInstance(PluginRecord record, compass_dataset* handle)
      : record_(std::move(record)), handle_(handle) {}
  ~DatasetInstance();
  const PluginRecord& record() const { return record_; }
  // Calls `on_item` for every item; it returns false to stop early.
  Status Items(const std::function<bool(const compass_item&)>& on_item);

 private:
  PluginRecord record_;
  compass_dataset* handle_;
};

struct SampleMetric {
  std::string name;
  double value = 0;
  double weight = 1;
  std::string prediction;
};

class ScorerInstance {
 public:
  static StatusOr<std::unique_ptr<ScorerInstance>> Create(const PluginRecord& record,
                                                          PluginHost& host,
                                                          const std::string& options_json);
  // Wraps a handle create() returned; prefer Create().
  ScorerInstance(PluginRecord record, compass_scorer* handle)
      : record_(std::move(record)), handle_(handle) {}
  ~ScorerInstance();
  const PluginRecord& record() const { return record_; }
  StatusOr<std::vector<SampleMetric>> Score(const compass_item& item,
                                            const compass_model_output& output);
  StatusOr<compass_aggregate> Aggregate(const std::string& metric,
                                        const std::vector<double>& values,
                                        const std::vector<double>& weights);

 private:
  PluginRecord record_;
  compass_scorer* handle_;
};

}  // namespace compass

#endif  // COMPASS_PLUGIN_HOST_PLUGIN_INSTANCES_H_
