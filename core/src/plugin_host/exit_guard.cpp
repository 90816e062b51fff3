#include "plugin_host/exit_guard.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "plugin_host/plugin_call.h"

namespace compass {
namespace {

std::atomic<int> g_exit_code{1};
std::atomic<bool> g_installed{false};

extern "C" void OnExit() {
  const char* call = CurrentPluginCall();
  if (call == nullptr) return;  // a normal end
  const std::string message =
      std::string(call) +
      ": the plugin ended the process (exit) before the run could finish: the run failed. This "
      "is a bug in the plugin; every answer stored before is kept, and running the same command "
      "again resumes";
  try {
    spdlog::error("{}", message);
    if (auto logger = spdlog::default_logger()) logger->flush();
  } catch (...) {
    std::fprintf(stderr, "[error] %s\n", message.c_str());
  }
  std::fflush(stderr);
  ::_exit(g_exit_code.load());
}

}  // namespace

void InstallExitGuard(int exit_code) {
  g_exit_code.store(exit_code);
  if (!g_installed.exchange(true)) std::atexit(&OnExit);
}

}  // namespace compass
