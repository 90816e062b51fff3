#include "models/weights.h"

#include <ATen/ATen.h>

#include <cstring>

#include "gguf/dequantize.h"

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

namespace {

// Dequantized to float32; rows put back in Hugging Face order.
StatusOr<at::Tensor> GgufTensor(const gguf::GgufFile& file, const GgufParam& param) {
  const gguf::TensorInfo& info = *param.info;
  const std::vector<int64_t> shape = info.shape();
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(c10::kFloat));
  COMPASS_RETURN_IF_ERROR(gguf::Dequantize(static_cast<gguf::GgmlType>(info.type), file.data(info),
                                           info.nbytes, static_cast<int64_t>(info.numel()),
                                           out.data_ptr<float>())
                              .WithContext(file.path() + ": tensor " + info.name));
  if (param.unpermute_heads == 0) return out;
  const int64_t rows = shape.front();
  const int64_t cols = shape.size() > 1 ? shape[1] : 1;
  if (rows % (2 * param.unpermute_heads) != 0) {
    return InvalidArgument(file.path() + ": tensor " + info.name + " has " + std::to_string(rows) +
                           " rows, which " + std::to_string(param.unpermute_heads) +
                           " heads of even size cannot split");
  }
  at::Tensor rows_in_order = at::empty_like(out);
  UnpermuteRows(out.data_ptr<float>(), rows, cols, param.unpermute_heads,
                rows_in_order.data_ptr<float>());
  return rows_in_order;
}

}  // namespace

StatusOr<ModelWeights> ModelWeights::Open(const std::string& path) {
  COMPASS_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(path));
  return Open(config, path);
}

StatusOr<ModelWeights> ModelWeights::Open(const ModelConfig& config, const std::string& path) {
  ModelWeights w;
  w.config_ = std::make_shared<const ModelConfig>(config);
  w.source_ = path;
  if (gguf::IsGgufPath(path)) {
    auto source = std::make_shared<GgufSource>();
    COMPASS_ASSIGN_OR_RETURN(source->file, gguf::GgufFile::Open(path));
    COMPASS_ASSIGN_OR_RETURN(source->params, MapGgufTensors(*source->file, config));
    w.gguf_ = std::move(source);
    return w;
  }
  COMPASS_ASSIGN_OR_RETURN(Checkpoint checkpoint, Checkpoint::Open(path));
  COMPASS_RETURN_IF_ERROR(ValidateCheckpoint(checkpoint, config));
  w.checkpoint_ = std::make_shared<const Checkpoint>(std::move(checkpoint));
  return w;
}

StatusOr<at::Tensor> ModelWeights::View(const std::string& name) const {
  if (gguf_ != nullptr) {
    const auto it = gguf_->params.find(name);
    if (it == gguf_->params.end())
      return NotFound(source_ + ": tensor for " + name + " is missing");
    return GgufTensor(*gguf_->file, it->second);
  }
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
