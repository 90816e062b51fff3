#include "device_memory.h"

#include <set>

#include "answers.h"
#include "models/cuda_memory.h"

namespace compass::backend_support {
namespace {

std::set<std::string> CudaDevices(const std::vector<std::string>& devices) {
  std::set<std::string> out;
  for (const std::string& d : devices) {
    if (d.rfind("cuda", 0) == 0) out.insert(d);
  }
  return out;
}

}  // namespace

void ResetDevicePeaks(const std::vector<std::string>& devices) {
  for (const std::string& d : CudaDevices(devices)) model::ResetCudaPeak(TorchDevice(d));
}

void DevicePeakFigures(const std::vector<std::string>& devices, const sdk::FigureSink& sink) {
  for (const std::string& d : CudaDevices(devices)) {
    const auto memory = model::CudaMemory(TorchDevice(d));
    if (!memory.ok()) continue;
    sink.figure("peak_memory", static_cast<double>(memory->peak_allocated), COMPASS_UNIT_BYTES, d);
  }
}

}  // namespace compass::backend_support
