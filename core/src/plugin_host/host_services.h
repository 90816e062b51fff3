// The host side of the plugin ABI: status objects, and the services table
// (logging, progress, cancellation) handed to each plugin.
//
// Threading: every service is thread-safe. A PluginHost must outlive every
// plugin object created with one of its tables.
#ifndef COMPASS_PLUGIN_HOST_HOST_SERVICES_H_
#define COMPASS_PLUGIN_HOST_HOST_SERVICES_H_

#include <compass/plugin.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>

#include "util/status.h"

namespace compass {

// Converts a Status into a new host-allocated ABI status (NULL when OK).
compass_status* ToAbiStatus(const Status& status);
// Takes ownership of `status` (may be NULL) and frees it.
Status FromAbiStatus(compass_status* status);

class PluginHost {
 public:
  using ProgressFn = std::function<void(uint64_t done, uint64_t total, uint64_t tokens)>;

  PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // A services table whose log lines are prefixed with `plugin_name`. The
  // table stays valid for the lifetime of this PluginHost.
  const compass_host_api* ServicesFor(const std::string& plugin_name);

  void SetProgress(ProgressFn fn);

  // Asks plugins to stop; async-signal-safe (only sets an atomic flag).
  void RequestCancel() { cancelled_.store(true); }
  bool cancelled() const { return cancelled_.load(); }

 private:
  struct Context {
    PluginHost* host;
    std::string name;
    compass_host_api api;
  };
  static void Log(void* ctx, int32_t level, compass_str message);
  static void Progress(void* ctx, uint64_t done, uint64_t total, uint64_t tokens);
  static int32_t IsCancelled(void* ctx);

  std::mutex mu_;
  std::list<Context> contexts_;  // stable addresses
  ProgressFn progress_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace compass

#endif  // COMPASS_PLUGIN_HOST_HOST_SERVICES_H_
