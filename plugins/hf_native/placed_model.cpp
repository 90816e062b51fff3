#include "placed_model.h"

#include <ATen/ATen.h>
#include <compass/plugin.hpp>

#include "answers.h"
#include "models/stage.h"
#include "util/status_throw.h"

namespace compass::hf_native {

LogicalDevice ToLogical(const std::string& name) {
  LogicalDevice d;
  d.name = name;
  d.device = backend_support::TorchDevice(name);
  return d;
}

PlacedModel PlacedModel::Load(const model::ModelWeights& weights, c10::ScalarType dtype,
                              const std::string& head_device,
                              const std::vector<std::string>& layer_device,
                              model::AttentionImpl attention, const Progress& progress) {
  const model::ModelConfig& c = weights.config();
  const int64_t n = c.num_hidden_layers;
  if (static_cast<int64_t>(layer_device.size()) != n) {
    throw sdk::Error(COMPASS_INTERNAL, "device map has " + std::to_string(layer_device.size()) +
                                           " layers, the model " + std::to_string(n));
  }
  auto spec_on = [&](const std::string& name, int64_t begin, int64_t end) {
    model::StageSpec spec;
    spec.begin = begin;
    spec.end = end;
    spec.placement = {ToLogical(name).device, dtype};
    spec.device_name = name;
    return spec;
  };
  // One stage per run of layers on one device; embedding and head on the
  // head device, in stages of their own when the runs there do not hold them.
  std::vector<model::StageSpec> specs;
  for (int64_t begin = 0; begin < n;) {
    int64_t end = begin + 1;
    while (end < n && layer_device[end] == layer_device[begin]) ++end;
    specs.push_back(spec_on(layer_device[begin], begin, end));
    begin = end;
  }
  if (specs.empty() || specs.front().device_name != head_device) {
    specs.insert(specs.begin(), spec_on(head_device, 0, 0));
  }
  if (specs.back().device_name != head_device) specs.push_back(spec_on(head_device, n, n));
  specs.front().embedding = true;
  specs.back().head = true;

  const model::DType run_dtype = ValueOrThrow(model::FromScalarType(dtype));
  const uint64_t total = model::AccountParameters(c, run_dtype).total_bytes();
  uint64_t done = 0;
  const model::LoadProgress on_part = [&](uint64_t bytes) {
    done += bytes;
    return !progress || progress(done, total);
  };
  std::vector<model::Stage> stages;
  for (const model::StageSpec& spec : specs) {
    stages.push_back(ValueOrThrow(model::Stage::Load(weights, spec, on_part)));
  }
  PlacedModel m;
  m.model_ = ValueOrThrow(model::CausalLM::FromStages(std::move(stages), attention));
  m.dtype_ = dtype;
  m.head_ = ToLogical(head_device);
  return m;
}

at::Tensor PlacedModel::Hidden(const at::Tensor& ids, const at::Tensor& positions,
                               const at::Tensor& valid, model::KvCache* cache) const {
  return ValueOrThrow(model_.Hidden(ids, positions, valid, cache));
}

at::Tensor PlacedModel::Logits(const at::Tensor& hidden) const {
  return model_.Logits(hidden);
}

}  // namespace compass::hf_native
