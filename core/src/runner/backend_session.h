// A backend instance together with everything its create-time config points
// to (device specs, the token byte table), kept alive as long as the backend:
// compass_backend_config promises its pointers until destroy.
#ifndef COMPASS_RUNNER_BACKEND_SESSION_H_
#define COMPASS_RUNNER_BACKEND_SESSION_H_

#include <compass/plugin.h>

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "devices/devices.h"
#include "plugin_host/host_services.h"
#include "plugin_host/plugin_instances.h"
#include "plugin_host/plugin_registry.h"
#include "tokenizer/tokenizer.h"
#include "util/status.h"

namespace compass {

// What the host decided for every backend of a run (run_rules.h).
struct BackendRules {
  std::string dtype;       // final compute dtype
  int64_t max_length = 0;  // context window
};

// The launch a backend's process is part of (compass_backend_config's ABI
// 2.2 fields); the default is a process on its own.
struct BackendLaunch {
  uint32_t rank = 0, world = 1, local_rank = 0;
  std::string rendezvous;  // "tcp://HOST:PORT" or "file:///PATH"
  std::string launch_id;
  double timeout_seconds = 600;
};

class BackendSession {
 public:
  // `tokenizer` may be null (planning): then the vocabulary, special ids and
  // token bytes are left empty.
  static StatusOr<std::unique_ptr<BackendSession>> Create(
      PluginHost& host, const PluginRecord& record, const EvalConfig& config,
      const std::vector<Device>& devices, const std::string& options_json,
      const BackendRules& rules, const Tokenizer* tokenizer, const BackendLaunch& launch = {});

  BackendInstance& backend() { return *backend_; }
  const compass_backend_config& config() const { return config_; }

  // Plans when the backend can; OutOfMemory with the plan's message when it
  // does not fit. Returns the plan's note ("" when none or no plan).
  StatusOr<std::string> CheckPlan();
  // Loads the weights with a progress bar in bytes; Ctrl-C cancels.
  Status Load(PluginHost& host);

 private:
  BackendSession() = default;
  std::string model_path_, dtype_, options_json_, rendezvous_, launch_id_;
  std::vector<compass_device_spec> specs_;
  std::vector<std::string> token_bytes_;
  std::vector<compass_str> token_views_;
  compass_backend_config config_{};
  std::unique_ptr<BackendInstance> backend_;  // last: destroyed first
};

}  // namespace compass

#endif  // COMPASS_RUNNER_BACKEND_SESSION_H_
