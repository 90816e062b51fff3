#include "cli/crash_handler.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>

#include "plugin_host/plugin_call.h"

namespace compass::cli {
namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
char g_folder[4096];
std::atomic<bool> g_has_folder{false};
std::atomic<bool> g_reported{false};

void Write(const char* s) {
  size_t n = std::strlen(s);
  while (n > 0) {
    const ssize_t w = ::write(STDERR_FILENO, s, n);
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

const char* Name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV (invalid memory access)";
    case SIGBUS: return "SIGBUS (bus error)";
    case SIGFPE: return "SIGFPE (arithmetic error)";
    case SIGILL: return "SIGILL (illegal instruction)";
    case SIGABRT: return "SIGABRT (abort)";
    default: return "a fatal signal";
  }
}

// Only async-signal-safe calls: write(2), reads of atomics and of buffers
// complete before the atomic that publishes them.
void OnFatalSignal(int sig) {
  if (!g_reported.exchange(true)) {
    Write("\n[fatal] compass died of ");
    Write(Name(sig));
    const char* call = CurrentPluginCall();
    if (call != nullptr) {
      Write(" in ");
      Write(call);
      Write(": a fault of that plugin");
    } else {
      Write(" outside any plugin call");
    }
    Write(".\n");
    if (g_has_folder.load()) {
      Write("[fatal] every response stored before it is kept in ");
      Write(g_folder);
      Write("; run the same command again (same --output) to resume.\n");
    }
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

void InstallCrashHandler() {
  static char stack[64 * 1024];
  stack_t ss{};
  ss.ss_sp = stack;
  ss.ss_size = sizeof stack;
  sigaltstack(&ss, nullptr);
  struct sigaction sa {};
  sa.sa_handler = OnFatalSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_ONSTACK;
  for (int sig : kSignals) sigaction(sig, &sa, nullptr);
}

void SetCrashResumeFolder(const std::string& dir) {
  g_has_folder.store(false);
  std::snprintf(g_folder, sizeof g_folder, "%s", dir.c_str());
  g_has_folder.store(!dir.empty());
}

}  // namespace compass::cli
