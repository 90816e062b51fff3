// Builds GGUF files in memory for tests: metadata of every value type,
// tensors with their data, laid out as llama.cpp writes them (tensor data
// aligned to general.alignment, default 32). Also writes deliberately broken
// files through the raw setters.
#ifndef COMPASS_TESTS_GGUF_BUILDER_H_
#define COMPASS_TESTS_GGUF_BUILDER_H_

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace compass::testing {

class GgufBuilder {
 public:
  // GGUF value type ids.
  enum : uint32_t {
    kU8 = 0,
    kI8 = 1,
    kU16 = 2,
    kI16 = 3,
    kU32 = 4,
    kI32 = 5,
    kF32 = 6,
    kBool = 7,
    kStr = 8,
    kArr = 9,
    kU64 = 10,
    kI64 = 11,
    kF64 = 12
  };

  explicit GgufBuilder(uint32_t version = 3) : version_(version) {}

  GgufBuilder& U32(const std::string& key, uint32_t v) { return Scalar(key, kU32, &v, 4); }
  GgufBuilder& I32(const std::string& key, int32_t v) { return Scalar(key, kI32, &v, 4); }
  GgufBuilder& U64(const std::string& key, uint64_t v) { return Scalar(key, kU64, &v, 8); }
  GgufBuilder& F32(const std::string& key, float v) { return Scalar(key, kF32, &v, 4); }
  GgufBuilder& Bool(const std::string& key, bool v) {
    const uint8_t b = v ? 1 : 0;
    return Scalar(key, kBool, &b, 1);
  }
  GgufBuilder& Str(const std::string& key, const std::string& v) {
    Key(key, kStr);
    PutString(kv_, v);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& StrArray(const std::string& key, const std::vector<std::string>& v) {
    Key(key, kArr);
    Put<uint32_t>(kv_, kStr);
    Put<uint64_t>(kv_, v.size());
    for (const auto& s : v) PutString(kv_, s);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& I32Array(const std::string& key, const std::vector<int32_t>& v) {
    return Array(key, kI32, v.data(), v.size(), 4);
  }
  GgufBuilder& F32Array(const std::string& key, const std::vector<float>& v) {
    return Array(key, kF32, v.data(), v.size(), 4);
  }
  // A metadata entry written as given: the key, the type id and the raw
  // value bytes (for wrong types and malformed values).
  GgufBuilder& Raw(const std::string& key, uint32_t type, const std::vector<uint8_t>& value) {
    Key(key, type);
    kv_.insert(kv_.end(), value.begin(), value.end());
    ++kv_count_;
    return *this;
  }
  // dims in ggml order (dims[0] = columns); `data` is the tensor's bytes.
  GgufBuilder& Tensor(const std::string& name, const std::vector<uint64_t>& dims, uint32_t type,
                      const std::vector<uint8_t>& data) {
    tensors_.push_back({name, dims, type, data});
    return *this;
  }
  GgufBuilder& Alignment(uint32_t a) {
    alignment_ = a;
    return U32("general.alignment", a);
  }

  std::vector<uint8_t> Build() const {
    std::vector<uint8_t> out;
    out.insert(out.end(), {'G', 'G', 'U', 'F'});
    Put<uint32_t>(out, version_);
    Put<uint64_t>(out, tensors_.size());
    Put<uint64_t>(out, kv_count_);
    out.insert(out.end(), kv_.begin(), kv_.end());
    uint64_t offset = 0;
    std::vector<uint64_t> offsets;
    for (const auto& t : tensors_) {
      PutString(out, t.name);
      Put<uint32_t>(out, static_cast<uint32_t>(t.dims.size()));
      for (uint64_t d : t.dims) Put<uint64_t>(out, d);
      Put<uint32_t>(out, t.type);
      Put<uint64_t>(out, offset);
      offsets.push_back(offset);
      offset = Align(offset + t.data.size());
    }
    out.resize(Align(out.size()), 0);
    const size_t data_start = out.size();
    for (size_t i = 0; i < tensors_.size(); ++i) {
      out.resize(data_start + offsets[i], 0);
      out.insert(out.end(), tensors_[i].data.begin(), tensors_[i].data.end());
    }
    return out;
  }

  void Write(const std::filesystem::path& path) const {
    const auto bytes = Build();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
  }

  template <typename T>
  static void Put(std::vector<uint8_t>& out, T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.insert(out.end(), b, b + sizeof(T));
  }
  static void PutString(std::vector<uint8_t>& out, const std::string& s) {
    Put<uint64_t>(out, s.size());
    out.insert(out.end(), s.begin(), s.end());
  }

 private:
  struct TensorSpec {
    std::string name;
    std::vector<uint64_t> dims;
    uint32_t type;
    std::vector<uint8_t> data;
  };
  uint64_t Align(uint64_t n) const { return (n + alignment_ - 1) / alignment_ * alignment_; }
  void Key(const std::string& key, uint32_t type) {
    PutString(kv_, key);
    Put<uint32_t>(kv_, type);
  }
  GgufBuilder& Scalar(const std::string& key, uint32_t type, const void* v, size_t n) {
    Key(key, type);
    const auto* p = static_cast<const uint8_t*>(v);
    kv_.insert(kv_.end(), p, p + n);
    ++kv_count_;
    return *this;
  }
  GgufBuilder& Array(const std::string& key, uint32_t type, const void* v, size_t count,
                     size_t size) {
    Key(key, kArr);
    Put<uint32_t>(kv_, type);
    Put<uint64_t>(kv_, count);
    const auto* p = static_cast<const uint8_t*>(v);
    kv_.insert(kv_.end(), p, p + count * size);
    ++kv_count_;
    return *this;
  }

  uint32_t version_;
  uint64_t alignment_ = 32;
  uint64_t kv_count_ = 0;
  std::vector<uint8_t> kv_;
  std::vector<TensorSpec> tensors_;
};

}  // namespace compass::testing

#endif  // COMPASS_TESTS_GGUF_BUILDER_H_
