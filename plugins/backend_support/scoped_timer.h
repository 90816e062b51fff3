// Adds the seconds from construction to destruction to a running total.
#ifndef COMPASS_BACKEND_SUPPORT_SCOPED_TIMER_H_
#define COMPASS_BACKEND_SUPPORT_SCOPED_TIMER_H_

#include <chrono>

namespace compass::backend_support {

class ScopedTimer {
 public:
  explicit ScopedTimer(double& total) : total_(total) {}
  ~ScopedTimer() {
    total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  ScopedTimer(const ScopedTimer&) = delete;
  ScopedTimer& operator=(const ScopedTimer&) = delete;

 private:
  double& total_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace compass::backend_support

#endif  // COMPASS_BACKEND_SUPPORT_SCOPED_TIMER_H_
