// Ctrl-C and SIGTERM while compass runs. The first asks the backend to stop
// (PluginHost::RequestCancel): it returns, what finished is kept, and the
// command exits 130. A backend that ignores the request is not waited for
// forever: a second signal, or the grace period after the first one
// (--stop-grace, kDefaultStopGraceSeconds), ends the process at once with exit code
// 130 after one line saying why, the log flushed. Nothing stored is lost
// (the results store commits each answer as it arrives), and the same
// command resumes.
//
// Threading: the handlers only set flags and wake a watchdog thread, which
// does the logging and ends the process; SetStopTarget from the main thread.
#ifndef COMPASS_CLI_STOP_CONTROL_H_
#define COMPASS_CLI_STOP_CONTROL_H_

#include <string>

#include "plugin_host/host_services.h"

namespace compass::cli {

// Installs the SIGINT and SIGTERM handlers and starts the watchdog (once
// per process; a later call only changes the grace period).
void InstallStopControl(double grace_seconds);

// The host whose plugins are asked to stop and what they are, for the
// message ("backend 'slow'"); nullptr when no plugin is running.
void SetStopTarget(PluginHost* host, const std::string& what);

// Stops the run from inside the process (a sharded launch whose other
// process died, shard/coordinator.h), from any thread: the backend is asked
// to stop as by Ctrl-C, and a backend that does not stop within the grace
// period is not waited for: the process ends with `exit_code` after
// logging `why`.
void RequestStop(const std::string& why, int exit_code);

// Whether Ctrl-C or SIGTERM was received.
bool Interrupted();

}  // namespace compass::cli

#endif  // COMPASS_CLI_STOP_CONTROL_H_
