// A decoder-only causal LM run as a chain of stages (stage.h) on the
// calling thread: the single-device model is one stage holding embeddings,
// decoder layers, final norm and head; FromStages splits the layers over
// several stages (devices), moving the hidden state between them at stage
// boundaries. This class is the reference composition; hf_native's
// PlacedModel is one built from stages.
#ifndef COMPASS_MODELS_CAUSAL_LM_H_
#define COMPASS_MODELS_CAUSAL_LM_H_

#include <ATen/core/Tensor.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "models/kv_cache.h"
#include "models/layers.h"
#include "models/model_config.h"
#include "models/stage.h"
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
// (OutOfMemory for allocation failures, Internal otherwise). Cheap to copy:
// copies share the weights.
class CausalLM {
 public:
  // Loads and validates `dir` (ModelWeights::Open), converting the weights
  // to `placement`'s dtype on its device: one stage.
  static StatusOr<CausalLM> Load(const std::string& dir, const Placement& placement,
                                 AttentionImpl attention = AttentionImpl::kSdpa);
  static StatusOr<CausalLM> Load(const ModelWeights& weights, const Placement& placement,
                                 AttentionImpl attention = AttentionImpl::kSdpa);
  // Stages run in order: the first with the embedding, the last with the
  // head, their layers covering [0, num_hidden_layers) without gaps or
  // overlaps, all of one model. InvalidArgument naming the problem
  // otherwise.
  static StatusOr<CausalLM> FromStages(std::vector<Stage> stages,
                                       AttentionImpl attention = AttentionImpl::kSdpa);
  // The same model, sharing its weights, with another attention path.
  CausalLM WithAttention(AttentionImpl attention) const;

  const ModelConfig& config() const { return stages_.front().config(); }
  // The first stage's placement: where inputs go (for one stage: the
  // model's). Hidden states and logits come out on the last stage's device.
  const Placement& placement() const { return stages_.front().spec().placement; }
  AttentionImpl attention() const { return attention_; }
  const std::vector<Stage>& stages() const { return stages_; }
  // Hidden-state moves between stages on different logical devices in the
  // forwards so far (shared by copies).
  uint64_t transfers() const { return *transfers_; }

  // input_ids, positions [B, T] int64; valid [B, T] bool (undefined: every
  // slot is a token; ids in padding slots are ignored); cache null for a
  // single step without one. Returns float32 logits [B, T, vocab] on the
  // last stage's device (padding slots hold meaningless values). Inputs may
  // be on any device. InvalidArgument for bad shapes or token ids out of
  // range.
  StatusOr<at::Tensor> Forward(const at::Tensor& input_ids, const at::Tensor& positions,
                               const at::Tensor& valid, KvCache* cache) const;
  // The final-norm hidden states [B, T, hidden] in the run dtype, for callers
  // that need logits at a few positions only (then Logits(hidden.index(...))).
  StatusOr<at::Tensor> Hidden(const at::Tensor& input_ids, const at::Tensor& positions,
                              const at::Tensor& valid, KvCache* cache) const;
  // float32 logits [..., vocab] for hidden states [..., hidden] on the last
  // stage's device.
  at::Tensor Logits(const at::Tensor& hidden) const;

  // A cache for `batch_size` rows of up to `capacity` slots, every layer's
  // buffers allocated on its stage's device (throws c10::OutOfMemoryError
  // when they do not fit).
  std::unique_ptr<ContiguousKvCache> NewCache(int64_t batch_size, int64_t capacity) const;

  // Greedy decoding: `max_new_tokens` tokens for each prompt (no stop
  // tokens), all prompts in one padded batch with a KV cache.
  StatusOr<std::vector<std::vector<int64_t>>> Generate(
      const std::vector<std::vector<int64_t>>& prompts, int64_t max_new_tokens,
      Padding padding = Padding::kLeft) const;

 private:
  std::vector<Stage> stages_;
  AttentionImpl attention_ = AttentionImpl::kSdpa;
  std::shared_ptr<std::atomic<uint64_t>> transfers_ = std::make_shared<std::atomic<uint64_t>>(0);
};

}  // namespace compass::model

#endif  // COMPASS_MODELS_CAUSAL_LM_H_
