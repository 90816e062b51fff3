#include "runner/host_measures.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <string>

namespace compass {

double NearestRankPercentile(std::vector<double> values, double q) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(values.size()));
  const size_t index = rank < 1 ? 0 : static_cast<size_t>(rank) - 1;
  return values[std::min(index, values.size() - 1)];
}

bool ResetPeakHostMemory() {
  std::ofstream clear("/proc/self/clear_refs");
  if (!clear) return false;
  clear << "5";
  return static_cast<bool>(clear.flush());
}

uint64_t PeakHostMemory() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) != 0) continue;
    // "VmHWM:    123 kB"; anything else reads as unknown (0), never throws.
    const size_t digits = line.find_first_of("0123456789", 6);
    uint64_t kb = 0;
    if (digits == std::string::npos ||
        std::from_chars(line.data() + digits, line.data() + line.size(), kb).ec != std::errc()) {
      return 0;
    }
    return kb * 1024;
  }
  return 0;
}

}  // namespace compass
