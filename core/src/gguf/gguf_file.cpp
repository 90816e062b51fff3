#include "gguf/gguf_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <utility>

namespace compass::gguf {
namespace {

constexpr uint32_t kMaxDims = 4;                         // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;                        // nesting of arrays in arrays
constexpr uint64_t kMinKvBytes = 8 + 4;                  // empty key, type
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 4 + 8;  // empty name, n_dims, type, offset

// Bytes a value of `type` takes at least, for bounding counts before
// anything is allocated for them.
uint64_t MinValueBytes(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool: return 1;
    case ValueType::kUint16:
    case ValueType::kInt16: return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32: return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64:
    case ValueType::kString:  // its length
      return 8;
    case ValueType::kArray:  // element type and count
      return 12;
  }
  return 1;
}

bool KnownValueType(uint32_t t) {
  return t <= static_cast<uint32_t>(ValueType::kFloat64);
}

// A cursor over the file that reports where and what ran short.
class Reader {
 public:
  Reader(const uint8_t* base, uint64_t size, const std::string& path)
      : base_(base), size_(size), path_(path) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  Status Need(uint64_t n, const std::string& what) const {
    if (n > remaining()) {
      return DataLoss(path_ + ": truncated file: " + what + " at byte " + std::to_string(pos_) +
                      " needs " + std::to_string(n) + " bytes, but the file ends at byte " +
                      std::to_string(size_));
    }
    return Status::Ok();
  }

  template <typename T>
  Status Read(T* out, const std::string& what) {
    COMPASS_RETURN_IF_ERROR(Need(sizeof(T), what));
    std::memcpy(out, base_ + pos_, sizeof(T));
    pos_ += sizeof(T);
    return Status::Ok();
  }

  Status ReadString(std::string* out, const std::string& what) {
    uint64_t length = 0;
    COMPASS_RETURN_IF_ERROR(Read(&length, what + " (length)"));
    if (length > remaining()) {
      return DataLoss(path_ + ": " + what + " at byte " + std::to_string(pos_ - 8) +
                      " has length " + std::to_string(length) + ", larger than the " +
                      std::to_string(remaining()) + " bytes left in the file");
    }
    out->assign(reinterpret_cast<const char*>(base_ + pos_), length);
    pos_ += length;
    return Status::Ok();
  }

