// Devices a run can use: "cpu", "cpu:N" (virtual CPU devices: real placement
// logic on one physical CPU, so multi-device code runs without GPUs) and
// "cuda:N". Resolution checks that each named device exists here; simulated
// devices describe hardware that is not here, for planning.
#ifndef COMPASS_DEVICES_DEVICES_H_
#define COMPASS_DEVICES_DEVICES_H_

#include <compass/plugin.h>

#include <cstdint>
#include <string>
#include <vector>

#include "util/status.h"

namespace compass {

enum class DeviceType { kCpu, kCuda };

struct Device {
  std::string name;  // canonical: "cpu", "cpu:1", "cuda:0"
  DeviceType type = DeviceType::kCpu;
  int index = -1;     // -1 for plain "cpu"
  std::string model;  // "cpu", "NVIDIA A40", "A40 (simulated)"
  uint64_t memory_bytes = 0;
  bool bf16 = false;
  bool fp16 = false;
  bool simulated = false;
  int node = 0;            // the machine it is in: simulated clusters ("2x8xH100") only
  uint32_t Flags() const;  // compass_device_flags
};

struct CudaDeviceInfo {
  std::string model;
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;
  int cc_major = 0, cc_minor = 0;
};

// Parses a device name; syntax only. Error names the text and the forms
// allowed.
StatusOr<Device> ParseDeviceName(const std::string& text);

// Parses and checks that the devices exist on this machine; duplicates are
// an error. CPU memory is the available RAM split across the CPU devices.
StatusOr<std::vector<Device>> ResolveDevices(const std::vector<std::string>& names);

// Simulated devices for planning, named "cuda:0".. in order:
//   "4xA40", "8xA100-80"  a GPU of the catalogue (gpu_catalogue.h): memory,
//                         bf16/fp16 and model ("NVIDIA A40 (simulated)")
//                         as a probe of the card would give them
//   "4xA40-48GB"          MODEL-SIZE: the memory as written; bf16/fp16 from
//                         the catalogue when it knows MODEL (its family:
//                         "V100-32GB", "A100-80GB"), else both
//   "2x80GiB"             a GPU of that memory, bf16 and fp16
//   "...-nobf16"          after any of them: without bf16
// Comma-separated groups are allowed ("1x80GB,1x40GB"), all in one node
// (node 0). A name without a size that the catalogue does not know is an
// error listing the catalogue.
//   "2x8xH100"            NODESxGPUSx(any form above): a cluster of equal
//                         nodes, alone; devices numbered cuda:0.. across
//                         the nodes in order, each with its `node`
//                         (cuda:8..15 are node 1's). 1 to 1024 nodes and
//                         GPUs per node, at most 1024 GPUs in all.
// Every error is InvalidArgument starting "--devices: " and naming the text.
StatusOr<std::vector<Device>> ParseSimulatedDevices(const std::string& spec);

// Whether `spec` is written in the cluster form NODESxGPUSx... ("2x8xH100",
// "1x8xA100-80GB"), even of one node; syntax only.
bool IsClusterSpec(const std::string& spec);

// The nodes the devices span (the largest `node` + 1; 0 for none).
int NodeCount(const std::vector<Device>& devices);

// CUDA devices visible to this process; empty when built without CUDA or
// when no GPU/driver is present.
std::vector<CudaDeviceInfo> ProbeCudaDevices();
bool BuiltWithCuda();

// Available RAM in bytes (MemAvailable), 0 when unknown.
uint64_t AvailableHostMemory();

}  // namespace compass

#endif  // COMPASS_DEVICES_DEVICES_H_
