#include "models/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "models/model_config.h"

namespace compass::model {
namespace {

using nlohmann::json;

// Every dtype the format defines, so that a file holding others is reported
// by name rather than as malformed.
constexpr const char* kOtherDTypes[] = {"F64", "I64", "I32",     "I16",     "I8",      "U8",
                                        "U16", "U32", "U64",     "BOOL",    "F8_E4M3", "F8_E5M2",
                                        "C64", "F4",  "F6_E2M3", "F6_E3M2", "F8_E8M0"};

uint64_t ReadLE64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

std::string RangeString(const TensorInfo& t) {
  return "[" + std::to_string(t.offset) + ", " + std::to_string(t.offset + t.nbytes) + "]";
}

}  // namespace

int64_t TensorInfo::numel() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

SafetensorsFile::~SafetensorsFile() {
  if (base_) munmap(const_cast<uint8_t*>(base_), size_);
}

const TensorInfo* SafetensorsFile::Find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const void* SafetensorsFile::data(const TensorInfo& tensor) const {
  return base_ + data_start_ + tensor.offset;
}

StatusOr<std::shared_ptr<const SafetensorsFile>> SafetensorsFile::Open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  const std::string& p = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError(p + ": cannot open: " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return IoError(p + ": cannot stat: " + std::strerror(e));
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return DataLoss(p + ": file is truncated: " + std::to_string(size) +
                    " bytes, shorter than the 8-byte header length");
  }
  void* map = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (map == MAP_FAILED) return IoError(p + ": cannot map: " + std::strerror(map_errno));
  file->base_ = static_cast<const uint8_t*>(map);
  file->size_ = size;

