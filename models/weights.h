// Checkpoint tensors as libtorch tensors: a validated checkpoint whose
// tensors are read on demand, converted to the run's dtype (F32/F16/BF16 in
// any combination) and copied to the device that needs them, whole or as a
// slice (for tensor-parallel shards).
#ifndef COMPASS_MODELS_WEIGHTS_H_
#define COMPASS_MODELS_WEIGHTS_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include <map>
#include <memory>
#include <string>

#include "gguf/gguf_file.h"
#include "models/checkpoint.h"
#include "models/dtype.h"
#include "models/gguf_model.h"
#include "models/model_config.h"
#include "util/status.h"

namespace compass::model {

c10::ScalarType ToScalarType(DType dtype);
// Unsupported for anything but float32, float16, bfloat16.
StatusOr<DType> FromScalarType(c10::ScalarType type);

// Where a module keeps its weights, and in which dtype it computes.
struct Placement {
  c10::Device device = c10::Device(c10::kCPU);
  c10::ScalarType dtype = c10::kFloat;
};

// A CPU tensor over the checkpoint's mapped bytes, in the file's dtype,
// without a copy; it keeps the mapping alive. Read-only: never write to it.
// (Copied into an aligned buffer when the file does not align the tensor.)
at::Tensor TensorView(const Checkpoint::Entry& entry);

// A model's config and weights, validated against each other when opened:
// config.json plus the safetensors checkpoint beside it (ValidateCheckpoint),
// or one GGUF file (ConfigFromGguf, MapGgufTensors). Immutable; safe to share
// between threads.
class ModelWeights {
 public:
  // `path` is a folder holding config.json and the safetensors file(s), or a
  // `.gguf` file. Errors are those of LoadModelConfig, Checkpoint::Open and
  // ValidateCheckpoint, or of GgufFile::Open and MapGgufTensors.
  static StatusOr<ModelWeights> Open(const std::string& path);
  // As above with a config already read (which must describe the checkpoint).
  static StatusOr<ModelWeights> Open(const ModelConfig& config, const std::string& path);

  const ModelConfig& config() const { return *config_; }
  // The folder or GGUF file, for messages.
  const std::string& source() const { return source_; }
  bool is_gguf() const { return gguf_ != nullptr; }
  // The safetensors checkpoint; only when !is_gguf().
  const Checkpoint& checkpoint() const { return *checkpoint_; }

  // The tensor in Hugging Face layout: from safetensors a zero-copy view in
  // the file's dtype (see TensorView); from GGUF an owned float32 tensor,
  // dequantized and with Q/K rows un-permuted. NotFound naming the tensor and
  // the checkpoint.
  StatusOr<at::Tensor> View(const std::string& name) const;
  // An owned, contiguous copy in `placement`'s dtype on its device.
  StatusOr<at::Tensor> Get(const std::string& name, const Placement& placement) const;
  // The head's weight name: lm_head.weight, or model.embed_tokens.weight when
  // the config ties them.
  std::string lm_head_name() const;

 private:
  struct GgufSource {
    std::shared_ptr<const gguf::GgufFile> file;
    std::map<std::string, GgufParam> params;
  };
  std::shared_ptr<const ModelConfig> config_;
  std::string source_;
  std::shared_ptr<const Checkpoint> checkpoint_;  // safetensors, or
  std::shared_ptr<const GgufSource> gguf_;        // GGUF
};

// An owned, contiguous copy of `t` (or of a view) in `placement`.
at::Tensor CopyTo(const at::Tensor& t, const Placement& placement);

}  // namespace compass::model

#endif  // COMPASS_MODELS_WEIGHTS_H_