 private:
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& path_;
};

Status ReadValue(Reader& r, ValueType type, const std::string& what, int depth, Value* out,
                 const std::string& path);

template <typename T, typename Stored>
Status ReadScalar(Reader& r, ValueType type, const std::string& what, Value* out) {
  T v{};
  COMPASS_RETURN_IF_ERROR(r.Read(&v, what));
  *out = Value(type, static_cast<Stored>(v));
  return Status::Ok();
}

Status ReadArray(Reader& r, const std::string& what, int depth, Value* out,
                 const std::string& path) {
  if (depth >= kMaxArrayDepth) {
    return DataLoss(path + ": " + what + " nests arrays deeper than " +
                    std::to_string(kMaxArrayDepth) + " levels");
  }
  uint32_t element_type = 0;
  COMPASS_RETURN_IF_ERROR(r.Read(&element_type, what + " (array element type)"));
  if (!KnownValueType(element_type)) {
    return DataLoss(path + ": " + what + " is an array of unknown value type " +
                    std::to_string(element_type));
  }
  uint64_t count = 0;
  const uint64_t count_at = r.pos();
  COMPASS_RETURN_IF_ERROR(r.Read(&count, what + " (array count)"));
  const auto etype = static_cast<ValueType>(element_type);
  if (count > r.remaining() / MinValueBytes(etype)) {
    return DataLoss(path + ": " + what + " at byte " + std::to_string(count_at) +
                    " has array count " + std::to_string(count) + ", more " + ValueTypeName(etype) +
                    " elements than the " + std::to_string(r.remaining()) +
                    " bytes left in the file can hold");
  }
  Value::Array elements(count);
  for (uint64_t i = 0; i < count; ++i) {
    COMPASS_RETURN_IF_ERROR(
        ReadValue(r, etype, what + "[" + std::to_string(i) + "]", depth + 1, &elements[i], path));
  }
  *out = Value(ValueType::kArray, std::move(elements), etype);
  return Status::Ok();
}

Status ReadValue(Reader& r, ValueType type, const std::string& what, int depth, Value* out,
                 const std::string& path) {
  switch (type) {
    case ValueType::kUint8: return ReadScalar<uint8_t, uint64_t>(r, type, what, out);
    case ValueType::kInt8: return ReadScalar<int8_t, int64_t>(r, type, what, out);
    case ValueType::kUint16: return ReadScalar<uint16_t, uint64_t>(r, type, what, out);
    case ValueType::kInt16: return ReadScalar<int16_t, int64_t>(r, type, what, out);
    case ValueType::kUint32: return ReadScalar<uint32_t, uint64_t>(r, type, what, out);
    case ValueType::kInt32: return ReadScalar<int32_t, int64_t>(r, type, what, out);
    case ValueType::kUint64: return ReadScalar<uint64_t, uint64_t>(r, type, what, out);
    case ValueType::kInt64: return ReadScalar<int64_t, int64_t>(r, type, what, out);
    case ValueType::kFloat32: return ReadScalar<float, double>(r, type, what, out);
    case ValueType::kFloat64: return ReadScalar<double, double>(r, type, what, out);
    case ValueType::kBool: {
      uint8_t b = 0;
      COMPASS_RETURN_IF_ERROR(r.Read(&b, what));
      if (b > 1) {
        return DataLoss(path + ": " + what + " is a BOOL holding " + std::to_string(b) +
                        " (must be 0 or 1)");
      }
      *out = Value(type, b == 1);
      return Status::Ok();
    }
    case ValueType::kString: {
      std::string s;
      COMPASS_RETURN_IF_ERROR(r.ReadString(&s, what));
      *out = Value(type, std::move(s));
      return Status::Ok();
    }
    case ValueType::kArray: return ReadArray(r, what, depth, out, path);
  }
  return DataLoss(path + ": " + what + " has unknown value type " +
                  std::to_string(static_cast<uint32_t>(type)));
}

}  // namespace

const char* ValueTypeName(ValueType type) {
  switch (type) {
    case ValueType::kUint8: return "UINT8";
    case ValueType::kInt8: return "INT8";
    case ValueType::kUint16: return "UINT16";
    case ValueType::kInt16: return "INT16";
    case ValueType::kUint32: return "UINT32";
    case ValueType::kInt32: return "INT32";
    case ValueType::kFloat32: return "FLOAT32";
    case ValueType::kBool: return "BOOL";
    case ValueType::kString: return "STRING";
    case ValueType::kArray: return "ARRAY";
    case ValueType::kUint64: return "UINT64";
    case ValueType::kInt64: return "INT64";
    case ValueType::kFloat64: return "FLOAT64";
  }
  return "UNKNOWN";
}

bool Value::is_integer() const {
  switch (type_) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kUint16:
    case ValueType::kInt16:
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kUint64:
    case ValueType::kInt64: return true;
    default: return false;
  }
}

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (uint64_t d : dims) n *= d;
  return n;
}

std::vector<int64_t> TensorInfo::shape() const {
  return std::vector<int64_t>(dims.rbegin(), dims.rend());
}

bool IsGgufPath(std::string_view path) {
  constexpr std::string_view kSuffix = ".gguf";
  if (path.size() < kSuffix.size()) return false;
  std::string tail(path.substr(path.size() - kSuffix.size()));
  std::transform(tail.begin(), tail.end(), tail.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return tail == kSuffix;
}

GgufFile::~GgufFile() {
  if (map_ != nullptr) munmap(map_, size_);
}

StatusOr<std::shared_ptr<const GgufFile>> GgufFile::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound(path + ": no such file");
    return IoError(path + ": cannot be opened: " + std::strerror(err));
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return IoError(path + ": not a regular file");
  }
  std::shared_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  file->size_ = static_cast<uint64_t>(st.st_size);
  if (file->size_ > 0) {
    void* map = mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      return IoError(path + ": cannot be mapped: " + std::strerror(err));
    }
    file->map_ = map;
    file->base_ = static_cast<const uint8_t*>(map);
  }
  ::close(fd);
  COMPASS_RETURN_IF_ERROR(file->ParseAll());
  return std::shared_ptr<const GgufFile>(std::move(file));
}

