#include "models/weights.h"

#include <ATen/ATen.h>

#include <cstring>

namespace compass::model {

c10::ScalarType ToScalarType(DType dtype) {
  switch (dtype) {
    case DType::kF32: return c10::kFloat;
    case DType::kF16: return c10::kHalf;
    case DType::kBF16: return c10::kBFloat16;
  }
  return c10::kFloat;
}

StatusOr<DType> FromScalarType(c10::ScalarType type) {
  switch (type) {
    case c10::kFloat: return DType::kF32;
    case c10::kHalf: return DType::kF16;
    case c10::kBFloat16: return DType::kBF16;
    default:
      return Unsupported(std::string("dtype ") + c10::toString(type) +
                         " is not supported (float32, float16, bfloat16)");
  }
}

at::Tensor TensorView(const Checkpoint::Entry& entry) {
  const TensorInfo& info = *entry.info;
  const auto options = at::TensorOptions().dtype(ToScalarType(info.dtype)).device(c10::kCPU);
  void* data = const_cast<void*>(entry.file->data(info));
  if (reinterpret_cast<uintptr_t>(data) % DTypeSize(info.dtype) != 0) {
    at::Tensor copy = at::empty(info.shape, options);
    std::memcpy(copy.data_ptr(), data, info.nbytes);
    return copy;
  }
  auto keep_alive = entry.file;
  return at::from_blob(
      data, info.shape, [keep_alive](void*) mutable { keep_alive.reset(); }, options);
}

StatusOr<ModelWeights> ModelWeights::Open(const std::string& dir) {
  COMPASS_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(dir));
  return Open(config, dir);
}

StatusOr<ModelWeights> ModelWeights::Open(const ModelConfig& config, const std::string& dir) {
  COMPASS_ASSIGN_OR_RETURN(Checkpoint checkpoint, Checkpoint::Open(dir));
  COMPASS_RETURN_IF_ERROR(ValidateCheckpoint(checkpoint, config));
  ModelWeights w;
  w.config_ = std::make_shared<const ModelConfig>(config);
  w.checkpoint_ = std::make_shared<const Checkpoint>(std::move(checkpoint));
  return w;
}

StatusOr<at::Tensor> ModelWeights::View(const std::string& name) const {
  const Checkpoint::Entry* e = checkpoint_->Find(name);
  if (!e) return NotFound(checkpoint_->source() + ": tensor " + name + " is missing");
  return TensorView(*e);
}

StatusOr<at::Tensor> ModelWeights::Get(const std::string& name, const Placement& placement) const {
  COMPASS_ASSIGN_OR_RETURN(at::Tensor view, View(name));
  return CopyTo(view, placement);
}

std::string ModelWeights::lm_head_name() const {
  return config_->tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
}

at::Tensor CopyTo(const at::Tensor& t, const Placement& placement) {
  return t.to(placement.device, placement.dtype, /*non_blocking=*/false, /*copy=*/true,
              c10::MemoryFormat::Contiguous);
}

}  // namespace compass::model
