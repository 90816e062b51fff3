// Peak memory per GPU, as every in-tree backend reports it: the window opens
// when loading starts and the figure `peak_memory` (scope "cuda:N") is the
// most libtorch's allocator held on that device since. CPU devices are
// skipped: their memory is the host's, which the host measures itself
// (`peak_memory`, scope "host").
//
// Thread-safe; silent where CUDA is absent from the build.
#ifndef COMPASS_BACKEND_SUPPORT_DEVICE_MEMORY_H_
#define COMPASS_BACKEND_SUPPORT_DEVICE_MEMORY_H_

#include <compass/plugin.hpp>

#include <string>
#include <vector>

namespace compass::backend_support {

// Starts a new peak window on each CUDA device among `devices` (names such
// as "cuda:1"; repeats and CPU devices are ignored).
void ResetDevicePeaks(const std::vector<std::string>& devices);

// One `peak_memory` figure per CUDA device among `devices`.
void DevicePeakFigures(const std::vector<std::string>& devices, const sdk::FigureSink& sink);

}  // namespace compass::backend_support

#endif  // COMPASS_BACKEND_SUPPORT_DEVICE_MEMORY_H_
