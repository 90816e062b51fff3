// The last words of a process that dies of a fatal signal (SIGSEGV, SIGBUS,
// SIGFPE, SIGILL, SIGABRT), usually a plugin's fault on one of its threads:
// which plugin and which of its calls was running (plugin_host/plugin_call.h),
// that every stored response is kept, and how to resume. The signal is then
// re-raised with its default action, so the exit status still says how the
// process died.
#ifndef COMPASS_CLI_CRASH_HANDLER_H_
#define COMPASS_CLI_CRASH_HANDLER_H_

#include <string>

namespace compass::cli {

// Installs the handlers (on an alternate stack, so a stack overflow is
// reported too). Call once, early in main.
void InstallCrashHandler();

// The folder whose results survive a crash, named in the message; "" when
// no run is in progress.
void SetCrashResumeFolder(const std::string& dir);

}  // namespace compass::cli

#endif  // COMPASS_CLI_CRASH_HANDLER_H_
