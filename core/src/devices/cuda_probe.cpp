// CUDA device discovery through the CUDA runtime (statically linked, so the
// binary runs on machines without libcudart; with no driver or GPU the probe
// simply finds nothing).
#include <cuda_runtime_api.h>

#include "devices/devices.h"

namespace compass {

bool BuiltWithCuda() {
  return true;
}

std::vector<CudaDeviceInfo> ProbeCudaDevices() {
  std::vector<CudaDeviceInfo> out;
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device/driver" error
    return out;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    CudaDeviceInfo info;
    info.model = prop.name;
    info.total_bytes = prop.totalGlobalMem;
    info.free_bytes = prop.totalGlobalMem;
    info.cc_major = prop.major;
    info.cc_minor = prop.minor;
    size_t free_b = 0, total_b = 0;
    if (cudaSetDevice(i) == cudaSuccess && cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) {
      info.free_bytes = free_b;
    }
    out.push_back(info);
  }
  return out;
}

}  // namespace compass
