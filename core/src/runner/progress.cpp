#include "runner/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>

namespace compass {
namespace {

std::string Eta(double seconds) {
  if (!(seconds >= 0) || seconds > 1e7) return "--:--";
  const auto s = static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%02ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

}  // namespace

Progress::Progress(std::string task, uint64_t total, uint64_t already_done)
    : task_(std::move(task)),
      total_(total),
      already_done_(already_done),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (drawn_) std::fputc('\n', stderr);
}

void Progress::Update(uint64_t done, uint64_t batch_total, uint64_t tokens) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto now = std::chrono::steady_clock::now();
  const bool last = done >= batch_total;
  if (!last && now - last_ < std::chrono::milliseconds(tty_ ? 100 : 5000)) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(tokens) / elapsed : 0;
  const double eta = done > 0 ? elapsed * static_cast<double>(batch_total - done) / done : -1;
  const uint64_t shown = already_done_ + done;
  if (tty_) {
    constexpr int kWidth = 28;
    const int filled = total_ ? static_cast<int>(kWidth * shown / total_) : kWidth;
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r%s [%s] %llu/%llu requests  %.0f tok/s  ETA %s ", task_.c_str(),
                 bar.c_str(), static_cast<unsigned long long>(shown),
                 static_cast<unsigned long long>(total_), rate, Eta(eta).c_str());
    std::fflush(stderr);
    drawn_ = true;
  } else {
    spdlog::info("{}: {}/{} requests, {:.0f} tokens/s, ETA {}", task_, shown, total_, rate,
                 Eta(eta));
  }
}

}  // namespace compass
