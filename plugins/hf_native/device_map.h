// hf_native's placement planner: which device holds which whole decoder
// layer, computed from config.json alone, with the memory each device needs
// (weights + runtime reserve + KV cache + activations for the chosen batch)
// and a clear refusal, with numbers and suggestions, when it cannot fit.
//
// Rules: a decoder layer is never split; the embeddings, the final norm and
// the LM head always sit together on one device (the "head" device, the
// first one), so hidden states cross devices only between layers and come
// back to the head device for the logits.
#ifndef COMPASS_HF_NATIVE_DEVICE_MAP_H_
#define COMPASS_HF_NATIVE_DEVICE_MAP_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "models/model_config.h"
#include "util/status.h"

namespace compass::hf_native {

// backend.batch_size = "auto" on CPU devices (cpu, cpu:N): the batch
// measured fastest there for scoring and generation (bench/hf_native,
// docs/backends/hf_native.md), capped by what fits. On GPUs auto is the
// largest batch that fits.
inline constexpr uint32_t kCpuAutoBatch = 8;

struct PlanDevice {
  std::string name;  // "cpu", "cpu:1", "cuda:0"
  std::string model;
  uint64_t memory_bytes = 0;  // what the device reports (free memory)
  bool bf16 = true;
  bool fp16 = true;
  bool is_cpu() const { return name.rfind("cpu", 0) == 0; }
};

enum class Strategy { kAuto, kBalanced, kBalancedLow0, kSequential, kExplicit };

struct PlanRequest {
  model::ModelConfig config;
  model::DType dtype = model::DType::kF32;  // the host's final choice (run_rules.h)
  std::vector<PlanDevice> devices;          // in order; the first is the head device
  Strategy strategy = Strategy::kAuto;
  std::map<std::string, std::string> explicit_map;  // module -> device (kExplicit)
  std::map<std::string, uint64_t> max_memory;       // device -> cap
  bool offload = false;                             // layers that do not fit go to the host ("cpu")
  uint64_t host_memory = 0;                         // available RAM, for offloaded layers
  uint64_t cuda_reserve = 1ull << 30;               // CUDA context and allocator slack per GPU
  uint32_t batch_size = 0;                          // 0 = auto (kCpuAutoBatch on CPUs)
  int64_t max_length = 2048;  // tokens per sequence planned for: the run's context window
};

struct DeviceUse {
  std::string device;
  uint64_t budget = 0;  // min(memory, max_memory) - reserve
  uint64_t capacity = 0;
  uint64_t reserve = 0;
  uint64_t weights = 0, cache = 0, activations = 0;
  std::vector<int64_t> layers;
  bool head = false;
  uint64_t used() const { return reserve + weights + cache + activations; }
};

struct DevicePlan {
  bool fits = false;
  std::string message;  // refusal with numbers and suggestions, or notes
  model::DType dtype = model::DType::kF32;
  uint32_t batch_size = 1;
  int64_t max_length = 0;
  std::string head_device;
  std::vector<std::string> layer_device;  // per decoder layer
  std::vector<DeviceUse> devices;         // the request's devices, then "cpu" if offloaded
  std::vector<std::string> notes;
};

// Parses the `device_map` option: "auto", "balanced", "balanced_low_0",
// "sequential", or (kExplicit) a table given separately.
StatusOr<Strategy> ParseStrategy(const std::string& text);

// Plans. Errors (InvalidArgument) are for inputs that can never work: an
// explicit map naming an unknown module or device, leaving a layer unplaced,
// or separating the embeddings, norm and head; a max_memory for a device not
// in the list. "Does not fit" is a plan with fits == false and a message.
StatusOr<DevicePlan> PlanDeviceMap(const PlanRequest& request);

// Bytes one sequence of `tokens` needs on a device holding `layers` layers
// (KV cache) and, when `head`, the logits.
uint64_t KvCacheBytes(const model::ModelConfig& config, model::DType dtype, uint64_t tokens,
                      size_t layers);
uint64_t ActivationBytes(const model::ModelConfig& config, model::DType dtype, uint64_t batch,
                         uint64_t tokens, bool head, bool has_layers);

}  // namespace compass::hf_native

#endif  // COMPASS_HF_NATIVE_DEVICE_MAP_H_
