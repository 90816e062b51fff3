// A built-in table of common NVIDIA GPUs, so that `compass plan --devices
// 4xA40` needs no memory size: each entry's memory, compute capability and
// bf16/fp16 support, as a CUDA probe of the real card would give them
// (ResolveDevices: bf16 from compute capability 8.0, fp16 from 5.3).
//
// Memory is the marketed size read as decimal gigabytes (48 GB = 48e9
// bytes), exactly as `--devices 4xA40-48GB` reads it, so `4xA40` and
// `4xA40-48GB` plan the same. Every card reports at least that much in
// total (an A40 46068 MiB = 48.3e9, an A100-80GB 81920 MiB = 85.9e9, a T4
// 15360 MiB = 16.1e9), so the figure errs on the safe side; the backends'
// CUDA reserve stands for the context and the allocator.
#ifndef COMPASS_DEVICES_GPU_CATALOGUE_H_
#define COMPASS_DEVICES_GPU_CATALOGUE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace compass {

struct GpuSpec {
  std::string name;   // canonical, as written in --devices: "A40", "A100-80GB"
  std::string base;   // the family without the memory variant: "A100"
  std::string model;  // what a probe of the card reports: "NVIDIA A40"
  uint64_t memory_bytes = 0;
  int cc_major = 0, cc_minor = 0;
  bool bf16 = false;  // compute capability >= 8.0 (Ampere and later)
  bool fp16 = false;  // compute capability >= 5.3
};

// The devices' rules from compute capability, shared with ResolveDevices.
bool Bf16FromComputeCapability(int major, int minor);
bool Fp16FromComputeCapability(int major, int minor);

// Every entry, oldest architecture first.
const std::vector<GpuSpec>& GpuCatalogue();

// "P4, P40, P100, T4, V100-16GB, ..." for messages.
std::string GpuCatalogueNames();

// Looks a name up, case-insensitively, ignoring '-', '_' and spaces:
// "a40", "A100-80GB", "a100-80", "V100_32GB", "RTX 4090". A family with
// several memory variants ("A100", "V100") is ambiguous without the size:
// InvalidArgument naming the variants. An unknown name: NotFound listing
// the catalogue.
StatusOr<const GpuSpec*> FindGpu(std::string_view name);

// A family name ("A100", "V100", "A40") with a memory size given apart
// (the MODEL-SIZE form "A100-80GB"): the variant of that size when there is
// one, else the family's first entry (the variants share compute
// capability); nullopt when no entry has that name or family.
std::optional<GpuSpec> FindGpuFamily(std::string_view name, uint64_t memory_bytes);

}  // namespace compass

#endif  // COMPASS_DEVICES_GPU_CATALOGUE_H_
