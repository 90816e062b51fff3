// Safetensors files: a reader that memory-maps a file and checks its header
// against the file before anything is read, and a writer.
//
// Format: 8-byte little-endian header length N, N bytes of JSON
// ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
// {...}}), then the data section; offsets are relative to its start.
#ifndef COMPASS_MODELS_SAFETENSORS_H_
#define COMPASS_MODELS_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "models/dtype.h"
#include "util/status.h"

namespace compass::model {

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t offset = 0;  // from the start of the data section
  uint64_t nbytes = 0;
  int64_t numel() const;
};

// A read-only mapping of one file. Immutable once opened, so it may be shared
// between threads; pointers from data() stay valid while the object lives
// (hold the shared_ptr to keep them).
class SafetensorsFile {
 public:
  // Errors (each names the file, and the tensor where there is one):
  // DataLoss for a file shorter than its header length, a truncated data
  // section, offsets out of range, overlapping, leaving holes, or not
  // matching dtype * shape, and for a malformed header; Unsupported for a
  // dtype other than F32/F16/BF16; IoError when the file cannot be read.
  static StatusOr<std::shared_ptr<const SafetensorsFile>> Open(const std::string& path);

  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return size_; }
  // In data order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // nullptr when absent.
  const TensorInfo* Find(std::string_view name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The tensor's bytes in the mapping (no alignment guarantee).
  const void* data(const TensorInfo& tensor) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  const uint8_t* base_ = nullptr;  // mmap of the whole file
  uint64_t size_ = 0;
  uint64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write; `data` holds numel * DTypeSize(dtype) bytes,
// little-endian, and must outlive the call.
struct TensorData {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  const void* data = nullptr;
};

// Writes tensors in the given order; the header is padded to a multiple of 8
// bytes so that the data section is aligned. `metadata` defaults to
// {"format": "pt"}, which transformers expects.
Status WriteSafetensors(const std::string& path, const std::vector<TensorData>& tensors,
                        const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

}  // namespace compass::model

#endif  // COMPASS_MODELS_SAFETENSORS_H_
