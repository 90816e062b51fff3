// GGUF files (llama.cpp's single-file checkpoints), versions 2 and 3: the
// header, every metadata value (nested arrays included), the tensor infos and
// a read-only memory map of the data section.
//
// Layout (little-endian): magic "GGUF", u32 version, u64 tensor count, u64
// metadata count; metadata as (string key, u32 type, value); tensor infos as
// (string name, u32 n_dims, u64 dims[n_dims], u32 ggml type, u64 offset);
// padding to `general.alignment` (default 32); the data section, where each
// tensor's offset is relative to its start and a multiple of the alignment.
// Strings are a u64 length and that many bytes.
//
// Every count, length and offset is checked against the file's size before
// anything is allocated for it, so a malformed file is an error naming the
// file and the field, never a crash or a huge allocation.
#ifndef COMPASS_GGUF_GGUF_FILE_H_
#define COMPASS_GGUF_GGUF_FILE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gguf/gguf_types.h"
#include "util/status.h"

namespace compass::gguf {

// The metadata value types, as stored.
enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};
// "UINT32", "ARRAY", as gguf-py names them.
const char* ValueTypeName(ValueType type);

// One metadata value. Integers keep their signedness; floats are widened to
// double; arrays hold values of one element type (arrays may nest).
class Value {
 public:
  using Array = std::vector<Value>;
  Value() = default;
  Value(ValueType type, std::variant<uint64_t, int64_t, double, bool, std::string, Array> v,
        ValueType element_type = ValueType::kUint8)
      : type_(type), element_type_(element_type), v_(std::move(v)) {}

  ValueType type() const { return type_; }
  // For arrays, the type of their elements.
  ValueType element_type() const { return element_type_; }
  bool is_integer() const;
  bool is_float() const { return type_ == ValueType::kFloat32 || type_ == ValueType::kFloat64; }

  // Only valid for the matching type (checked by the typed getters of
  // GgufFile, which callers should prefer).
  uint64_t as_uint() const { return std::get<uint64_t>(v_); }
  int64_t as_int() const { return std::get<int64_t>(v_); }
  double as_double() const { return std::get<double>(v_); }
  bool as_bool() const { return std::get<bool>(v_); }
  const std::string& as_string() const { return std::get<std::string>(v_); }
  const Array& as_array() const { return std::get<Array>(v_); }

 private:
  ValueType type_ = ValueType::kUint8;
  ValueType element_type_ = ValueType::kUint8;
  std::variant<uint64_t, int64_t, double, bool, std::string, Array> v_;
};

struct TensorInfo {
  std::string name;
  // ggml order: dims[0] is the innermost (contiguous) dimension, i.e. the
  // number of columns of a weight matrix.
  std::vector<uint64_t> dims;
  uint32_t type = 0;    // GgmlType value
  uint64_t offset = 0;  // from the start of the data section
  uint64_t nbytes = 0;  // elements / block size * block bytes
  uint64_t numel() const;
  // Row-major (PyTorch) shape: dims reversed.
  std::vector<int64_t> shape() const;
};

// Immutable once opened; share freely between threads. Pointers from data()
// stay valid while the object lives.
class GgufFile {
 public:
  // Maps `path` and checks the header, metadata and tensor infos (not the
  // tensor values). Errors start with the path: NotFound / IoError when it
  // cannot be read; DataLoss for a bad magic, a truncated file, a length or
  // count that runs past the end, a tensor past the end of the data section,
  // misaligned or overlapping tensors, a duplicate key or tensor name;
  // Unsupported for versions other than 2 and 3 and for a tensor type ggml
  // does not define (by number).
  static StatusOr<std::shared_ptr<const GgufFile>> Open(const std::string& path);
  // As Open, over bytes in memory; `name` stands for the path in messages.
  static StatusOr<std::shared_ptr<const GgufFile>> Parse(std::string name,
                                                         std::vector<uint8_t> bytes);

  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;
  ~GgufFile();

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return size_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t data_offset() const { return data_start_; }

  // Sorted by key.
  const std::map<std::string, Value, std::less<>>& metadata() const { return metadata_; }
  // nullptr when absent.
  const Value* Find(std::string_view key) const;
  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  // Typed getters. Errors name the file and the key: NotFound when absent,
  // InvalidArgument when the value has another type (an integer getter
  // accepts any integer type that holds the value; a float getter accepts
  // floats and integers).
  StatusOr<int64_t> GetInt(std::string_view key) const;
  StatusOr<double> GetFloat(std::string_view key) const;
  StatusOr<bool> GetBool(std::string_view key) const;
  StatusOr<std::string> GetString(std::string_view key) const;
  StatusOr<std::vector<std::string>> GetStringArray(std::string_view key) const;
  StatusOr<std::vector<int64_t>> GetIntArray(std::string_view key) const;
  StatusOr<std::vector<double>> GetFloatArray(std::string_view key) const;

  // In file order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  // nullptr when absent.
  const TensorInfo* FindTensor(std::string_view name) const;
  // The tensor's bytes (aligned to alignment() relative to the data section).
  const uint8_t* data(const TensorInfo& tensor) const {
    return base_ + data_start_ + tensor.offset;
  }

 private:
  GgufFile() = default;
  Status ParseAll();

  std::string path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  void* map_ = nullptr;         // mmap of the file, when opened from a path
  std::vector<uint8_t> bytes_;  // the file, when parsed from memory
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_start_ = 0;
  std::map<std::string, Value, std::less<>> metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

// Whether `path` names a GGUF file (by its ".gguf" suffix).
bool IsGgufPath(std::string_view path);

}  // namespace compass::gguf

#endif  // COMPASS_GGUF_GGUF_FILE_H_
