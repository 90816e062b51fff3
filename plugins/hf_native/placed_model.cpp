#include "placed_model.h"

#include <ATen/ATen.h>
#include <compass/plugin.hpp>

#include "util/status_throw.h"

namespace compass::hf_native {
namespace {

at::Tensor Get(const model::ModelWeights& w, const std::string& name) {
  return ValueOrThrow(w.View(name));
}

}  // namespace

LogicalDevice ToLogical(const std::string& name) {
  LogicalDevice d;
  d.name = name;
  if (name.rfind("cuda:", 0) == 0) {
    d.device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(std::stoi(name.substr(5))));
  }
  return d;
}

PlacedModel PlacedModel::Load(const model::ModelWeights& weights, c10::ScalarType dtype,
                              const std::string& head_device,
                              const std::vector<std::string>& layer_device) {
  const model::ModelConfig& c = weights.config();
  if (static_cast<int64_t>(layer_device.size()) != c.num_hidden_layers) {
    throw sdk::Error(COMPASS_INTERNAL, "device map has " + std::to_string(layer_device.size()) +
                                           " layers, the model " +
                                           std::to_string(c.num_hidden_layers));
  }
  PlacedModel m;
  m.config_ = std::make_shared<const model::ModelConfig>(c);
  m.dtype_ = dtype;
  m.head_ = ToLogical(head_device);
  const model::Placement head{m.head_.device, dtype};
  m.embed_ = model::Embedding::Create(Get(weights, "model.embed_tokens.weight"), head);
  m.norm_ = model::RMSNorm::Create(Get(weights, "model.norm.weight"), c.rms_norm_eps, head);
  m.lm_head_ = ValueOrThrow(model::LMHead::Load(weights, head));
  m.rotary_.emplace(head_device, model::RotaryEmbedding::Create(c, m.head_.device));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const LogicalDevice d = ToLogical(layer_device[i]);
    m.layers_.push_back(
        {d, ValueOrThrow(model::DecoderLayer::Load(weights, i, {d.device, dtype}))});
    if (!m.rotary_.count(d.name))
      m.rotary_.emplace(d.name, model::RotaryEmbedding::Create(c, d.device));
  }
  return m;
}

at::Tensor PlacedModel::Hidden(const at::Tensor& ids_in, const at::Tensor& positions_in,
                               const at::Tensor& valid_in, model::KvCache* cache) const {
  // Inputs start on the head device, with the embeddings.
  at::Tensor ids = ids_in.to(head_.device);
  at::Tensor positions = positions_in.to(head_.device);
  at::Tensor valid = valid_in.defined() ? valid_in.to(head_.device, at::kBool) : valid_in;
  if (valid.defined()) ids = ids.masked_fill(valid.logical_not(), 0);
  const at::Tensor range = at::stack({ids.min(), ids.max()}).cpu();
  const int64_t lo = range[0].item<int64_t>(), hi = range[1].item<int64_t>();
  if (lo < 0 || hi >= config_->vocab_size) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                     "token id " + std::to_string(lo < 0 ? lo : hi) +
                         " is out of range for the model (vocab_size " +
                         std::to_string(config_->vocab_size) +
                         "); the tokenizer does not match the checkpoint");
  }
  model::AttentionBatch batch;
  if (cache) {
    batch = ValueOrThrow(cache->BeginStep(valid, positions));
  } else {
    batch = model::StepBatch(valid, positions);
  }
  at::Tensor h = embed_.Forward(ids);
  std::string where = head_.name;
  // cos/sin and the batch's tensors per logical device, made once.
  std::map<std::string, std::pair<at::Tensor, at::Tensor>> cos_sin;
  auto cos_sin_on = [&](const LogicalDevice& d) -> const std::pair<at::Tensor, at::Tensor>& {
    auto it = cos_sin.find(d.name);
    if (it == cos_sin.end()) {
      const at::Tensor v = valid.defined() ? valid.to(d.device) : valid;
      it = cos_sin.emplace(d.name, rotary_.at(d.name).CosSin(positions.to(d.device), v, dtype_))
               .first;
    }
    return it->second;
  };
  for (const Layer& l : layers_) {
    if (l.device.name != where) {
      h = h.to(l.device.device);
      where = l.device.name;
      ++*transfers_;
    }
    const auto& [cos, sin] = cos_sin_on(l.device);
    h = l.layer.Forward(h, cos, sin, batch, cache);
  }
  if (where != head_.name) {
    h = h.to(head_.device);
    ++*transfers_;
  }
  return norm_.Forward(h);
}

at::Tensor PlacedModel::Logits(const at::Tensor& hidden) const {
  return lm_head_.Forward(hidden);
}

}  // namespace compass::hf_native
