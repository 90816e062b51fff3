// A whole decoder-only causal LM on one device: embeddings, decoder layers,
// final norm and head, loaded from a checkpoint directory. Backends that
// place or shard the model compose the modules of layers.h themselves; this
// class is the single-device composition and the reference for them.
#ifndef COMPASS_MODELS_CAUSAL_LM_H_
#define COMPASS_MODELS_CAUSAL_LM_H_

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

#include "models/kv_cache.h"
#include "models/layers.h"
#include "models/model_config.h"
#include "models/weights.h"
#include "util/status.h"

namespace compass::model {

enum class Padding { kLeft, kRight };

// A batch of sequences of different lengths in one [B, T] block.
struct PaddedBatch {
  at::Tensor input_ids;  // [B, T] int64, pad_id in padding slots
  at::Tensor positions;  // [B, T] int64: 0.. within each sequence, 0 in padding
  at::Tensor valid;      // [B, T] bool: true for tokens
  std::vector<int64_t> lengths;
  Padding padding = Padding::kRight;
  // Slot of sequence b's last token.
  int64_t LastSlot(size_t b) const;
};

// InvalidArgument for no sequences or an empty one.
StatusOr<PaddedBatch> MakePaddedBatch(const std::vector<std::vector<int64_t>>& sequences,
                                      Padding padding, c10::Device device, int64_t pad_id = 0);

// Immutable after Load; Forward/Generate may run concurrently, each call
// with its own cache. Status-returning methods catch libtorch errors
// (OutOfMemory for allocation failures, Internal otherwise).
class CausalLM {
 public:
  // Loads and validates `dir` (ModelWeights::Open), converting the weights
  // to `placement`'s dtype on its device.
  static StatusOr<CausalLM> Load(const std::string& dir, const Placement& placement);
  static StatusOr<CausalLM> Load(const ModelWeights& weights, const Placement& placement);

  const ModelConfig& config() const { return *config_; }
  const Placement& placement() const { return placement_; }

  // input_ids, positions [B, T] int64; valid [B, T] bool (undefined: every
  // slot is a token; ids in padding slots are ignored); cache null for a
  // single step without one. Returns float32 logits [B, T, vocab] on the
  // model's device (padding slots hold meaningless values). Inputs may be on
  // any device. InvalidArgument for bad shapes or token ids out of range.
  StatusOr<at::Tensor> Forward(const at::Tensor& input_ids, const at::Tensor& positions,
                               const at::Tensor& valid, KvCache* cache) const;
  // The final-norm hidden states [B, T, hidden] in the run dtype, for callers
  // that need logits at a few positions only (then Logits(hidden.index(...))).
  StatusOr<at::Tensor> Hidden(const at::Tensor& input_ids, const at::Tensor& positions,
                              const at::Tensor& valid, KvCache* cache) const;
  // float32 logits [..., vocab] for hidden states [..., hidden].
  at::Tensor Logits(const at::Tensor& hidden) const;

  // A cache for `batch_size` rows of up to `capacity` slots.
  std::unique_ptr<ContiguousKvCache> NewCache(int64_t batch_size, int64_t capacity) const;

  // Greedy decoding: `max_new_tokens` tokens for each prompt (no stop
  // tokens), all prompts in one padded batch with a KV cache.
  StatusOr<std::vector<std::vector<int64_t>>> Generate(
      const std::vector<std::vector<int64_t>>& prompts, int64_t max_new_tokens,
      Padding padding = Padding::kLeft) const;

 private:
  std::shared_ptr<const ModelConfig> config_;
  Placement placement_;
  Embedding embed_;
  RotaryEmbedding rotary_;
  std::vector<DecoderLayer> layers_;
  RMSNorm norm_;
  LMHead head_;
};

}  // namespace compass::model

#endif  // COMPASS_MODELS_CAUSAL_LM_H_
