#include "models/checkpoint.h"

#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "util/strings.h"

namespace compass::model {
namespace {

using nlohmann::json;

bool IsFile(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Element i of a tensor as a float, for comparing tensors of any dtype.
float ElementAt(const void* data, DType dtype, int64_t i) {
  switch (dtype) {
    case DType::kF32: {
      float v;
      std::memcpy(&v, static_cast<const char*>(data) + 4 * i, 4);
      return v;
    }
    case DType::kF16:
    case DType::kBF16: {
      uint16_t v;
      std::memcpy(&v, static_cast<const char*>(data) + 2 * i, 2);
      return dtype == DType::kF16 ? F16ToFloat(v) : BF16ToFloat(v);
    }
  }
  return 0;
}

bool SameValues(const Checkpoint::Entry& a, const Checkpoint::Entry& b) {
  if (a.info->shape != b.info->shape) return false;
  const void* da = a.file->data(*a.info);
  const void* db = b.file->data(*b.info);
  if (a.info->dtype == b.info->dtype) return std::memcmp(da, db, a.info->nbytes) == 0;
  for (int64_t i = 0; i < a.info->numel(); ++i) {
    if (ElementAt(da, a.info->dtype, i) != ElementAt(db, b.info->dtype, i)) return false;
  }
  return true;
}

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

const Checkpoint::Entry* Checkpoint::Find(std::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

uint64_t Checkpoint::tensor_bytes() const {
  uint64_t total = 0;
  for (const auto& [name, entry] : entries_) total += entry.info->nbytes;
  return total;
}

StatusOr<Checkpoint> Checkpoint::Open(const std::string& dir) {
  Checkpoint c;
  c.dir_ = dir;
  const std::string single = dir + "/model.safetensors";
  const std::string index_path = dir + "/model.safetensors.index.json";
  if (IsFile(single)) {
    COMPASS_ASSIGN_OR_RETURN(auto file, SafetensorsFile::Open(single));
    c.source_ = single;
    for (const TensorInfo& t : file->tensors()) c.entries_[t.name] = Entry{file, &t};
    c.files_.push_back(std::move(file));
    return c;
  }
  if (!IsFile(index_path)) {
    return NotFound(dir +
                    ": no model.safetensors or model.safetensors.index.json (only "
                    "safetensors checkpoints are supported)");
  }
  c.source_ = index_path;
  c.sharded_ = true;
  std::ifstream in(index_path, std::ios::binary);
  if (!in) return IoError(index_path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  json index;
  try {
    index = json::parse(text.str());
  } catch (const json::exception& e) {  // also a number beyond double ("1e999")
    return DataLoss(index_path + ": not valid JSON: " + e.what());
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object()) {
    return DataLoss(index_path + ": expected an object with a \"weight_map\" object");
  }
  std::map<std::string, std::shared_ptr<const SafetensorsFile>> shards;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    const std::string& name = it.key();
    if (!it.value().is_string()) {
      return DataLoss(index_path + ": weight_map entry for " + name + " is not a file name");
    }
    const std::string shard = it.value().get<std::string>();
    if (shard.empty() || shard.find('/') != std::string::npos || shard == "." || shard == "..") {
      return DataLoss(index_path + ": weight_map names '" + shard + "' for tensor " + name +
                      "; expected a file name in the same directory");
    }
    auto found = shards.find(shard);
    if (found == shards.end()) {
      auto opened = SafetensorsFile::Open(dir + "/" + shard);
      if (!opened.ok()) {
        return opened.status().WithContext(index_path + ": shard for tensor " + name);
      }
      found = shards.emplace(shard, std::move(opened).value()).first;
      c.files_.push_back(found->second);
    }
    const TensorInfo* info = found->second->Find(name);
    if (!info) {
      return DataLoss(index_path + ": weight_map places tensor " + name + " in " + shard +
                      ", which does not hold it");
    }
    c.entries_[name] = Entry{found->second, info};
  }
  for (const auto& file : c.files_) {
    for (const TensorInfo& t : file->tensors()) {
      const Entry* e = c.Find(t.name);
      if (!e) {
        return DataLoss(file->path() + ": tensor " + t.name + " is not in the weight_map of " +
                        index_path);
      }
      if (e->file != file) {
        return DataLoss(file->path() + ": tensor " + t.name + " is also in " + e->file->path());
      }
    }
  }
  return c;
}

Status ValidateCheckpoint(const Checkpoint& checkpoint, const ModelConfig& config) {
  const std::string config_name = BaseName(config.source);
  std::set<std::string> expected;
  std::vector<std::string> missing;
  for (const ParamSpec& p : ExpectedParameters(config)) {
    expected.insert(p.name);
    const Checkpoint::Entry* e = checkpoint.Find(p.name);
    if (!e) {
      missing.push_back(p.name + " " + ShapeString(p.shape));
      continue;
    }
    if (e->info->shape != p.shape) {
      return InvalidArgument(e->file->path() + ": tensor " + p.name + " has shape " +
                             ShapeString(e->info->shape) + ", expected " + ShapeString(p.shape) +
                             " from " + config_name);
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
    if (missing.size() > 5) list += ", ... (" + std::to_string(missing.size()) + " in all)";
    return NotFound(checkpoint.source() + ": tensor" + (missing.size() > 1 ? "s " : " ") + list +
                    (missing.size() > 1 ? " are" : " is") + " missing (expected from " +
                    config_name + " for " + ArchitectureName(config.architecture) + ")");
  }
  std::vector<std::string> unexpected;
  std::string first_file;
  for (const std::string& name : checkpoint.names()) {
    if (expected.count(name) || EndsWith(name, ".rotary_emb.inv_freq")) continue;
    const Checkpoint::Entry* e = checkpoint.Find(name);
    if (name == "lm_head.weight" && config.tie_word_embeddings) {
      const Checkpoint::Entry* embed = checkpoint.Find("model.embed_tokens.weight");
      if (!SameValues(*e, *embed)) {
        return InvalidArgument(e->file->path() + ": tensor lm_head.weight " +
                               ShapeString(e->info->shape) +
                               " differs from model.embed_tokens.weight, but " + config_name +
                               " sets tie_word_embeddings: the head is ambiguous");
      }
      continue;
    }
    unexpected.push_back(name);
    if (unexpected.size() == 1) first_file = e->file->path();
  }
  if (!unexpected.empty()) {
    std::string list;
    for (size_t i = 0; i < unexpected.size() && i < 5; ++i) list += (i ? ", " : "") + unexpected[i];
    if (unexpected.size() > 5) list += ", ... (" + std::to_string(unexpected.size()) + " in all)";
    return InvalidArgument(first_file + ": unexpected tensor" +
                           std::string(unexpected.size() > 1 ? "s " : " ") + list +
                           " (not part of " + ArchitectureName(config.architecture) + " as " +
                           config_name + " describes it)");
  }
  return Status::Ok();
}

}  // namespace compass::model
