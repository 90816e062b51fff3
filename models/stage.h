// A stage of a decoder-only model: decoder layers [begin, end) on one
// device, with the token embedding in front when it starts the model and
// the final norm and LM head behind when it ends it. Every composition runs
// its layers through Stage::Forward: the single-device CausalLM is one stage
// holding everything, hf_native's PlacedModel a chain of stages (one per run
// of layers on a device, embedding and head on the head device), a pipeline
// one stage per worker.
//
// A Step is one forward step as the stages running it share it: the checked
// inputs, the attention bookkeeping from the KV cache, cos/sin per device.
//
// Stages are immutable after Load: Forward may run from several threads at
// once, each with its own Step and cache. Forward throws c10::Error on
// misuse (wrong device, shape or dtype), as the modules do; Load and
// Step::Begin return a Status.
#ifndef COMPASS_MODELS_STAGE_H_
#define COMPASS_MODELS_STAGE_H_

#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "models/kv_cache.h"
#include "models/layers.h"
#include "models/model_config.h"
#include "models/weights.h"
#include "util/status.h"

namespace compass::model {

struct StageSpec {
  int64_t begin = 0;       // first decoder layer
  int64_t end = 0;         // one past the last (begin == end: no layers)
  bool embedding = false;  // the token embedding runs first (Stage::Embed)
  bool head = false;       // the final norm runs last; Stage::Logits is the LM head
  Placement placement;     // device and dtype of every module of the stage
  // This stage's part of a tensor-parallel group: its layers are shards
  // (DecoderLayer::Load), its embedding and head vocab shards; Embed and
  // Forward then need the group's all-reduce, and Logits gives this rank's
  // columns.
  TensorParallel tp;
  // Logical device ("cpu:1", "cuda:0"); a model counts hidden-state moves
  // between consecutive stages whose names differ, which makes placements
  // over virtual CPU devices observable. Empty: placement.device's name.
  std::string device_name;
};

class Step {
 public:
  Step() = default;
  // Checks the inputs, moves them to `device` (the first stage's) and
  // begins the step on `cache` (null: a step without one, its keys are its
  // own tokens), with attention computed as `impl` says. input_ids [B, T]
  // int64, or undefined for a step that starts after the embedding;
  // positions [B, T] int64; valid [B, T] bool (undefined: every slot is a
  // token). Ids in padding slots are ignored (replaced by 0). InvalidArgument
  // for bad shapes or dtypes, an empty step, or token ids outside
  // [0, vocab_size) (checked here: on CUDA the embedding lookup would
  // otherwise fail with a device-side assert); the cache's errors.
  static StatusOr<Step> Begin(const ModelConfig& config, const at::Tensor& input_ids,
                              const at::Tensor& positions, const at::Tensor& valid, KvCache* cache,
                              AttentionImpl impl, c10::Device device);

  const at::Tensor& ids() const { return ids_; }
  const at::Tensor& positions() const { return positions_; }
  const at::Tensor& valid() const { return valid_; }
  const AttentionBatch& batch() const { return batch_; }
  // cos, sin [B, T, head_dim] of `rotary` for the step's positions, on
  // `device` in `dtype`. Memoized per (device, dtype): the stages of one
  // model share one rotary configuration. Not thread-safe (nor is the
  // batch's mask memo): one Step per thread.
  std::pair<at::Tensor, at::Tensor> CosSin(const RotaryEmbedding& rotary, c10::Device device,
                                           c10::ScalarType dtype) const;

 private:
  struct CachedCosSin {
    c10::Device device;
    c10::ScalarType dtype;
    at::Tensor cos, sin;
  };
  at::Tensor ids_, positions_, valid_;
  AttentionBatch batch_;
  mutable std::vector<CachedCosSin> cos_sin_;
};

// Told after each part of a stage is on its device (the embedding, each
// decoder layer, the final norm with the LM head) with that part's bytes in
// the stage's dtype (AccountParameters). Returns false to stop loading.
using LoadProgress = std::function<bool(uint64_t bytes)>;

class Stage {
 public:
  Stage() = default;
  // Loads the stage's modules onto spec.placement (converting the weights to
  // its dtype), calling `progress` (when set) after each part. InvalidArgument
  // for a layer range outside the model; Unsupported for a dtype other than
  // float32/float16/bfloat16; the checkpoint's errors; OutOfMemory;
  // Cancelled when `progress` returned false.
  static StatusOr<Stage> Load(const ModelWeights& weights, const StageSpec& spec,
                              const LoadProgress& progress = {});

  const StageSpec& spec() const { return spec_; }
  const ModelConfig& config() const { return *config_; }
  c10::Device device() const { return spec_.placement.device; }
  c10::ScalarType dtype() const { return spec_.placement.dtype; }
  const std::string& device_name() const { return spec_.device_name; }
  int64_t num_layers() const { return static_cast<int64_t>(layers_.size()); }

  // The embeddings [B, T, hidden] of step.ids() on this stage's device, in
  // its dtype. Needs spec().embedding. Under tensor parallelism `reduce`
  // sums the ranks' vocab shards.
  at::Tensor Embed(const Step& step, const AllReduce& reduce = nullptr) const;
  // Layers [begin, end) on hidden [B, T, hidden] (on this stage's device, in
  // its dtype), storing their keys and values in `cache` (null: none); then
  // the final norm when the stage has the head. Under tensor parallelism
  // `reduce` sums the ranks' partial attention and MLP outputs.
  at::Tensor Forward(const at::Tensor& hidden, const Step& step, KvCache* cache,
                     const AllReduce& reduce = nullptr) const;
  // float32 logits [..., vocab] for final-norm hidden states on this stage's
  // device. Needs spec().head. Under tensor parallelism this rank's columns
  // [..., rows of Embedding::VocabShard] (zero past the vocabulary): gather the ranks'
  // along the last dimension and cut to vocab.
  at::Tensor Logits(const at::Tensor& hidden) const;
  // Allocates the buffers of this stage's layers in `cache` on its device,
  // in its dtype (throws c10::OutOfMemoryError when they do not fit).
  void AllocateCache(ContiguousKvCache& cache) const;

 private:
  StageSpec spec_;
  std::shared_ptr<const ModelConfig> config_;
  Embedding embed_;
  RotaryEmbedding rotary_;
  std::vector<DecoderLayer> layers_;
  RMSNorm norm_;
  LMHead head_;
};

}  // namespace compass::model

#endif  // COMPASS_MODELS_STAGE_H_
