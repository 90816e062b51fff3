// Which plugin call the process is in, so that a fatal signal (a plugin's
// segfault or abort, on any of its threads) can be reported with the plugin
// and the call that caused it, rather than as an anonymous crash.
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
  ~PluginCallScope();
  PluginCallScope(const PluginCallScope&) = delete;
  PluginCallScope& operator=(const PluginCallScope&) = delete;

 private:
  const char* previous_;
  int slot_;
};

// "backend 'hf_native' (/path/libcompass_backend_hf_native.so), in
// execute()", or nullptr outside any plugin call. The text stays valid
// until the scope that set it ends.
const char* CurrentPluginCall();

}  // namespace compass

#endif  // COMPASS_PLUGIN_HOST_PLUGIN_CALL_H_
