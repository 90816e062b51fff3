// The model as hf_native runs it: whole decoder layers on the devices the
// plan chose, embeddings + final norm + LM head together on the head device.
// It is a model::CausalLM built from stages (models/stage.h): one stage per
// run of consecutive layers on the same logical device, the embedding joined
// to the first and the final norm and head to the last when those runs sit
// on the head device, else in stages of their own there. Hidden states move
// between devices only at stage boundaries; each move between different
// logical devices counts as a transfer, also between virtual CPU devices.
//
// Immutable after Load; Hidden may run concurrently with separate caches.
// Errors are thrown (compass::sdk::Error with the model library's status
// code and message) and become statuses at the plugin boundary.
#ifndef COMPASS_HF_NATIVE_PLACED_MODEL_H_
#define COMPASS_HF_NATIVE_PLACED_MODEL_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <vector>

#include "models/causal_lm.h"
#include "models/kv_cache.h"
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
  // Told after each part is loaded (the embedding, each decoder layer, the
  // final norm with the head): bytes loaded so far and the model's total,
  // both in the run dtype. Returns false to stop loading.
  using Progress = std::function<bool(uint64_t done, uint64_t total)>;

  // Loads every module onto its device in `dtype`. `layer_device` has one
  // entry per decoder layer. Throws sdk::Error: COMPASS_CANCELLED when
  // `progress` returned false, the model library's errors otherwise.
  static PlacedModel Load(const model::ModelWeights& weights, c10::ScalarType dtype,
                          const std::string& head_device,
                          const std::vector<std::string>& layer_device,
                          model::AttentionImpl attention = model::AttentionImpl::kSdpa,
                          const Progress& progress = {});

  const model::ModelConfig& config() const { return model_.config(); }
  const LogicalDevice& head() const { return head_; }
  c10::ScalarType dtype() const { return dtype_; }
  // The stages and the forward loop behind this placement.
  const model::CausalLM& model() const { return model_; }

  // Final-norm hidden states [B, T, hidden] on the head device. ids,
  // positions [B, T] int64, valid [B, T] bool (undefined: all tokens).
  at::Tensor Hidden(const at::Tensor& ids, const at::Tensor& positions, const at::Tensor& valid,
                    model::KvCache* cache) const;
  // float32 logits [..., vocab] for hidden states on the head device.
  at::Tensor Logits(const at::Tensor& hidden) const;

  // Hidden-state moves between devices in the forwards so far.
  uint64_t transfers() const { return model_.transfers(); }

 private:
  model::CausalLM model_;
  c10::ScalarType dtype_ = c10::kFloat;
  LogicalDevice head_;
};

}  // namespace compass::hf_native

#endif  // COMPASS_HF_NATIVE_PLACED_MODEL_H_
