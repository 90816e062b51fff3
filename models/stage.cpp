#include "models/stage.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include "models/guarded.h"

namespace compass::model {

// ---------------------------------------------------------------- Step

StatusOr<Step> Step::Begin(const ModelConfig& config, const at::Tensor& input_ids,
                           const at::Tensor& positions, const at::Tensor& valid, KvCache* cache,
                           AttentionImpl impl, c10::Device device) {
  if (!positions.defined() || positions.dim() != 2 || positions.scalar_type() != at::kLong) {
    return InvalidArgument("positions must be an int64 tensor [batch, tokens]");
  }
  if (input_ids.defined() &&
      (input_ids.sizes() != positions.sizes() || input_ids.scalar_type() != at::kLong)) {
    return InvalidArgument("input_ids must be an int64 tensor shaped like positions " +
                           c10::str(positions.sizes()));
  }
  if (valid.defined() && valid.sizes() != positions.sizes()) {
    return InvalidArgument("valid must be shaped like positions " + c10::str(positions.sizes()));
  }
  if (positions.numel() == 0) return InvalidArgument("the step has no tokens");
  return Guarded("forward", [&]() -> StatusOr<Step> {
    Step step;
    step.positions_ = positions.to(device);
    if (valid.defined()) step.valid_ = valid.to(device, at::kBool);
    if (input_ids.defined()) {
      step.ids_ = input_ids.to(device);
      if (step.valid_.defined()) step.ids_ = step.ids_.masked_fill(step.valid_.logical_not(), 0);
      const at::Tensor range = at::stack({step.ids_.min(), step.ids_.max()}).cpu();
      const int64_t lo = range[0].item<int64_t>(), hi = range[1].item<int64_t>();
      if (lo < 0 || hi >= config.vocab_size) {
        return InvalidArgument("token id " + std::to_string(lo < 0 ? lo : hi) +
                               " is out of range for the model (vocab_size " +
                               std::to_string(config.vocab_size) +
                               "); does the tokenizer match the checkpoint?");
      }
    }
    if (cache) {
      COMPASS_ASSIGN_OR_RETURN(step.batch_, cache->BeginStep(step.valid_, step.positions_));
    } else {
      step.batch_ = StepBatch(step.valid_, step.positions_);
    }
    step.batch_.impl = impl;
    return step;
  });
}

std::pair<at::Tensor, at::Tensor> Step::CosSin(const RotaryEmbedding& rotary, c10::Device device,
                                               c10::ScalarType dtype) const {
  for (const CachedCosSin& c : cos_sin_) {
    if (c.device == device && c.dtype == dtype) return {c.cos, c.sin};
  }
  const at::Tensor valid = valid_.defined() ? valid_.to(device) : valid_;
  auto [cos, sin] = rotary.CosSin(positions_.to(device), valid, dtype);
  cos_sin_.push_back(CachedCosSin{device, dtype, cos, sin});
  return {cos, sin};
}

// ---------------------------------------------------------------- Stage

StatusOr<Stage> Stage::Load(const ModelWeights& weights, const StageSpec& spec,
                            const LoadProgress& progress) {
  const ModelConfig& c = weights.config();
  if (spec.begin < 0 || spec.end < spec.begin || spec.end > c.num_hidden_layers) {
    return InvalidArgument(c.source + ": a stage of layers [" + std::to_string(spec.begin) + ", " +
                           std::to_string(spec.end) + ") does not fit a model of " +
                           std::to_string(c.num_hidden_layers) + " layers");
  }
  COMPASS_ASSIGN_OR_RETURN(const DType dtype, FromScalarType(spec.placement.dtype));
  const ParameterAccounting bytes = AccountParameters(c, dtype);
  auto loaded = [&](uint64_t part) -> Status {
    if (progress && !progress(part)) {
      return Cancelled("loading " + weights.source() + " was cancelled");
    }
    return Status::Ok();
  };
  return Guarded("loading " + weights.source(), [&]() -> StatusOr<Stage> {
    Stage s;
    s.spec_ = spec;
    if (s.spec_.device_name.empty()) s.spec_.device_name = spec.placement.device.str();
    s.config_ = std::make_shared<const ModelConfig>(c);
    const Placement& placement = spec.placement;
    if (spec.embedding) {
      COMPASS_ASSIGN_OR_RETURN(at::Tensor embed, weights.View("model.embed_tokens.weight"));
      if (spec.tp.size > 1) {
        COMPASS_ASSIGN_OR_RETURN(
            s.embed_, Embedding::VocabShard(embed, spec.tp.rank, spec.tp.size, placement));
      } else {
        s.embed_ = Embedding::Create(embed, placement);
      }
      COMPASS_RETURN_IF_ERROR(loaded(bytes.embed_tokens_bytes()));
    }
    s.rotary_ = RotaryEmbedding::Create(c, placement.device);
    for (int64_t i = spec.begin; i < spec.end; ++i) {
      COMPASS_ASSIGN_OR_RETURN(DecoderLayer layer,
                               DecoderLayer::Load(weights, i, placement, spec.tp));
      s.layers_.push_back(std::move(layer));
      COMPASS_RETURN_IF_ERROR(loaded(bytes.layer_bytes(static_cast<size_t>(i))));
    }
    if (spec.head) {
      COMPASS_ASSIGN_OR_RETURN(at::Tensor norm, weights.View("model.norm.weight"));
      s.norm_ = RMSNorm::Create(norm, c.rms_norm_eps, placement);
      COMPASS_ASSIGN_OR_RETURN(s.head_, LMHead::Load(weights, placement, spec.tp));
      COMPASS_RETURN_IF_ERROR(loaded(bytes.norm_bytes() + bytes.lm_head_bytes()));
    }
    return s;
  });
}

at::Tensor Stage::Embed(const Step& step, const AllReduce& reduce) const {
  TORCH_CHECK(spec_.embedding, "stage on ", spec_.device_name, " (layers [", spec_.begin, ", ",
              spec_.end, ")) has no embedding");
  TORCH_CHECK(step.ids().defined(), "the step has no token ids to embed");
  TORCH_CHECK(spec_.tp.size == 1 || reduce, "a vocab-shard embedding needs the group's reduce");
  const at::Tensor h = embed_.Forward(step.ids().to(device()));
  return spec_.tp.size > 1 ? reduce(h) : h;
}

at::Tensor Stage::Forward(const at::Tensor& hidden, const Step& step, KvCache* cache,
                          const AllReduce& reduce) const {
  TORCH_CHECK(hidden.device() == device(), "stage on ", spec_.device_name, " (layers [",
              spec_.begin, ", ", spec_.end, ")) got its input on ", hidden.device());
  at::Tensor h = hidden;
  if (!layers_.empty()) {
    const auto [cos, sin] = step.CosSin(rotary_, device(), dtype());
    for (const DecoderLayer& layer : layers_) {
      h = layer.Forward(h, cos, sin, step.batch(), cache, spec_.tp.size > 1 ? reduce : nullptr);
    }
  }
  if (spec_.head) h = norm_.Forward(h);
  return h;
}

at::Tensor Stage::Logits(const at::Tensor& hidden) const {
  TORCH_CHECK(spec_.head, "stage on ", spec_.device_name, " (layers [", spec_.begin, ", ",
              spec_.end, ")) has no LM head");
  return head_.Forward(hidden);
}

void Stage::AllocateCache(ContiguousKvCache& cache) const {
  const auto options = at::TensorOptions().dtype(dtype()).device(device());
  for (const DecoderLayer& layer : layers_) {
    const Attention::Shape& shape = layer.attention().shape();
    cache.Allocate(layer.attention().layer(), shape.num_kv_heads, shape.head_dim, options);
  }
}

}  // namespace compass::model
