// Safetensors files: the input as model.safetensors beside a fixed tiny
// config.json. The header is checked against the file (SafetensorsFile),
// every tensor's first and last byte is read, and the checkpoint is
// validated against the config, as a load does before reading weights.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.h"
#include "models/checkpoint.h"
#include "models/model_config.h"
#include "models/safetensors.h"
#include "status_check.h"

using namespace compass;

namespace {

// A Llama of two layers whose embeddings are tied (so that a tensor named
// lm_head.weight is compared with the embeddings).
constexpr char kConfig[] = R"({
  "architectures": ["LlamaForCausalLM"], "vocab_size": 16, "hidden_size": 8,
  "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 2,
  "num_key_value_heads": 1, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
  "tie_word_embeddings": true})";

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const model::ModelConfig config = [] {
    auto c = model::ParseModelConfig(kConfig, "config.json");
    if (!c.ok()) std::abort();
    return *c;
  }();
  fuzz::ResetScratch();
  const std::string path =
      fuzz::WriteScratch("model.safetensors",
                         std::string_view(reinterpret_cast<const char*>(data), size))
          .string();
  auto file = model::SafetensorsFile::Open(path);
  if (!file.ok()) fuzz::CheckNotInternal(file.status());
  if (file.ok()) {
    uint64_t checksum = 0;
    for (const model::TensorInfo& t : (*file)->tensors()) {
      checksum += static_cast<uint64_t>(t.numel());
      if (t.nbytes > 0) {
        const auto* bytes = static_cast<const uint8_t*>((*file)->data(t));
        checksum += bytes[0] + bytes[t.nbytes - 1];
      }
      if ((*file)->Find(t.name) != &t) __builtin_trap();
    }
    static volatile uint64_t sink;
    sink = checksum;
  }
  auto checkpoint = model::Checkpoint::Open(fuzz::ScratchDir().string());
  if (!checkpoint.ok()) {
    fuzz::CheckNotInternal(checkpoint.status());
    return 0;
  }
  (void)checkpoint->names();
  (void)checkpoint->tensor_bytes();
  fuzz::CheckNotInternal(model::ValidateCheckpoint(*checkpoint, config));
  return 0;
}
