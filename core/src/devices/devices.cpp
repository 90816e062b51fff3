#include "devices/devices.h"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <regex>
#include <set>

#include "devices/gpu_catalogue.h"
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
    d.bf16 = Bf16FromComputeCapability(info.cc_major, info.cc_minor);
    d.fp16 = Fp16FromComputeCapability(info.cc_major, info.cc_minor);
  }
  return devices;
}

namespace {

// One group "COUNTx(GPU | [MODEL-]SIZE)[-nobf16]" appended to `devices`.
Status ParseDeviceGroup(const std::string& group, std::vector<Device>* devices) {
  static const std::regex kGroup(R"(^(\d+)x(.+?)(-nobf16)?$)", std::regex::icase);
  static const std::regex kSize(R"(^[0-9.]+\s*[KMGT]i?B$)", std::regex::icase);
  static const std::regex kModelSize(R"(^([A-Za-z][A-Za-z0-9_. -]*)-([0-9.]+\s*[KMGT]i?B)$)",
                                     std::regex::icase);
  std::smatch m;
  if (!std::regex_match(group, m, kGroup)) {
    return InvalidArgument(
        "--devices: '" + group +
        "' is not a device group; write COUNTxGPU (a GPU of the catalogue: " + GpuCatalogueNames() +
        ") or COUNTx[MODEL-]SIZE, either with -nobf16 to take bf16 away, e.g. 4xA40, "
        "4xA40-48GB, 2x80GiB or 4xT4-16GB-nobf16; or NODESxGPUSxGPU for a cluster, e.g. "
        "2x8xH100");
  }
  const std::string digits = m[1].str();
  int count = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (ec != std::errc() || count <= 0 || count > 1024) {
    return InvalidArgument("--devices: bad count in '" + group + "' (1 to 1024 devices)");
  }
  const std::string body = m[2].str();
  Device proto;
  proto.type = DeviceType::kCuda;
  proto.simulated = true;
  proto.fp16 = true;
  proto.bf16 = true;
  std::smatch ms;
  // A size that does not fit 64 bits is an error naming the group.
  auto size = [&](const std::string& text) -> StatusOr<uint64_t> {
    auto bytes = ParseByteSize(text);
    if (!bytes.ok()) {
      return InvalidArgument("--devices: in '" + group + "', " + bytes.status().message());
    }
    return bytes;
  };
  if (std::regex_match(body, kSize)) {  // "80GiB": a GPU of that size
    COMPASS_ASSIGN_OR_RETURN(proto.memory_bytes, size(body));
    proto.model = "GPU";
  } else if (std::regex_match(body, ms, kModelSize)) {
    // "A40-48GB": the memory as written; bf16 and fp16 from the catalogue
    // when it knows the model, else (a GPU it does not know) both.
    COMPASS_ASSIGN_OR_RETURN(proto.memory_bytes, size(ms[2].str()));
    proto.model = ms[1].str();
    if (auto g = FindGpuFamily(ms[1].str(), proto.memory_bytes)) {
      proto.model = g->model;
      proto.bf16 = g->bf16;
      proto.fp16 = g->fp16;
    }
  } else {  // "A40", "A100-80": everything from the catalogue
    auto g = FindGpu(body);
    if (!g.ok()) {
      return InvalidArgument("--devices: in '" + group + "', " + g.status().message());
    }
    proto.model = (*g)->model;
    proto.memory_bytes = (*g)->memory_bytes;
    proto.bf16 = (*g)->bf16;
    proto.fp16 = (*g)->fp16;
  }
  if (m[3].matched) proto.bf16 = false;
  proto.model += " (simulated)";
  for (int i = 0; i < count; ++i) {
    Device d = proto;
    d.index = static_cast<int>(devices->size());
    d.name = "cuda:" + std::to_string(d.index);
    devices->push_back(d);
  }
  return Status::Ok();
}

// A count of the cluster form; InvalidArgument naming `what` otherwise.
StatusOr<int> ClusterCount(const std::string& digits, const std::string& spec, const char* what) {
  int n = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size() || n < 1 || n > 1024) {
    return InvalidArgument("--devices: '" + spec + "' has " + digits + " " + what +
                           "; write NODESxGPUSxGPU with 1 to 1024 of each, e.g. 2x8xH100");
  }
  return n;
}

}  // namespace

static const std::regex& ClusterForm() {
  // NODESxGPUSx(GPU | [MODEL-]SIZE)[-nobf16]: a cluster of equal nodes.
  static const std::regex kCluster(R"(^\s*(\d+)x(\d+)x(.*)$)", std::regex::icase);
  return kCluster;
}

bool IsClusterSpec(const std::string& spec) {
  return std::regex_match(std::string(Trim(spec)), ClusterForm());
}

StatusOr<std::vector<Device>> ParseSimulatedDevices(const std::string& spec) {
  const std::regex& kCluster = ClusterForm();
  std::smatch c;
  const std::string whole(Trim(spec));
  if (std::regex_match(whole, c, kCluster)) {
    if (whole.find(',') != std::string::npos) {
      return InvalidArgument("--devices: '" + whole +
                             "' mixes a cluster (NODESxGPUSxGPU) with other groups; give a "
                             "cluster of equal nodes alone, e.g. 2x8xH100");
    }
    COMPASS_ASSIGN_OR_RETURN(const int nodes, ClusterCount(c[1].str(), whole, "nodes"));
    COMPASS_ASSIGN_OR_RETURN(const int gpus, ClusterCount(c[2].str(), whole, "GPUs per node"));
    if (static_cast<int64_t>(nodes) * gpus > 1024) {
      return InvalidArgument("--devices: '" + whole + "' is " + std::to_string(nodes) + " x " +
                             std::to_string(gpus) + " GPUs; at most 1024 GPUs in all");
    }
    if (Trim(c[3].str()).empty()) {
      return InvalidArgument("--devices: '" + whole +
                             "' names no GPU after the node and GPU counts; write "
                             "NODESxGPUSxGPU, e.g. 2x8xH100 or 2x8xA100-80GB");
    }
    std::vector<Device> devices;
    const std::string group = c[2].str() + "x" + c[3].str();
    for (int n = 0; n < nodes; ++n) {
      const size_t first = devices.size();
      if (Status s = ParseDeviceGroup(group, &devices); !s.ok()) {
        return InvalidArgument("--devices: in '" + whole + "', " +
                               std::string(s.message().rfind("--devices: ", 0) == 0
                                               ? s.message().substr(11)
                                               : s.message()));
      }
      for (size_t i = first; i < devices.size(); ++i) devices[i].node = n;
    }
    return devices;
  }
  std::vector<Device> devices;
  for (const auto& raw : Split(spec, ',')) {
    COMPASS_RETURN_IF_ERROR(ParseDeviceGroup(std::string(Trim(raw)), &devices));
  }
  return devices;
}

int NodeCount(const std::vector<Device>& devices) {
  int nodes = 0;
  for (const Device& d : devices) nodes = std::max(nodes, d.node + 1);
  return nodes;
}

}  // namespace compass
