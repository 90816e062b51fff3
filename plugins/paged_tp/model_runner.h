// How paged_tp computes one scheduled step: the rows' new tokens over their
// cached blocks, and the logits at the positions the engine asks for. One
// implementation per parallel layout; the engine does not know which.
//
// Not thread-safe: one step at a time.
#ifndef COMPASS_PAGED_TP_MODEL_RUNNER_H_
#define COMPASS_PAGED_TP_MODEL_RUNNER_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "models/causal_lm.h"
#include "models/model_config.h"
#include "models/paged_kv_cache.h"

namespace compass::paged_tp {

// One step: row b computes ids[b, 0, n_b) at positions past[b] + t over the
// blocks of tables[b] (which hold its first past[b] tokens and have room for
// the new ones); slots from n_b on are padding.
struct StepInput {
  at::Tensor ids;        // [B, T] int64, host
  at::Tensor positions;  // [B, T] int64, host
  at::Tensor valid;      // [B, T] bool, host
  std::vector<std::vector<int32_t>> tables;
  std::vector<int64_t> past;
};

class ModelRunner {
 public:
  virtual ~ModelRunner() = default;
  virtual const model::ModelConfig& config() const = 0;
  // float32 logits [N, vocab] (the model's whole vocabulary) at the N
  // (rows[i], cols[i]) slots of the step, on the device of the head.
  // Throws (c10::Error, sdk::Error) on failure, as the modules do.
  virtual at::Tensor Step(const StepInput& input, const std::vector<int64_t>& rows,
                          const std::vector<int64_t>& cols) = 0;
};

// The whole model on one device, its KV blocks in `pool` (kept alive by the
// runner's owner).
class SingleDeviceRunner final : public ModelRunner {
 public:
  SingleDeviceRunner(model::CausalLM model, model::PagedKvPool* pool)
      : model_(std::move(model)), pool_(pool) {}
  const model::ModelConfig& config() const override { return model_.config(); }
  at::Tensor Step(const StepInput& input, const std::vector<int64_t>& rows,
                  const std::vector<int64_t>& cols) override;

 private:
  model::CausalLM model_;
  model::PagedKvPool* pool_;
};

}  // namespace compass::paged_tp

#endif  // COMPASS_PAGED_TP_MODEL_RUNNER_H_
