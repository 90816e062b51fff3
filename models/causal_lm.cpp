#include "models/causal_lm.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace compass::model {
namespace {

// Runs `f`, turning libtorch exceptions into a Status.
template <typename F>
auto Guarded(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::OutOfMemoryError& e) {
    return OutOfMemory(what + ": " + e.what_without_backtrace());
  } catch (const c10::Error& e) {
    return Internal(what + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Internal(what + ": " + e.what());
  }
}

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

StatusOr<CausalLM> CausalLM::Load(const std::string& dir, const Placement& placement) {
  COMPASS_ASSIGN_OR_RETURN(ModelWeights weights, ModelWeights::Open(dir));
  return Load(weights, placement);
}

StatusOr<CausalLM> CausalLM::Load(const ModelWeights& weights, const Placement& placement) {
  COMPASS_RETURN_IF_ERROR(FromScalarType(placement.dtype).status());
  return Guarded("loading " + weights.checkpoint().dir(), [&]() -> StatusOr<CausalLM> {
    const ModelConfig& c = weights.config();
    CausalLM m;
    m.config_ = std::make_shared<const ModelConfig>(c);
    m.placement_ = placement;
    COMPASS_ASSIGN_OR_RETURN(at::Tensor embed, weights.View("model.embed_tokens.weight"));
    m.embed_ = Embedding::Create(embed, placement);
    m.rotary_ = RotaryEmbedding::Create(c, placement.device);
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
      COMPASS_ASSIGN_OR_RETURN(DecoderLayer layer, DecoderLayer::Load(weights, i, placement));
      m.layers_.push_back(std::move(layer));
    }
    COMPASS_ASSIGN_OR_RETURN(at::Tensor norm, weights.View("model.norm.weight"));
    m.norm_ = RMSNorm::Create(norm, c.rms_norm_eps, placement);
    COMPASS_ASSIGN_OR_RETURN(m.head_, LMHead::Load(weights, placement));
    return m;
  });
}

StatusOr<at::Tensor> CausalLM::Hidden(const at::Tensor& input_ids, const at::Tensor& positions,
                                      const at::Tensor& valid, KvCache* cache) const {
  if (!input_ids.defined() || input_ids.dim() != 2 || input_ids.scalar_type() != at::kLong) {
    return InvalidArgument("input_ids must be an int64 tensor [batch, tokens]");
  }
  if (!positions.defined() || positions.sizes() != input_ids.sizes() ||
      positions.scalar_type() != at::kLong) {
    return InvalidArgument("positions must be an int64 tensor shaped like input_ids " +
                           c10::str(input_ids.sizes()));
  }
  if (valid.defined() && valid.sizes() != input_ids.sizes()) {
    return InvalidArgument("valid must be shaped like input_ids " + c10::str(input_ids.sizes()));
  }
  if (input_ids.numel() == 0) return InvalidArgument("input_ids is empty");
  return Guarded("forward", [&]() -> StatusOr<at::Tensor> {
    const c10::Device device = placement_.device;
    at::Tensor ids = input_ids.to(device);
    const at::Tensor pos = positions.to(device);
    at::Tensor mask;
    if (valid.defined()) {
      mask = valid.to(device, at::kBool);
      ids = ids.masked_fill(mask.logical_not(), 0);
    }
    // Checked here: an out-of-range id would otherwise fail deep inside the
    // embedding lookup (a device-side assert on CUDA).
    const at::Tensor range = at::stack({ids.min(), ids.max()}).cpu();
    const int64_t lo = range[0].item<int64_t>(), hi = range[1].item<int64_t>();
    if (lo < 0 || hi >= config_->vocab_size) {
      return InvalidArgument("token id " + std::to_string(lo < 0 ? lo : hi) +
                             " is out of range (vocab_size " + std::to_string(config_->vocab_size) +
                             ")");
    }
    AttentionBatch batch;
    if (cache) {
      COMPASS_ASSIGN_OR_RETURN(batch, cache->BeginStep(mask, pos));
    } else {
      batch = StepBatch(mask, pos);
    }
    at::Tensor h = embed_.Forward(ids);
    auto [cos, sin] = rotary_.CosSin(pos, mask, placement_.dtype);
    for (const DecoderLayer& layer : layers_) h = layer.Forward(h, cos, sin, batch, cache);
    return norm_.Forward(h);
  });
}

at::Tensor CausalLM::Logits(const at::Tensor& hidden) const {
  return head_.Forward(hidden);
}

StatusOr<at::Tensor> CausalLM::Forward(const at::Tensor& input_ids, const at::Tensor& positions,
                                       const at::Tensor& valid, KvCache* cache) const {
  COMPASS_ASSIGN_OR_RETURN(at::Tensor hidden, Hidden(input_ids, positions, valid, cache));
  return Guarded("logits", [&]() -> StatusOr<at::Tensor> { return Logits(hidden); });
}

std::unique_ptr<ContiguousKvCache> CausalLM::NewCache(int64_t batch_size, int64_t capacity) const {
  return std::make_unique<ContiguousKvCache>(batch_size, capacity, config_->num_hidden_layers);
}

StatusOr<std::vector<std::vector<int64_t>>> CausalLM::Generate(
    const std::vector<std::vector<int64_t>>& prompts, int64_t max_new_tokens,
    Padding padding) const {
  std::vector<std::vector<int64_t>> out(prompts.size());
  if (max_new_tokens <= 0) return out;
  COMPASS_ASSIGN_OR_RETURN(PaddedBatch batch, MakePaddedBatch(prompts, padding, placement_.device));
  const int64_t rows = batch.input_ids.size(0);
  auto cache = NewCache(rows, batch.input_ids.size(1) + max_new_tokens);
  COMPASS_ASSIGN_OR_RETURN(at::Tensor hidden,
                           Hidden(batch.input_ids, batch.positions, batch.valid, cache.get()));
  return Guarded("generate", [&]() -> StatusOr<std::vector<std::vector<int64_t>>> {
    std::vector<int64_t> last(rows), next_pos(rows);
    for (int64_t b = 0; b < rows; ++b) {
      last[b] = batch.LastSlot(b);
      next_pos[b] = batch.lengths[b];
    }
    const auto long_options = at::TensorOptions().dtype(at::kLong).device(placement_.device);
    at::Tensor h = hidden.index(
        {at::arange(rows, long_options), at::tensor(last, at::kLong).to(placement_.device)});
    at::Tensor position = at::tensor(next_pos, at::kLong).to(placement_.device).unsqueeze(1);
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
