// One backend's run as the run and compare commands drive it: Ctrl-C wired
// to the backend, errors logged.
#ifndef COMPASS_CLI_RUN_BACKEND_H_
#define COMPASS_CLI_RUN_BACKEND_H_

#include <memory>
#include <string>

#include "config/config.h"
#include "plugin_host/plugin_registry.h"
#include "runner/runner.h"

namespace compass::cli {

struct BackendOutcome {
  bool finished = false;  // the run completed (its store holds every answer it could get)
  bool scored = true;     // false for a rank > 0 of a sharded launch (rank 0 reports)
  std::string error;      // why it failed, or which requests failed
  bool model_spans_processes = false;  // the backend's model copy spans processes
  // The output folder's lock when it finished: held while its reports are
  // written.
  std::shared_ptr<RunFolderLock> folder_lock;
};

// Runs `backend` on `config` into options.output_dir; returns the exit code
// (kExitOk, or the code for where it stopped).
int RunBackend(const PluginRegistry& registry, const EvalConfig& config, const std::string& backend,
               const compass::RunOptions& options, BackendOutcome* outcome);

// runs/<name>-<time> under the working directory.
std::string TimestampedDir(const std::string& name);

}  // namespace compass::cli

#endif  // COMPASS_CLI_RUN_BACKEND_H_
