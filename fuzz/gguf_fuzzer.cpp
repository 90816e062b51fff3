// GGUF files: the reader (header, metadata, tensor infos) on the input as a
// file's bytes, every metadata value through every typed getter, and, when
// the file parses, the model config and Hugging Face tensor mapping read
// from it (models/gguf_model.h) with the parameter accounting a plan makes.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/gguf_file.h"
#include "models/gguf_model.h"
#include "models/model_config.h"
#include "status_check.h"

using namespace compass;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = gguf::GgufFile::Parse("fuzz.gguf", std::vector<uint8_t>(data, data + size));
  if (!file.ok()) {
    fuzz::CheckNotInternal(file.status());
    return 0;
  }
  const gguf::GgufFile& f = **file;
  for (const auto& [key, value] : f.metadata()) {
    (void)f.GetInt(key);
    (void)f.GetFloat(key);
    (void)f.GetBool(key);
    (void)f.GetString(key);
    (void)f.GetStringArray(key);
    (void)f.GetIntArray(key);
    (void)f.GetFloatArray(key);
    (void)gguf::ValueTypeName(value.type());
  }
  uint64_t checksum = 0;
  for (const gguf::TensorInfo& t : f.tensors()) {
    checksum += t.numel() + t.shape().size();
    if (t.nbytes > 0) checksum += f.data(t)[0] + f.data(t)[t.nbytes - 1];
    if (f.FindTensor(t.name) == nullptr) __builtin_trap();
  }
  static volatile uint64_t sink;
  sink = checksum;
  auto config = model::ConfigFromGguf(f);
  if (!config.ok()) {
    fuzz::CheckNotInternal(config.status());
    return 0;
  }
  if (auto mapped = model::MapGgufTensors(f, *config); !mapped.ok()) {
    fuzz::CheckNotInternal(mapped.status());
  }
  const auto accounting = model::AccountParameters(*config, model::DType::kF32);
  (void)accounting.Summary();
  return 0;
}