  const uint64_t header_len = ReadLE64(file->base_);
  if (header_len > size - 8) {
    return DataLoss(p + ": header length " + std::to_string(header_len) +
                    " is larger than the file (" + std::to_string(size) +
                    " bytes): truncated or not a safetensors file");
  }
  file->data_start_ = 8 + header_len;
  const uint64_t data_size = size - file->data_start_;
  json header;
  try {
    header = json::parse(file->base_ + 8, file->base_ + 8 + header_len);
  } catch (const json::exception& e) {  // also a number beyond double ("1e999")
    return DataLoss(p + ": header is not valid JSON: " + e.what());
  }
  if (!header.is_object()) return DataLoss(p + ": header is not a JSON object");

  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const json& entry = it.value();
    if (name == "__metadata__") {
      if (!entry.is_object()) return DataLoss(p + ": __metadata__ is not an object");
      for (auto m = entry.begin(); m != entry.end(); ++m) {
        file->metadata_[m.key()] =
            m.value().is_string() ? m.value().get<std::string>() : m.value().dump();
      }
      continue;
    }
    const std::string where = p + ": tensor " + name;
    if (!entry.is_object()) return DataLoss(where + ": header entry is not an object");
    auto dt = entry.find("dtype");
    auto sh = entry.find("shape");
    auto off = entry.find("data_offsets");
    if (dt == entry.end() || !dt->is_string() || sh == entry.end() || !sh->is_array() ||
        off == entry.end() || !off->is_array() || off->size() != 2) {
      return DataLoss(where + ": header entry needs dtype, shape and data_offsets [begin, end]");
    }
    TensorInfo t;
    t.name = name;
    const std::string dtype = dt->get<std::string>();
    if (dtype == "F32") {
      t.dtype = DType::kF32;
    } else if (dtype == "F16") {
      t.dtype = DType::kF16;
    } else if (dtype == "BF16") {
      t.dtype = DType::kBF16;
    } else {
      const bool known = std::any_of(std::begin(kOtherDTypes), std::end(kOtherDTypes),
                                     [&](const char* d) { return dtype == d; });
      if (known) {
        return Unsupported(where + " has dtype " + dtype +
                           "; only F32, F16 and BF16 are supported");
      }
      return DataLoss(where + ": unknown dtype '" + dtype + "'");
    }
    uint64_t numel = 1;
    for (const json& d : *sh) {
      if (!d.is_number_unsigned()) return DataLoss(where + ": shape " + sh->dump() + " is invalid");
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > (uint64_t{1} << 62) / dim) {
        return DataLoss(where + ": shape " + sh->dump() + " is too large");
      }
      numel *= dim;
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    if (!(*off)[0].is_number_unsigned() || !(*off)[1].is_number_unsigned()) {
      return DataLoss(where + ": data_offsets " + off->dump() + " are not byte offsets");
    }
    const uint64_t begin = (*off)[0].get<uint64_t>();
    const uint64_t end = (*off)[1].get<uint64_t>();
    if (end < begin)
      return DataLoss(where + ": data_offsets " + off->dump() + " end before they begin");
    t.offset = begin;
    t.nbytes = end - begin;
    const uint64_t expected = numel * DTypeSize(t.dtype);
    if (t.nbytes != expected) {
      return DataLoss(where + ": data_offsets " + off->dump() + " hold " +
                      std::to_string(t.nbytes) + " bytes, but dtype " + dtype + " and shape " +
                      ShapeString(t.shape) + " need " + std::to_string(expected));
    }
    file->tensors_.push_back(std::move(t));
  }

  auto& ts = file->tensors_;
  std::sort(ts.begin(), ts.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.nbytes < b.nbytes;
  });
  uint64_t covered = 0;  // largest end so far
  size_t last = 0;       // the tensor that ends there
  bool contiguous = true;
  for (size_t i = 0; i < ts.size(); ++i) {
    if (ts[i].nbytes > 0 && ts[i].offset < covered) {
      return DataLoss(p + ": tensors " + ts[last].name + " " + RangeString(ts[last]) + " and " +
                      ts[i].name + " " + RangeString(ts[i]) + " overlap");
    }
    if (ts[i].offset != covered) contiguous = false;
    if (ts[i].offset + ts[i].nbytes >= covered) {
      covered = ts[i].offset + ts[i].nbytes;
      last = i;
    }
  }
  for (const TensorInfo& t : ts) {
    if (t.offset + t.nbytes > data_size) {
      if (contiguous) {
        return DataLoss(p + ": file is truncated: the header describes " + std::to_string(covered) +
                        " bytes of tensor data, only " + std::to_string(data_size) +
                        " follow the header (tensor " + t.name + " " + RangeString(t) +
                        " is cut off)");
      }
      return DataLoss(p + ": tensor " + t.name + ": data_offsets " + RangeString(t) +
                      " are out of range (the data section holds " + std::to_string(data_size) +
                      " bytes)");
    }
  }
  if (!contiguous || covered != data_size) {
    return DataLoss(p + ": the data section (" + std::to_string(data_size) +
                    " bytes) is not exactly covered by the tensors' data_offsets (holes or "
                    "trailing bytes)");
  }
  for (size_t i = 0; i < ts.size(); ++i) file->index_.emplace(ts[i].name, i);
  return std::shared_ptr<const SafetensorsFile>(std::move(file));
}

Status WriteSafetensors(const std::string& path, const std::vector<TensorData>& tensors,
                        const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const TensorData& t : tensors) {
    int64_t numel = 1;
    for (int64_t d : t.shape) numel *= d;
    const uint64_t nbytes = static_cast<uint64_t>(numel) * DTypeSize(t.dtype);
    if (header.contains(t.name))
      return InvalidArgument(path + ": tensor " + t.name + " written twice");
    header[t.name] = {{"dtype", DTypeName(t.dtype)},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return IoError(path + ": cannot create: " + std::strerror(errno));
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(text.size() >> (8 * i));
  out.write(reinterpret_cast<const char*>(len), 8);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  for (const TensorData& t : tensors) {
    int64_t numel = 1;
    for (int64_t d : t.shape) numel *= d;
    out.write(static_cast<const char*>(t.data),
              static_cast<std::streamsize>(numel * DTypeSize(t.dtype)));
  }
  out.flush();
  if (!out) return IoError(path + ": write failed");
  return Status::Ok();
}

}  // namespace compass::model
