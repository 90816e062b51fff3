// Memory of a CUDA device as libtorch's caching allocator and the CUDA
// runtime see it: what a backend measures at start-up (after loading its
// weights, around a worst-case step) to size its KV cache from facts rather
// than estimates.
//
// Thread-safe (the allocator's statistics are per device). Without CUDA in
// this build every function returns Unsupported.
#ifndef COMPASS_MODELS_CUDA_MEMORY_H_
#define COMPASS_MODELS_CUDA_MEMORY_H_

#include <c10/core/Device.h>

#include <cstdint>

#include "util/status.h"

namespace compass::model {

struct CudaMemoryInfo {
  uint64_t total = 0;           // the device's memory
  uint64_t free = 0;            // free for any process (cudaMemGetInfo)
  uint64_t allocated = 0;       // held by tensors of this process now
  uint64_t peak_allocated = 0;  // the most held since the last ResetCudaPeak
};

// Waits for the device's work, then reads its memory. InvalidArgument for a
// device that is not CUDA.
StatusOr<CudaMemoryInfo> CudaMemory(c10::Device device);
// Starts a new peak_allocated window on the device.
Status ResetCudaPeak(c10::Device device);
// Returns the allocator's cached, unused memory to the device (after a
// profiling step, before a large allocation).
Status ReleaseCudaCache();

}  // namespace compass::model

#endif  // COMPASS_MODELS_CUDA_MEMORY_H_