StatusOr<std::shared_ptr<const GgufFile>> GgufFile::Parse(std::string name,
                                                          std::vector<uint8_t> bytes) {
  std::shared_ptr<GgufFile> file(new GgufFile());
  file->path_ = std::move(name);
  file->bytes_ = std::move(bytes);
  file->base_ = file->bytes_.data();
  file->size_ = file->bytes_.size();
  COMPASS_RETURN_IF_ERROR(file->ParseAll());
  return std::shared_ptr<const GgufFile>(std::move(file));
}

Status GgufFile::ParseAll() {
  Reader r(base_, size_, path_);
  if (size_ < 4 || std::memcmp(base_, "GGUF", 4) != 0) {
    static const char kHex[] = "0123456789abcdef";
    std::string shown;
    for (uint64_t i = 0; i < std::min<uint64_t>(size_, 4); ++i) {
      const uint8_t c = base_[i];
      if (c >= 32 && c < 127) {
        shown += static_cast<char>(c);
      } else {
        shown += std::string("\\x") + kHex[c >> 4] + kHex[c & 15];
      }
    }
    return DataLoss(path_ + ": not a GGUF file: it starts with '" + shown +
                    "', not the magic 'GGUF'");
  }
  uint32_t magic_word = 0;
  COMPASS_RETURN_IF_ERROR(r.Read(&magic_word, "magic"));
  COMPASS_RETURN_IF_ERROR(r.Read(&version_, "version"));
  if (version_ != 2 && version_ != 3) {
    return Unsupported(path_ + ": GGUF version " + std::to_string(version_) +
                       " is not supported (versions 2 and 3 are read)");
  }
  uint64_t tensor_count = 0;
  uint64_t kv_count = 0;
  COMPASS_RETURN_IF_ERROR(r.Read(&tensor_count, "tensor count"));
  COMPASS_RETURN_IF_ERROR(r.Read(&kv_count, "metadata count"));
  if (kv_count > r.remaining() / kMinKvBytes) {
    return DataLoss(path_ + ": metadata count " + std::to_string(kv_count) +
                    " is more than the file's " + std::to_string(size_) + " bytes can hold");
  }
  if (tensor_count > r.remaining() / kMinTensorInfoBytes) {
    return DataLoss(path_ + ": tensor count " + std::to_string(tensor_count) +
                    " is more than the file's " + std::to_string(size_) + " bytes can hold");
  }

  for (uint64_t i = 0; i < kv_count; ++i) {
    const std::string which = "metadata entry " + std::to_string(i);
    std::string key;
    COMPASS_RETURN_IF_ERROR(r.ReadString(&key, which + " key"));
    uint32_t type = 0;
    COMPASS_RETURN_IF_ERROR(r.Read(&type, "type of metadata key '" + key + "'"));
    if (!KnownValueType(type)) {
      return DataLoss(path_ + ": metadata key '" + key + "' has unknown value type " +
                      std::to_string(type));
    }
    Value value;
    COMPASS_RETURN_IF_ERROR(
        ReadValue(r, static_cast<ValueType>(type), "metadata key '" + key + "'", 0, &value, path_));
    if (!metadata_.emplace(key, std::move(value)).second) {
      return DataLoss(path_ + ": metadata key '" + key + "' appears twice");
    }
  }

  if (const Value* align = Find("general.alignment")) {
    if (align->type() != ValueType::kUint32) {
      return DataLoss(path_ + ": metadata key 'general.alignment' has type " +
                      ValueTypeName(align->type()) + ", expected UINT32");
    }
    const uint64_t a = align->as_uint();
    if (a == 0 || (a & (a - 1)) != 0) {
      return DataLoss(path_ + ": metadata key 'general.alignment' is " + std::to_string(a) +
                      ", not a power of two");
    }
    alignment_ = a;
  }

  tensors_.resize(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    TensorInfo& t = tensors_[i];
    COMPASS_RETURN_IF_ERROR(r.ReadString(&t.name, "name of tensor " + std::to_string(i)));
    const std::string what = "tensor '" + t.name + "'";
    uint32_t n_dims = 0;
    COMPASS_RETURN_IF_ERROR(r.Read(&n_dims, what + " dimension count"));
    if (n_dims == 0 || n_dims > kMaxDims) {
      return DataLoss(path_ + ": " + what + " has " + std::to_string(n_dims) +
                      " dimensions (1 to " + std::to_string(kMaxDims) + " allowed)");
    }
    t.dims.resize(n_dims);
    uint64_t numel = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      COMPASS_RETURN_IF_ERROR(r.Read(&t.dims[d], what + " dimension " + std::to_string(d)));
      const uint64_t dim = t.dims[d];
      // ggml keeps sizes as int64: anything larger, or a product that
      // overflows, cannot describe real data.
      if (dim == 0 || dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / numel) {
        return DataLoss(path_ + ": " + what + " has dimension " + std::to_string(d) + " = " +
                        std::to_string(dim) + ", which is zero or too large");
      }
      numel *= dim;
    }
    COMPASS_RETURN_IF_ERROR(r.Read(&t.type, what + " type"));
    const auto traits = TypeTraits(t.type);
    if (!traits) {
      return Unsupported(path_ + ": " + what + " has unknown tensor type " +
                         std::to_string(t.type) + " (not a ggml type this reader knows)");
    }
    if (t.dims[0] % traits->block_size != 0) {
      return DataLoss(path_ + ": " + what + " has " + std::to_string(t.dims[0]) +
                      " columns, not a multiple of the " + traits->name + " block size " +
                      std::to_string(traits->block_size));
    }
    t.nbytes = numel / traits->block_size * traits->block_bytes;
    COMPASS_RETURN_IF_ERROR(r.Read(&t.offset, what + " offset"));
    if (t.offset % alignment_ != 0) {
      return DataLoss(path_ + ": " + what + " has offset " + std::to_string(t.offset) +
                      ", not a multiple of the alignment " + std::to_string(alignment_));
    }
    if (!tensor_index_.emplace(t.name, i).second) {
      return DataLoss(path_ + ": tensor name '" + t.name + "' appears twice");
    }
  }

  const uint64_t header_end = r.pos();
  data_start_ = (header_end + alignment_ - 1) / alignment_ * alignment_;
  if (tensor_count > 0 && data_start_ > size_) {
    return DataLoss(path_ + ": truncated file: the data section starts at byte " +
                    std::to_string(data_start_) + " but the file ends at byte " +
                    std::to_string(size_));
  }
  const uint64_t data_size = tensor_count > 0 ? size_ - data_start_ : 0;
  std::vector<size_t> order(tensor_count);
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return tensors_[a].offset < tensors_[b].offset; });
  uint64_t previous_end = 0;
  const TensorInfo* previous = nullptr;
  for (size_t i : order) {
    const TensorInfo& t = tensors_[i];
    if (t.offset > data_size || t.nbytes > data_size - t.offset) {
      return DataLoss(path_ + ": tensor '" + t.name + "' at data offset " +
                      std::to_string(t.offset) + " with " + std::to_string(t.nbytes) +
                      " bytes runs past the end of the file (data section of " +
                      std::to_string(data_size) + " bytes; truncated file?)");
    }
    if (previous != nullptr && t.offset < previous_end) {
      return DataLoss(path_ + ": tensors '" + previous->name + "' and '" + t.name +
                      "' overlap in the data section");
    }
    previous_end = t.offset + t.nbytes;
    previous = &t;
  }
  return Status::Ok();
}

