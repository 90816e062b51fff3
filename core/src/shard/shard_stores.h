// The stores of a sharded run folder: <dir>/results.sqlite (what is merged)
// and <dir>/shards/*.sqlite (each process's own answers, sharding.h). A
// process of a launch reads every store that an earlier launch left (any
// world size) to skip what is stored; rank 0 (or `compass merge`) copies
// every shard's answers into results.sqlite once all are there.
//
// Errors name the file. A store holding another config's or another
// backend's run is refused as a resume would refuse it.
//
// Threading: functions of the folder; a folder's shards are merged by one
// process at a time (the caller holds the folder's lock).
#ifndef COMPASS_SHARD_SHARD_STORES_H_
#define COMPASS_SHARD_SHARD_STORES_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "results/results_store.h"
#include "shard/sharding.h"
#include "util/status.h"

namespace compass {

struct ShardStoreFile {
  std::string path;
  ShardName name;
};

// The shard stores in <dir>/shards, sorted by file name; none when the
// folder does not exist.
StatusOr<std::vector<ShardStoreFile>> ListShardStores(const std::string& dir);

// The responses among `keys` that results.sqlite or a shard store of a
// launch other than `current_launch` holds (any launch when it is ""). Each store's run must have
// `config_hash` and `backend`, else InvalidArgument naming the file.
StatusOr<std::map<std::string, StoredResponse>> StoredResponses(const std::string& dir,
                                                                const std::set<std::string>& keys,
                                                                const std::string& current_launch,
                                                                const std::string& config_hash,
                                                                const std::string& backend);

struct MergeCounts {
  size_t shard_files = 0;
  uint64_t responses = 0;  // copied (or already in `into`)
};

// Copies every response of every shard store of `dir` into `into` (one
// transaction per shard), checking each shard's run as StoredResponses
// does, then removes the shard files: their answers are in `into`.
StatusOr<MergeCounts> MergeShardStores(const std::string& dir, ResultsStore& into,
                                       const std::string& config_hash, const std::string& backend);

// Where the run's config came from, beside the shard stores
// (shards/run.json), so that `compass merge` can read the stored config
// with its relative paths resolved as the run resolved them.
inline constexpr char kShardRunFile[] = "run.json";
Status WriteShardRunFile(const std::string& dir, const std::string& config_file,
                         const std::string& base_dir);
// The base folder recorded there; "" when there is none.
std::string ReadShardBaseDir(const std::string& dir);

// Removes every shard store of `dir` (and run.json) (and shards/ when it is then empty).
Status RemoveShardStores(const std::string& dir);

}  // namespace compass

#endif  // COMPASS_SHARD_SHARD_STORES_H_
