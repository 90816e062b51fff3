#include "models/cuda_memory.h"

#ifdef COMPASS_HAVE_CUDA_TORCH
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

namespace compass::model {

StatusOr<CudaMemoryInfo> CudaMemory(c10::Device device) {
  if (!device.is_cuda()) return InvalidArgument(device.str() + " is not a CUDA device");
#ifdef COMPASS_HAVE_CUDA_TORCH
  const c10::cuda::CUDAGuard guard(device);
  c10::cuda::device_synchronize();
  size_t free = 0, total = 0;
  const cudaError_t error = cudaMemGetInfo(&free, &total);
  if (error != cudaSuccess) {
    return Internal("cudaMemGetInfo on " + device.str() + ": " + cudaGetErrorString(error));
  }
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index());
  const auto& bytes =
      stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)];
  CudaMemoryInfo info;
  info.total = total;
  info.free = free;
  info.allocated = static_cast<uint64_t>(bytes.current);
  info.peak_allocated = static_cast<uint64_t>(bytes.peak);
  return info;
#else
  return Unsupported("this build of Compass has no CUDA");
#endif
}

Status ResetCudaPeak(c10::Device device) {
  if (!device.is_cuda()) return InvalidArgument(device.str() + " is not a CUDA device");
#ifdef COMPASS_HAVE_CUDA_TORCH
  c10::cuda::CUDACachingAllocator::resetPeakStats(device.index());
  return Status::Ok();
#else
  return Unsupported("this build of Compass has no CUDA");
#endif
}

Status ReleaseCudaCache() {
#ifdef COMPASS_HAVE_CUDA_TORCH
  c10::cuda::CUDACachingAllocator::emptyCache();
  return Status::Ok();
#else
  return Unsupported("this build of Compass has no CUDA");
#endif
}

}  // namespace compass::model
