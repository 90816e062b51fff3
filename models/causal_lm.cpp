#include "models/causal_lm.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "models/guarded.h"

namespace compass::model {
namespace {

at::Tensor ToCpuLong(const std::vector<int64_t>& values, std::vector<int64_t> shape) {
  return at::tensor(values, at::kLong).reshape(shape);
}

}  // namespace

int64_t PaddedBatch::LastSlot(size_t b) const {
  return padding == Padding::kLeft ? input_ids.size(1) - 1 : lengths.at(b) - 1;
}

StatusOr<PaddedBatch> MakePaddedBatch(const std::vector<std::vector<int64_t>>& sequences,
                                      Padding padding, c10::Device device, int64_t pad_id) {
  if (sequences.empty()) return InvalidArgument("padded batch: no sequences");
  size_t width = 0;
  for (size_t b = 0; b < sequences.size(); ++b) {
    if (sequences[b].empty()) {
      return InvalidArgument("padded batch: sequence " + std::to_string(b) + " is empty");
    }
    width = std::max(width, sequences[b].size());
  }
  const int64_t rows = static_cast<int64_t>(sequences.size());
  const int64_t cols = static_cast<int64_t>(width);
  std::vector<int64_t> ids(rows * cols, pad_id), positions(rows * cols, 0), valid(rows * cols, 0);
  PaddedBatch batch;
  batch.padding = padding;
  for (int64_t b = 0; b < rows; ++b) {
    const auto& seq = sequences[b];
    const int64_t len = static_cast<int64_t>(seq.size());
    const int64_t start = padding == Padding::kLeft ? cols - len : 0;
    for (int64_t i = 0; i < len; ++i) {
      ids[b * cols + start + i] = seq[i];
      positions[b * cols + start + i] = i;
      valid[b * cols + start + i] = 1;
    }
    batch.lengths.push_back(len);
  }
  return Guarded("padded batch", [&]() -> StatusOr<PaddedBatch> {
    batch.input_ids = ToCpuLong(ids, {rows, cols}).to(device);
    batch.positions = ToCpuLong(positions, {rows, cols}).to(device);
    batch.valid = ToCpuLong(valid, {rows, cols}).to(at::kBool).to(device);
    return batch;
  });
}

StatusOr<CausalLM> CausalLM::Load(const std::string& dir, const Placement& placement,
                                  AttentionImpl attention) {
  COMPASS_ASSIGN_OR_RETURN(ModelWeights weights, ModelWeights::Open(dir));
  return Load(weights, placement, attention);
}

StatusOr<CausalLM> CausalLM::Load(const ModelWeights& weights, const Placement& placement,
                                  AttentionImpl attention) {
  StageSpec spec;
  spec.begin = 0;
  spec.end = weights.config().num_hidden_layers;
  spec.embedding = spec.head = true;
  spec.placement = placement;
  COMPASS_ASSIGN_OR_RETURN(Stage stage, Stage::Load(weights, spec));
  std::vector<Stage> stages;
  stages.push_back(std::move(stage));
  return FromStages(std::move(stages), attention);
}

StatusOr<CausalLM> CausalLM::FromStages(std::vector<Stage> stages, AttentionImpl attention) {
  if (stages.empty()) return InvalidArgument("a model needs at least one stage");
  const ModelConfig& c = stages.front().config();
  auto where = [](const Stage& s) {
    return "stage on " + s.device_name() + " (layers [" + std::to_string(s.spec().begin) + ", " +
           std::to_string(s.spec().end) + "))";
  };
  if (!stages.front().spec().embedding) {
    return InvalidArgument("the first " + where(stages.front()) + " has no embedding");
  }
  if (!stages.back().spec().head) {
    return InvalidArgument("the last " + where(stages.back()) + " has no head");
  }
  int64_t next = 0;
  for (size_t i = 0; i < stages.size(); ++i) {
    const Stage& s = stages[i];
    if (s.config().source != c.source || s.config().num_hidden_layers != c.num_hidden_layers) {
      return InvalidArgument(where(s) + " is of another model (" + s.config().source + ")");
    }
    if (s.spec().begin != next) {
      return InvalidArgument(where(s) + " does not follow layer " + std::to_string(next - 1));
    }
    if ((i > 0 && s.spec().embedding) || (i + 1 < stages.size() && s.spec().head)) {
      return InvalidArgument(where(s) + " has the embedding or head inside the chain");
    }
    next = s.spec().end;
  }
  if (next != c.num_hidden_layers) {
    return InvalidArgument("the stages end at layer " + std::to_string(next) + " of " +
                           std::to_string(c.num_hidden_layers));
  }
  CausalLM m;
  m.stages_ = std::move(stages);
  m.attention_ = attention;
  return m;
}

CausalLM CausalLM::WithAttention(AttentionImpl attention) const {
  CausalLM m = *this;
  m.attention_ = attention;
  return m;
}

StatusOr<at::Tensor> CausalLM::Hidden(const at::Tensor& input_ids, const at::Tensor& positions,
                                      const at::Tensor& valid, KvCache* cache) const {
  if (!input_ids.defined()) return InvalidArgument("input_ids must be an int64 tensor");
  COMPASS_ASSIGN_OR_RETURN(Step step, Step::Begin(config(), input_ids, positions, valid, cache,
                                                  attention_, placement().device));
  return Guarded("forward", [&]() -> StatusOr<at::Tensor> {
    at::Tensor h = stages_.front().Embed(step);
    const Stage* previous = &stages_.front();
    for (const Stage& stage : stages_) {
      if (stage.device_name() != previous->device_name()) {
        h = h.to(stage.device());
        ++*transfers_;
      }
      h = stage.Forward(h, step, cache);
      previous = &stage;
    }
    return h;
  });
}

at::Tensor CausalLM::Logits(const at::Tensor& hidden) const {
  return stages_.back().Logits(hidden);
}

StatusOr<at::Tensor> CausalLM::Forward(const at::Tensor& input_ids, const at::Tensor& positions,
                                       const at::Tensor& valid, KvCache* cache) const {
  COMPASS_ASSIGN_OR_RETURN(at::Tensor hidden, Hidden(input_ids, positions, valid, cache));
  return Guarded("logits", [&]() -> StatusOr<at::Tensor> { return Logits(hidden); });
}

std::unique_ptr<ContiguousKvCache> CausalLM::NewCache(int64_t batch_size, int64_t capacity) const {
  auto cache =
      std::make_unique<ContiguousKvCache>(batch_size, capacity, config().num_hidden_layers);
  for (const Stage& stage : stages_) stage.AllocateCache(*cache);
  return cache;
}

StatusOr<std::vector<std::vector<int64_t>>> CausalLM::Generate(
    const std::vector<std::vector<int64_t>>& prompts, int64_t max_new_tokens,
    Padding padding) const {
  std::vector<std::vector<int64_t>> out(prompts.size());
  if (max_new_tokens <= 0) return out;
  COMPASS_ASSIGN_OR_RETURN(PaddedBatch batch,
                           MakePaddedBatch(prompts, padding, placement().device));
  const int64_t rows = batch.input_ids.size(0);
  std::unique_ptr<ContiguousKvCache> cache;
  COMPASS_RETURN_IF_ERROR(Guarded("generate", [&]() -> Status {
    cache = NewCache(rows, batch.input_ids.size(1) + max_new_tokens);
    return Status::Ok();
  }));
  COMPASS_ASSIGN_OR_RETURN(at::Tensor hidden,
                           Hidden(batch.input_ids, batch.positions, batch.valid, cache.get()));
  return Guarded("generate", [&]() -> StatusOr<std::vector<std::vector<int64_t>>> {
    std::vector<int64_t> last(rows), next_pos(rows);
    for (int64_t b = 0; b < rows; ++b) {
      last[b] = batch.LastSlot(b);
      next_pos[b] = batch.lengths[b];
    }
    const c10::Device last_device = hidden.device();  // the last stage's
    at::Tensor h =
        hidden.index({at::arange(rows, at::TensorOptions().dtype(at::kLong).device(last_device)),
                      at::tensor(last, at::kLong).to(last_device)});
    at::Tensor position = at::tensor(next_pos, at::kLong).to(placement().device).unsqueeze(1);
    for (int64_t step = 0;; ++step) {
      const at::Tensor next = Logits(h).argmax(-1);  // [B]
      const at::Tensor cpu = next.cpu();
      for (int64_t b = 0; b < rows; ++b) out[b].push_back(cpu[b].item<int64_t>());
      if (step + 1 == max_new_tokens) break;
      COMPASS_ASSIGN_OR_RETURN(at::Tensor step_hidden,
                               Hidden(next.unsqueeze(1), position, at::Tensor(), cache.get()));
      h = step_hidden.select(1, 0);
      position = position + 1;
    }
    return out;
  });
}

}  // namespace compass::model
