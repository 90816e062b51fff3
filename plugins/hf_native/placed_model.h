// The model as hf_native runs it: whole decoder layers on the devices the
// plan chose, embeddings + final norm + LM head together on the head device.
// Hidden states move between devices only at layer boundaries, and every
// module checks that its input is on its own device, so a "tensors on
// different devices" mistake is caught here with the module's name even on
// virtual CPU devices.
//
// Immutable after Load; Forward may run concurrently with separate caches.
// Errors are thrown (compass::sdk::Error or c10::Error) and become statuses
// at the plugin boundary.
#ifndef COMPASS_HF_NATIVE_PLACED_MODEL_H_
#define COMPASS_HF_NATIVE_PLACED_MODEL_H_

#include <ATen/core/Tensor.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "models/kv_cache.h"
#include "models/layers.h"
#include "models/model_config.h"
#include "models/weights.h"

namespace compass::hf_native {

// A logical device ("cpu:1", "cuda:0") and the libtorch device behind it.
struct LogicalDevice {
  std::string name;
  c10::Device device = c10::Device(c10::kCPU);
};

LogicalDevice ToLogical(const std::string& name);  // "cpu", "cpu:N" -> CPU, "cuda:N" -> CUDA N

class PlacedModel {
 public:
  // Loads every module onto its device in `dtype`. `layer_device` has one
  // entry per decoder layer.
  static PlacedModel Load(const model::ModelWeights& weights, c10::ScalarType dtype,
                          const std::string& head_device,
                          const std::vector<std::string>& layer_device);

  const model::ModelConfig& config() const { return *config_; }
  const LogicalDevice& head() const { return head_; }
  c10::ScalarType dtype() const { return dtype_; }

  // Final-norm hidden states [B, T, hidden] on the head device. ids,
  // positions [B, T] int64, valid [B, T] bool (undefined: all tokens).
  at::Tensor Hidden(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid,
                    model::KvCache* cache) const;
  // float32 logits [..., vocab] for hidden states on the head device.
  at::Tensor Logits(const at::Tensor& hidden) const;

  // Hidden-state moves between devices in the forwards so far.
  uint64_t transfers() const { return *transfers_; }

 private:
  struct Layer {
    LogicalDevice device;
    model::DecoderLayer layer;
  };
  std::shared_ptr<const model::ModelConfig> config_;
  c10::ScalarType dtype_ = c10::kFloat;
  LogicalDevice head_;
  model::Embedding embed_;
  model::RMSNorm norm_;
  model::LMHead lm_head_;
  std::vector<Layer> layers_;
  std::map<std::string, model::RotaryEmbedding> rotary_;  // per logical device
  std::shared_ptr<std::atomic<uint64_t>> transfers_ = std::make_shared<std::atomic<uint64_t>>(0);
};

}  // namespace compass::hf_native

#endif  // COMPASS_HF_NATIVE_PLACED_MODEL_H_
