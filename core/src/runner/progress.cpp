#include "runner/progress.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "util/strings.h"

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

Progress::Progress(std::string task, uint64_t total, uint64_t already_done, Unit unit)
    : task_(std::move(task)),
      total_(total),
      already_done_(already_done),
      unit_(unit),
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
  const uint64_t total = total_ ? total_ : batch_total;
  const std::string count =
      unit_ == Unit::kBytes ? FormatBytes(shown) + "/" + FormatBytes(total)
                            : std::to_string(shown) + "/" + std::to_string(total) + " requests  " +
                                  std::to_string(static_cast<long long>(rate)) + " tok/s";
  if (tty_) {
    constexpr int kWidth = 28;
    const int filled = total ? static_cast<int>(kWidth * std::min(shown, total) / total) : kWidth;
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r%s [%s] %s  ETA %s ", task_.c_str(), bar.c_str(), count.c_str(),
                 Eta(eta).c_str());
    std::fflush(stderr);
    drawn_ = true;
  } else {
    spdlog::info("{}: {}, ETA {}", task_, count, Eta(eta));
  }
}

}  // namespace compass
