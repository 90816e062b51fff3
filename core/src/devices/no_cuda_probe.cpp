// Built when the CUDA toolkit is absent: no CUDA devices.
#include "devices/devices.h"

namespace compass {
bool BuiltWithCuda() {
  return false;
}
std::vector<CudaDeviceInfo> ProbeCudaDevices() {
  return {};
}
}  // namespace compass