const Value* GgufFile::Find(std::string_view key) const {
  const auto it = metadata_.find(key);
  return it == metadata_.end() ? nullptr : &it->second;
}

const TensorInfo* GgufFile::FindTensor(std::string_view name) const {
  const auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

namespace {

Status TypeError(const std::string& path, std::string_view key, const Value& v,
                 const char* expected) {
  std::string got = ValueTypeName(v.type());
  if (v.type() == ValueType::kArray) got += " of " + std::string(ValueTypeName(v.element_type()));
  return InvalidArgument(path + ": metadata key '" + std::string(key) + "' has type " + got +
                         ", expected " + expected);
}

// An integer value as int64, or nullopt when it does not fit.
std::optional<int64_t> IntOf(const Value& v) {
  if (!v.is_integer()) return std::nullopt;
  switch (v.type()) {
    case ValueType::kInt8:
    case ValueType::kInt16:
    case ValueType::kInt32:
    case ValueType::kInt64: return v.as_int();
    default:
      if (v.as_uint() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return std::nullopt;
      }
      return static_cast<int64_t>(v.as_uint());
  }
}

std::optional<double> FloatOf(const Value& v) {
  if (v.is_float()) return v.as_double();
  if (const auto i = IntOf(v)) return static_cast<double>(*i);
  return std::nullopt;
}

}  // namespace

StatusOr<int64_t> GgufFile::GetInt(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return NotFound(path_ + ": metadata key '" + std::string(key) + "' is missing");
  if (const auto i = IntOf(*v)) return *i;
  return TypeError(path_, key, *v, "an integer");
}

StatusOr<double> GgufFile::GetFloat(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return NotFound(path_ + ": metadata key '" + std::string(key) + "' is missing");
  if (const auto f = FloatOf(*v)) return *f;
  return TypeError(path_, key, *v, "a number");
}

StatusOr<bool> GgufFile::GetBool(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return NotFound(path_ + ": metadata key '" + std::string(key) + "' is missing");
  if (v->type() == ValueType::kBool) return v->as_bool();
  return TypeError(path_, key, *v, "BOOL");
}

StatusOr<std::string> GgufFile::GetString(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return NotFound(path_ + ": metadata key '" + std::string(key) + "' is missing");
  if (v->type() == ValueType::kString) return v->as_string();
  return TypeError(path_, key, *v, "STRING");
}

StatusOr<std::vector<std::string>> GgufFile::GetStringArray(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return NotFound(path_ + ": metadata key '" + std::string(key) + "' is missing");
  if (v->type() != ValueType::kArray || v->element_type() != ValueType::kString) {
    return TypeError(path_, key, *v, "ARRAY of STRING");
  }
  std::vector<std::string> out;
  out.reserve(v->as_array().size());
  for (const Value& e : v->as_array()) out.push_back(e.as_string());
  return out;
}

StatusOr<std::vector<int64_t>> GgufFile::GetIntArray(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return NotFound(path_ + ": metadata key '" + std::string(key) + "' is missing");
  if (v->type() != ValueType::kArray) return TypeError(path_, key, *v, "an ARRAY of integers");
  std::vector<int64_t> out;
  out.reserve(v->as_array().size());
  for (const Value& e : v->as_array()) {
    const auto i = IntOf(e);
    if (!i) return TypeError(path_, key, *v, "an ARRAY of integers");
    out.push_back(*i);
  }
  return out;
}

StatusOr<std::vector<double>> GgufFile::GetFloatArray(std::string_view key) const {
  const Value* v = Find(key);
  if (v == nullptr) return NotFound(path_ + ": metadata key '" + std::string(key) + "' is missing");
  if (v->type() != ValueType::kArray) return TypeError(path_, key, *v, "an ARRAY of numbers");
  std::vector<double> out;
  out.reserve(v->as_array().size());
  for (const Value& e : v->as_array()) {
    const auto f = FloatOf(e);
    if (!f) return TypeError(path_, key, *v, "an ARRAY of numbers");
    out.push_back(*f);
  }
  return out;
}

}  // namespace compass::gguf
