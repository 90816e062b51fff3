#include "shard/shard_stores.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/atomic_file.h"

namespace compass {
namespace {

namespace fs = std::filesystem;

Status CheckRun(const ResultsStore& store, const std::string& config_hash,
                const std::string& backend) {
  auto run = store.Run();
  if (!run.ok()) {
    // A shard killed before it recorded its run holds nothing.
    return run.status().code() == COMPASS_NOT_FOUND ? Status::Ok() : run.status();
  }
  if (run->config_hash != config_hash || run->backend != backend) {
    return InvalidArgument(
        store.path() + " holds results of a different run (" +
        (run->backend != backend ? "backend '" + run->backend + "'"
                                 : std::string("another config")) +
        "); a sharded run does not discard them: move them away, or choose another --output");
  }
  return Status::Ok();
}

}  // namespace

StatusOr<std::vector<ShardStoreFile>> ListShardStores(const std::string& dir) {
  std::vector<ShardStoreFile> out;
  const fs::path folder = fs::path(dir) / kShardDir;
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) return out;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    if (auto name = ParseShardFileName(it->path().filename().string())) {
      out.push_back({it->path().string(), *name});
    }
  }
  if (ec) return IoError("cannot list " + folder.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const ShardStoreFile& a, const ShardStoreFile& b) { return a.path < b.path; });
  return out;
}

StatusOr<std::map<std::string, StoredResponse>> StoredResponses(const std::string& dir,
                                                                const std::set<std::string>& keys,
                                                                const std::string& current_launch,
                                                                const std::string& config_hash,
                                                                const std::string& backend) {
  std::vector<std::string> paths;
  std::error_code ec;
  const fs::path merged = fs::path(dir) / ResultsStore::kFileName;
  if (fs::exists(merged, ec)) paths.push_back(merged.string());
  COMPASS_ASSIGN_OR_RETURN(std::vector<ShardStoreFile> shards, ListShardStores(dir));
  for (const ShardStoreFile& s : shards) {
    if (current_launch.empty() || s.name.launch != SafeLaunchId(current_launch)) {
      paths.push_back(s.path);
    }
  }
  std::map<std::string, StoredResponse> out;
  for (const std::string& path : paths) {
    COMPASS_ASSIGN_OR_RETURN(auto store, ResultsStore::OpenFile(path, "", false));
    COMPASS_RETURN_IF_ERROR(CheckRun(*store, config_hash, backend));
    std::set<std::string> wanted;
    for (const std::string& k : keys) {
      if (out.count(k) == 0) wanted.insert(k);
    }
    COMPASS_ASSIGN_OR_RETURN(auto found, store->Responses(wanted));
    out.merge(found);
  }
  return out;
}

StatusOr<MergeCounts> MergeShardStores(const std::string& dir, ResultsStore& into,
                                       const std::string& config_hash, const std::string& backend) {
  MergeCounts counts;
  COMPASS_ASSIGN_OR_RETURN(std::vector<ShardStoreFile> shards, ListShardStores(dir));
  for (const ShardStoreFile& s : shards) {
    COMPASS_ASSIGN_OR_RETURN(auto store, ResultsStore::OpenFile(s.path, "", false));
    COMPASS_RETURN_IF_ERROR(CheckRun(*store, config_hash, backend));
    COMPASS_ASSIGN_OR_RETURN(std::set<std::string> hashes, store->ResponseHashes());
    COMPASS_ASSIGN_OR_RETURN(auto responses, store->Responses(hashes));
    std::vector<StoredResponse> batch;
    batch.reserve(responses.size());
    for (auto& [hash, r] : responses) batch.push_back(std::move(r));
    COMPASS_RETURN_IF_ERROR(into.PutResponses(batch));
    counts.responses += batch.size();
    ++counts.shard_files;
  }
  // Every answer is committed in `into`: the shard files go.
  COMPASS_RETURN_IF_ERROR(RemoveShardStores(dir));
  return counts;
}

Status WriteShardRunFile(const std::string& dir, const std::string& config_file,
                         const std::string& base_dir) {
  const nlohmann::json j = {{"config_file", config_file}, {"base_dir", base_dir}};
  return WriteFileAtomically(fs::path(dir) / kShardDir / kShardRunFile, j.dump(2) + "\n");
}

std::string ReadShardBaseDir(const std::string& dir) {
  std::ifstream in(fs::path(dir) / kShardDir / kShardRunFile);
  std::stringstream text;
  text << in.rdbuf();
  const auto j = nlohmann::json::parse(text.str(), nullptr, false);
  return j.is_object() ? j.value("base_dir", std::string()) : std::string();
}

Status RemoveShardStores(const std::string& dir) {
  COMPASS_ASSIGN_OR_RETURN(std::vector<ShardStoreFile> shards, ListShardStores(dir));
  std::error_code ec;
  for (const ShardStoreFile& s : shards) {
    for (const char* suffix : {"-wal", "-shm", ""}) {
      fs::remove(s.path + suffix, ec);
      if (ec) return IoError("cannot remove " + s.path + suffix + ": " + ec.message());
    }
  }
  fs::remove(fs::path(dir) / kShardDir / kShardRunFile, ec);
  fs::remove(fs::path(dir) / kShardDir, ec);  // only when empty; an error then is no failure
  return Status::Ok();
}

}  // namespace compass
