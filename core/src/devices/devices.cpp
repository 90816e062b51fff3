#include "devices/devices.h"

#include <charconv>
#include <fstream>
#include <regex>
#include <set>

#include "util/strings.h"

namespace compass {

uint32_t Device::Flags() const {
  uint32_t f = 0;
  if (bf16) f |= COMPASS_DEVICE_BF16;
  if (fp16) f |= COMPASS_DEVICE_FP16;
  if (simulated) f |= COMPASS_DEVICE_SIMULATED;
  return f;
}

static constexpr char kDeviceForms[] = "use \"cpu\", \"cpu:N\" (virtual CPU device) or \"cuda:N\"";

StatusOr<Device> ParseDeviceName(const std::string& text) {
  Device d;
  if (text == "cpu") {
    d.name = "cpu";
    return d;
  }
  const auto colon = text.find(':');
  const std::string kind = text.substr(0, colon);
  if (colon == std::string::npos || (kind != "cpu" && kind != "cuda")) {
    return InvalidArgument("'" + text + "' is not a device; " + kDeviceForms);
  }
  const std::string digits = text.substr(colon + 1);
  int index = -1;
  const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
  if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() || index < 0) {
    return InvalidArgument("'" + text + "' is not a device: '" + digits +
                           "' is not a device index; " + kDeviceForms);
  }
  d.type = kind == "cuda" ? DeviceType::kCuda : DeviceType::kCpu;
  d.index = index;
  d.name = kind + ":" + std::to_string(index);
  return d;
}

uint64_t AvailableHostMemory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (meminfo >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return 0;
}

StatusOr<std::vector<Device>> ResolveDevices(const std::vector<std::string>& names) {
  if (names.empty())
    return InvalidArgument("backend.devices is empty; " + std::string(kDeviceForms));
  std::vector<Device> devices;
  std::set<std::string> seen;
  size_t num_cpu = 0;
  for (const auto& name : names) {
    COMPASS_ASSIGN_OR_RETURN(Device d, ParseDeviceName(name));
    if (!seen.insert(d.name).second) {
      return InvalidArgument("device '" + d.name + "' is listed twice in backend.devices");
    }
    if (d.type == DeviceType::kCpu) ++num_cpu;
    devices.push_back(d);
  }
  if (seen.count("cpu") && num_cpu > 1) {
    return InvalidArgument(
        "backend.devices mixes \"cpu\" with virtual CPU devices \"cpu:N\"; use one or the other");
  }
  std::vector<CudaDeviceInfo> cuda;
  bool probed = false;
  const uint64_t host_memory = AvailableHostMemory();
  for (auto& d : devices) {
    if (d.type == DeviceType::kCpu) {
      d.model = "cpu";
      d.memory_bytes = num_cpu ? host_memory / num_cpu : host_memory;
      d.bf16 = d.fp16 = true;
      continue;
    }
    if (!probed) {
      cuda = ProbeCudaDevices();
      probed = true;
    }
    if (static_cast<size_t>(d.index) >= cuda.size()) {
      std::string have = cuda.empty()
                             ? std::string(BuiltWithCuda() ? "no CUDA device is visible here"
                                                           : "this compass was built without CUDA")
                             : std::to_string(cuda.size()) +
                                   " CUDA device(s) visible "
                                   "(cuda:0..cuda:" +
                                   std::to_string(cuda.size() - 1) + ")";
      return NotFound("device '" + d.name + "' does not exist: " + have +
                      "; check backend.devices and CUDA_VISIBLE_DEVICES, or plan without "
                      "hardware with `compass plan --devices 4xA40-48GB`");
    }
    const auto& info = cuda[d.index];
    d.model = info.model;
    d.memory_bytes = info.free_bytes;
    d.bf16 = info.cc_major >= 8;
    d.fp16 = info.cc_major > 5 || (info.cc_major == 5 && info.cc_minor >= 3);
  }
  return devices;
}

StatusOr<std::vector<Device>> ParseSimulatedDevices(const std::string& spec) {
  // COUNTx[MODEL-]SIZE[-nobf16]
  static const std::regex kGroup(
      R"(^(\d+)x(?:([A-Za-z][A-Za-z0-9_.]*)-)?([0-9.]+\s*[KMGT]i?B)(-nobf16)?$)",
      std::regex::icase);
  std::vector<Device> devices;
  for (const auto& raw : Split(spec, ',')) {
    const std::string group(Trim(raw));
    std::smatch m;
    if (!std::regex_match(group, m, kGroup)) {
      return InvalidArgument("--devices: '" + group +
                             "' is not a device group; write COUNTx[MODEL-]SIZE[-nobf16], e.g. "
                             "4xA40-48GB, 2x80GiB or 4xT4-16GB-nobf16");
    }
    const int count = std::stoi(m[1]);
    COMPASS_ASSIGN_OR_RETURN(uint64_t bytes, ParseByteSize(m[3].str()));
    if (count <= 0 || count > 1024)
      return InvalidArgument("--devices: bad count in '" + group + "'");
    for (int i = 0; i < count; ++i) {
      Device d;
      d.type = DeviceType::kCuda;
      d.index = static_cast<int>(devices.size());
      d.name = "cuda:" + std::to_string(d.index);
      d.model = (m[2].matched ? m[2].str() : std::string("GPU")) + " (simulated)";
      d.memory_bytes = bytes;
      d.bf16 = !m[4].matched;
      d.fp16 = true;
      d.simulated = true;
      devices.push_back(d);
    }
  }
  return devices;
}

}  // namespace compass
