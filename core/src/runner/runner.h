// Runs the tasks of an EvalConfig through one backend. Everything is
// validated (plugins, options, devices, data, plan) before any weight is
// loaded; prompts are tokenized once by the core; each task's requests go to
// the backend as one batch; every response is committed to the run's
// results store as it arrives, so an interrupted run resumes where it
// stopped and recomputes nothing that was stored. The output folder is
// locked against other processes while the run writes it (RunOptions).
//
// Threading: one Run at a time per Runner. Cancellation goes through the
// PluginHost (PluginHost::RequestCancel, safe from a signal handler).
#ifndef COMPASS_RUNNER_RUNNER_H_
#define COMPASS_RUNNER_RUNNER_H_

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "devices/devices.h"
#include "plugin_host/host_services.h"
#include "plugin_host/plugin_instances.h"
#include "plugin_host/plugin_registry.h"
#include "results/run_lock.h"
#include "shard/coordinator.h"
#include "util/status.h"

namespace compass {

// This process's part of a sharded (data-parallel) launch
// (docs/scale-out.md). Every process reads what any earlier launch stored
// in the run folder (results.sqlite and shards/), computes the missing
// requests whose hash falls to its rank (shard/sharding.h) into its own
// store in shards/, and says so to the others; rank 0 then waits for all,
// merges every shard into results.sqlite and scores, as a single run does.
struct ShardOptions {
  uint32_t rank = 0, world = 1, local_rank = 0;
  std::string launch;  // the launch id every rank agreed on
  // Where the processes met ("tcp://HOST:PORT" or "file:///PATH"), for a
  // backend whose model copy spans several of them, and how long they wait
  // for each other.
  std::string rendezvous;
  double timeout_seconds = 600;
  Coordinator* coordinator = nullptr;  // the launch's (required when world > 1)
  // `compass merge`: compute nothing; merge the shards and score, or refuse
  // naming how many requests of which task are missing.
  bool merge_only = false;
  bool sharded() const { return world > 1 || merge_only; }
};

struct RunOptions {
  std::string output_dir;   // where results.sqlite lives; created if missing
  std::string store_label;  // the run's label in it ("" for a plain run; compare: the backend)
  bool restart = false;     // discard stored results of a different (or the same) run
  // The output folder's lock (results/run_lock.h) when the caller holds it
  // already (compare, for all its runs); else Run takes it right before it
  // opens the store, and a folder another process writes is refused there.
  std::shared_ptr<RunFolderLock> folder_lock;
  ShardOptions shard;
};

struct RunSummary {
  std::string output_dir;
  std::string backend, backend_version;
  uint64_t requests = 0;         // over all tasks, after de-duplication
  uint64_t reused = 0;           // found in the results store
  uint64_t computed = 0;         // sent to the backend and stored
  bool loaded = false;           // whether the backend had to load the model
  uint64_t failed_requests = 0;  // answered with an error: not stored, retried next run
  uint64_t failed_items = 0;     // items left unscored because of them
  std::string first_failure;
  double seconds = 0;
  // A sharded run: this rank's share (the missing requests that fell to
  // it) and whether this process scored the run (rank 0, merge); the
  // counts above are then the whole launch's.
  uint64_t share = 0, share_computed = 0;
  bool scored = true;
  // The folder's lock: keep it while writing the reports.
  std::shared_ptr<RunFolderLock> folder_lock;
};

// What `compass plan` prints.
struct PlanReport {
  std::string backend, backend_version;
  std::vector<Device> devices;
  std::string dtype;       // the compute dtype the run would use
  int64_t max_length = 0;  // the context window
  PlanResult plan;
};

// Where a run stopped, so the CLI can pick an exit code.
enum class RunStage { kValidate, kPlugin, kPlan, kExecute, kDone };

class Runner {
 public:
  Runner(const PluginRegistry& registry, PluginHost& host) : registry_(registry), host_(host) {}

  StatusOr<RunSummary> Run(const EvalConfig& config, const std::string& backend_name,
                           const RunOptions& options);
  // Validates and plans only: no tokenizer or weights are needed (config.json
  // alone), and tasks are optional; those given are validated with their
  // data. `devices` replaces the config's devices when non-empty
  // (simulation).
  StatusOr<PlanReport> Plan(const EvalConfig& config, const std::string& backend_name,
                            const std::vector<Device>& devices);

  RunStage stage() const { return stage_; }
  // How many processes the last Run's model copy spans (1 unless a
  // sharded launch's backend said more).
  uint32_t processes_per_model() const { return processes_per_model_; }

 private:
  const PluginRegistry& registry_;
  PluginHost& host_;
  RunStage stage_ = RunStage::kValidate;
  uint32_t processes_per_model_ = 1;
};

}  // namespace compass

#endif  // COMPASS_RUNNER_RUNNER_H_
