// pipeline's plan, made from the model config and the devices before any
// weight is read: the options checked, the decoder layers split into
// contiguous stages (one per device), and per stage its weights, the
// activations of one micro-batch, the KV caches of the micro-batches in
// flight and the CUDA reserve, against the device's memory.
//
// Stage 0 also holds the token embedding, the last stage the final norm and
// the LM head; a tied head (tie_word_embeddings) is a copy of the embedding
// on the last stage when there are two stages or more, counted in its
// weights. Per stage:
//   weights     its layers, plus embedding / norm / head / tied copy
//   kv_bytes    micro_batches x micro_batch_size x max_length x its layers
//               x 2 (K and V) x kv_heads x head_dim x dtype size
//   activations LayerActivationBytes for micro_batch_size x max_length
//               tokens, the hidden states queued between stages (2
//               micro-batches of [micro_batch_size, max_length, hidden] in
//               the run dtype) and, on the head stage, float32 logits for
//               micro_batch_size x max_length x vocab
//   reserve     cuda_reserve on a cuda device, 0 on CPU
// A stage fits when the four sum to at most its device's memory; the plan
// fits when every stage does. A plan that does not fit is still a plan
// (fits = false, a message naming the stage, its numbers and a fix), not an
// error; errors are bad options only.
#ifndef COMPASS_PIPELINE_PLANNER_H_
#define COMPASS_PIPELINE_PLANNER_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "models/dtype.h"
#include "models/model_config.h"
#include "models/parallel_accounting.h"
#include "util/status.h"

namespace compass::pipeline {

// Rows per micro-batch when neither micro_batch_size nor the run's batch
// size is given.
constexpr int64_t kDefaultMicroBatchSize = 8;
constexpr int64_t kMaxMicroBatchSize = 65536;  // rows per micro-batch at most
constexpr int64_t kMaxMicroBatches = 65536;    // micro-batches in flight at most

struct DeviceInfo {
  std::string name;  // "cpu", "cpu:1", "cuda:0"
  uint64_t memory_bytes = 0;
};

enum class SplitRule {
  kParameterBytes,  // "bytes": balance the stages' weight bytes
  kEvenLayers,      // "layers": equal layer counts
  kExplicit,        // stage_layers: the ranges given
};

// "bytes", "layers", "explicit".
const char* SplitRuleName(SplitRule rule);

struct PipelineOptions {
  int64_t stages = 0;  // 0: one per device of backend.devices (kExplicit: one per range)
  // Even layer counts by default: a stage's time is its layers' (the
  // embedding lookup is cheap, the head runs at a few positions), so equal
  // counts keep the stages equally busy; bytes balance memory instead.
  SplitRule split = SplitRule::kEvenLayers;
  // kExplicit only (ignored otherwise): [begin, end) per stage, in order.
  std::vector<std::pair<int64_t, int64_t>> explicit_layers;
  // Rows per micro-batch; 0: the run's batch size if given, else the
  // largest of 8, 4, 2, 1 that fits (with a note when below 8).
  int64_t micro_batch_size = 0;
  int64_t micro_batches = 0;           // micro-batches in flight at once; 0: 2 x stages
  uint64_t cuda_reserve = 1ull << 30;  // per GPU stage
};

struct StagePlan {
  std::string device;
  int64_t begin = 0, end = 0;   // decoder layers [begin, end)
  bool embedding = false;       // stage 0
  bool head = false;            // the last stage: final norm and LM head
  bool tied_head_copy = false;  // the last stage holds its own copy of the tied embedding as head
  uint64_t capacity = 0;        // the device's memory_bytes
  uint64_t weights = 0, activations = 0, kv_bytes = 0, reserve = 0;
  bool fits = false;  // weights + activations + kv_bytes + reserve <= capacity

  uint64_t total() const { return weights + activations + kv_bytes + reserve; }
};

struct PipelinePlan {
  PipelineOptions options;  // resolved: stages, micro_batch_size, micro_batches filled in
  model::DType dtype = model::DType::kF32;
  int64_t max_length = 0;
  std::vector<StagePlan> stages;
  double ideal_bubble = 0;  // IdealBubble(stages, micro_batches)
  bool fits = false;
  std::string message;  // why it does not fit (which stage, numbers, a fix); empty when it fits
  std::vector<std::string> notes;  // choices made for the user (tied copy, few micro-batches)
};

// (p - 1) / (m + p - 1): the idle share of a pipeline of p stages over m
// micro-batches (fill and drain); 0 when p < 1 or m < 1.
double IdealBubble(int64_t stages, int64_t micro_batches);

// Parses the `stage_layers` option "0-11,12-23,24-29" (inclusive ranges, in
// stage order; "7" is the one layer 7; spaces around parts are allowed) into
// [begin, end) pairs. InvalidArgument naming the option and the bad part.
// Whether the ranges cover the model is CheckOptions's job.
StatusOr<std::vector<std::pair<int64_t, int64_t>>> ParseStageLayers(const std::string& text);

// "0-11,12-23,24-29" from [begin, end) pairs (ParseStageLayers's inverse).
std::string FormatStageLayers(const std::vector<std::pair<int64_t, int64_t>>& ranges);

// Parses the `split` option: "bytes" (kParameterBytes), "layers"
// (kEvenLayers); InvalidArgument otherwise.
StatusOr<SplitRule> ParseSplitRule(const std::string& text);

// The number of stages the options ask for: `stages` when given, else (with
// kExplicit) one per range, else one per device.
int64_t ResolvedStages(const PipelineOptions& options, const std::vector<DeviceInfo>& devices);

// InvalidArgument naming the option, the rule and a fix: stages < 1 (or no
// device), more stages than devices or than decoder layers; a device listed
// twice among the stages'; kExplicit ranges that are missing, empty, out of
// [0, layers), overlapping, leaving a gap, not covering every layer, or
// whose count differs from `stages` (when stages was given);
// micro_batch_size or micro_batches < 0.
Status CheckOptions(const PipelineOptions& options, const model::ModelConfig& config,
                    const std::vector<DeviceInfo>& devices);

// A stage's weight bytes: model::StageWeightBytes (models/parallel_accounting.h).
using model::StageWeightBytes;

// The layer ranges [begin, end) per stage, for 1 <= stages <= layers (as
// CheckOptions ensures; empty otherwise). kEvenLayers: counts differ by at
// most one, earlier stages get the extra; kParameterBytes: contiguous
// ranges minimising the largest StageWeightBytes (exact linear-partition
// DP; among equal maxima the most even spread, the least sum of squared
// stage bytes); every stage at least one layer; kExplicit: the ranges given.
std::vector<std::pair<int64_t, int64_t>> SplitLayers(const PipelineOptions& options,
                                                     const model::ParameterAccounting& acc,
                                                     int64_t stages);

// The plan on the first `stages` devices (CheckOptions first; max_length
// < 1 is InvalidArgument too). `run_batch_size` (0: not given) is the
// default micro_batch_size.
StatusOr<PipelinePlan> PlanPipeline(const PipelineOptions& options,
                                    const model::ModelConfig& config, model::DType dtype,
                                    const std::vector<DeviceInfo>& devices, int64_t max_length,
                                    int64_t run_batch_size);

}  // namespace compass::pipeline

#endif  // COMPASS_PIPELINE_PLANNER_H_
