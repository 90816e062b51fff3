// Which plugin call the process is in, so that a fatal signal (a plugin's
// segfault or abort, on any of its threads) or a plugin's exit() can be
// reported with the plugin and the call that caused it, rather than as an
// anonymous crash or a run that ended with status 0 and no report
// (cli/crash_handler.h, plugin_host/exit_guard.h).
//
// The host wraps every call into a plugin in a PluginCallScope. Scopes nest
// (the innermost is current) and are used from the host's thread;
// CurrentPluginCall is async-signal-safe and may be read from any thread.
#ifndef COMPASS_PLUGIN_HOST_PLUGIN_CALL_H_
#define COMPASS_PLUGIN_HOST_PLUGIN_CALL_H_

#include <string>

namespace compass {

struct PluginRecord;

class PluginCallScope {
 public:
  // `call` is the entry point, e.g. "execute"; a string literal.
  PluginCallScope(const PluginRecord& record, const char* call);
  // Work that spans several calls, e.g. ("backend 'x' (/path)", "the run").
  PluginCallScope(const std::string& plugin, const char* during);
  ~PluginCallScope();
  PluginCallScope(const PluginCallScope&) = delete;
  PluginCallScope& operator=(const PluginCallScope&) = delete;

 private:
  void Publish();
  const char* previous_;
  int slot_;
};

// "backend 'hf_native' (/path/libcompass_backend_hf_native.so), in
// execute()" (or "..., during the run"), or nullptr outside any plugin call. The text stays valid
// until the scope that set it ends.
const char* CurrentPluginCall();

}  // namespace compass

#endif  // COMPASS_PLUGIN_HOST_PLUGIN_CALL_H_
