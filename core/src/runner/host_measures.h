// What the host measures around a backend's work, whatever the backend
// reports itself: when each answer arrived, and the process's peak memory.
#ifndef COMPASS_RUNNER_HOST_MEASURES_H_
#define COMPASS_RUNNER_HOST_MEASURES_H_

#include <cstdint>
#include <vector>

namespace compass {

// The q-quantile (0 <= q <= 1) of `values` by nearest rank (the smallest
// value with at least q of them at or below it); NaN when empty.
double NearestRankPercentile(std::vector<double> values, double q);

// Starts a new peak of this process's resident memory (Linux: VmHWM is
// reset through /proc/self/clear_refs). False where that is not possible.
bool ResetPeakHostMemory();
// The process's peak resident memory in bytes since the last reset (VmHWM);
// 0 when unknown.
uint64_t PeakHostMemory();

}  // namespace compass

#endif  // COMPASS_RUNNER_HOST_MEASURES_H_
