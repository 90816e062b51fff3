// A plugin that ends the process itself (exit(), directly or from one of
// its threads) while the host is using it would end the run with the status
// it chose, often 0, and no report: a failed run passing for a good one.
// The exit guard notices: an atexit handler looks whether a call into a
// plugin (or a run, which spans calls into several) is in progress
// (plugin_host/plugin_call.h), and if so prints one error naming the
// plugin, its library and the call, and ends the process with the exit code
// given at install instead. What the results
// store committed is kept, as after any crash.
//
// (_exit and a kill are not seen here; they end the process with a status
// that is not 0 anyway, or that the caller sees as a signal.)
//
// Threading: the handler may run on any thread.
#ifndef COMPASS_PLUGIN_HOST_EXIT_GUARD_H_
#define COMPASS_PLUGIN_HOST_EXIT_GUARD_H_

namespace compass {

// Registers the atexit handler (once; later calls change only the code).
// Call after logging is set up, so that the logger outlives the handler.
void InstallExitGuard(int exit_code);

}  // namespace compass

#endif  // COMPASS_PLUGIN_HOST_EXIT_GUARD_H_
