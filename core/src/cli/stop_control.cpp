#include "cli/stop_control.h"

#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>

#include "cli/commands.h"

namespace compass::cli {
namespace {

std::atomic<PluginHost*> g_host{nullptr};
std::atomic<bool> g_interrupted{false};
std::atomic<int> g_signals{0};
std::atomic<double> g_grace_seconds{kDefaultStopGraceSeconds};
int g_wake[2] = {-1, -1};  // the handler writes a byte, the watchdog reads it
std::mutex g_what_mu;
std::string g_what = "the backend";
// RequestStop: why, and the exit code when the grace period runs out.
std::atomic<bool> g_stop_requested{false};
std::atomic<int> g_stop_code{kExitInterrupted};
std::string g_stop_why;  // under g_what_mu

extern "C" void OnStopSignal(int) {
  const int saved_errno = errno;
  g_interrupted.store(true);
  g_signals.fetch_add(1);
  if (PluginHost* host = g_host.load()) host->RequestCancel();
  const char byte = 1;
  [[maybe_unused]] const ssize_t n = ::write(g_wake[1], &byte, 1);
  errno = saved_errno;
}

std::string What() {
  std::lock_guard<std::mutex> lock(g_what_mu);
  return g_what;
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", s);
  return buf;
}

[[noreturn]] void EndNow(const std::string& why, int code = kExitInterrupted) {
  spdlog::error(
      "{}: ending the run now without waiting for {}. Every answer stored so far is kept; run the "
      "same command again to resume",
      why, What());
  if (auto logger = spdlog::default_logger()) logger->flush();
  std::fflush(stderr);
  ::_exit(code);
}

std::string StopWhy() {
  std::lock_guard<std::mutex> lock(g_what_mu);
  return g_stop_why;
}

// Waits for the first signal, then for a second one or the end of the
// grace period; the process ends normally before either in a clean stop.
void Watchdog() {
  using Clock = std::chrono::steady_clock;
  bool first_seen = false;
  Clock::time_point deadline{};
  while (true) {
    int timeout_ms = -1;
    if (first_seen) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      timeout_ms = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    pollfd p{g_wake[0], POLLIN, 0};
    const int rc = ::poll(&p, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc > 0) {
      char buf[16];
      [[maybe_unused]] const ssize_t n = ::read(g_wake[0], buf, sizeof buf);
    }
    const int signals = g_signals.load();
    if (signals >= 2) EndNow("interrupted a second time");
    if (signals == 0 && g_stop_requested.load() && !first_seen) {
      first_seen = true;
      deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(g_grace_seconds.load()));
      continue;
    }
    if (signals == 0 && first_seen && Clock::now() >= deadline) {
      EndNow(StopWhy() + "; " + What() + " did not stop within " + Seconds(g_grace_seconds.load()) +
                 " s (--stop-grace)",
             g_stop_code.load());
    }
    if (signals == 1 && !first_seen) {
      first_seen = true;
      const double grace = g_grace_seconds.load();
      if (grace <= 0) EndNow("interrupted (--stop-grace 0)");
      spdlog::warn("interrupted: asking {} to stop; interrupt again to end the run at once",
                   What());
      deadline = Clock::now() +
                 std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(grace));
      continue;
    }
    if (first_seen && Clock::now() >= deadline) {
      EndNow(What() + " did not stop within " + Seconds(g_grace_seconds.load()) +
             " s of the interrupt (--stop-grace)");
    }
  }
}

}  // namespace

void InstallStopControl(double grace_seconds) {
  g_grace_seconds.store(grace_seconds);
  static std::once_flag once;
  std::call_once(once, [] {
    if (::pipe2(g_wake, O_CLOEXEC | O_NONBLOCK) != 0) {
      spdlog::warn("cannot watch for a second Ctrl-C; the first one still stops the backend");
    } else {
      std::thread(Watchdog).detach();
    }
    struct sigaction sa {};
    sa.sa_handler = OnStopSignal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
  });
}

void SetStopTarget(PluginHost* host, const std::string& what) {
  {
    std::lock_guard<std::mutex> lock(g_what_mu);
    g_what = host == nullptr ? "the backend" : what;
  }
  g_host.store(host);
  // Ctrl-C before the host existed still stops its plugins.
  if (host != nullptr && (g_interrupted.load() || g_stop_requested.load())) host->RequestCancel();
}

void RequestStop(const std::string& why, int exit_code) {
  {
    std::lock_guard<std::mutex> lock(g_what_mu);
    if (g_stop_requested.load()) return;
    g_stop_why = why;
  }
  g_stop_code.store(exit_code);
  g_stop_requested.store(true);
  spdlog::error("{}", why);
  if (PluginHost* host = g_host.load()) host->RequestCancel();
  const char byte = 1;
  if (g_wake[1] >= 0) {
    [[maybe_unused]] const ssize_t n = ::write(g_wake[1], &byte, 1);
  }
}

bool Interrupted() {
  return g_interrupted.load();
}

}  // namespace compass::cli
