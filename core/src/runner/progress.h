// Progress of a long call: a live bar (requests and tokens/s, or bytes for
// loading weights; ETA) when stderr is a terminal, a log line every few
// seconds otherwise.
//
// Threading: Update may be called from backend threads; calls are serialised.
#ifndef COMPASS_RUNNER_PROGRESS_H_
#define COMPASS_RUNNER_PROGRESS_H_

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace compass {

class Progress {
 public:
  enum class Unit { kRequests, kBytes };
  // `already_done` requests were found in the results store. With `total` 0
  // the total is each Update's `batch_total`.
  Progress(std::string task, uint64_t total, uint64_t already_done, Unit unit = Unit::kRequests);
  ~Progress();  // ends the bar's line
  // `done` and `tokens` count this call's requests (or bytes) only.
  void Update(uint64_t done, uint64_t batch_total, uint64_t tokens);

 private:
  std::mutex mu_;
  std::string task_;
  uint64_t total_, already_done_;
  Unit unit_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace compass

#endif  // COMPASS_RUNNER_PROGRESS_H_
