// A Hugging Face checkpoint directory: config.json with model.safetensors, or
// with model.safetensors.index.json and the shards its weight_map names.
// Opening maps every file and checks each header (see SafetensorsFile) and
// the index; ValidateCheckpoint then checks the tensors against the config.
#ifndef COMPASS_MODELS_CHECKPOINT_H_
#define COMPASS_MODELS_CHECKPOINT_H_

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "models/model_config.h"
#include "models/safetensors.h"
#include "util/status.h"

namespace compass::model {

// Immutable once opened; share freely between threads.
class Checkpoint {
 public:
  struct Entry {
    std::shared_ptr<const SafetensorsFile> file;  // keeps the mapping alive
    const TensorInfo* info = nullptr;
  };

  // model.safetensors wins when both it and an index are present. Errors name
  // the directory or file: NotFound when neither exists; DataLoss for an
  // index that is malformed, names a tensor its shard lacks, misses a tensor
  // a shard holds, or places one tensor in two shards; those of
  // SafetensorsFile::Open for each file.
  static StatusOr<Checkpoint> Open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  // The index file when sharded, else model.safetensors.
  const std::string& source() const { return source_; }
  bool sharded() const { return sharded_; }
  const std::vector<std::shared_ptr<const SafetensorsFile>>& files() const { return files_; }
  // nullptr when absent.
  const Entry* Find(std::string_view name) const;
  // Sorted.
  std::vector<std::string> names() const;
  // Sum of every tensor's bytes.
  uint64_t tensor_bytes() const;

 private:
  std::string dir_;
  std::string source_;
  bool sharded_ = false;
  std::vector<std::shared_ptr<const SafetensorsFile>> files_;
  std::map<std::string, Entry, std::less<>> entries_;
};

// Strict check of a checkpoint against its config, before any tensor is
// read: every parameter of ExpectedParameters present with its shape (any of
// F32/F16/BF16), and no other tensor. Tolerated: "*.rotary_emb.inv_freq"
// buffers (older transformers saved them; they are recomputed from the
// config), and lm_head.weight when tie_word_embeddings is true provided it
// holds the same values as model.embed_tokens.weight (it is then ignored,
// as transformers ignores it); different values are an error, since the
// config and the weights disagree about the head.
// Errors name the file and the tensor: NotFound for a missing tensor,
// InvalidArgument otherwise, e.g.
// "<dir>/model-00002-of-00002.safetensors: tensor model.layers.3.mlp.up_proj.weight
// has shape [64, 32], expected [128, 64] from config.json".
Status ValidateCheckpoint(const Checkpoint& checkpoint, const ModelConfig& config);

}  // namespace compass::model

#endif  // COMPASS_MODELS_CHECKPOINT_H_
