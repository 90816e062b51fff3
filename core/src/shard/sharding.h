// How a sharded run divides its requests: by the request's content hash
// (results/request_hash.h, the key resume uses), so a request's owner
// depends only on the request and the world size, never on the order of
// the tasks or on which requests an earlier launch already stored.
//
// Each process writes its answers to its own store file in
// <run dir>/shards/, named after the launch, the world size and the rank
// (ShardFileName), so that no two processes ever write one SQLite file.
//
// Threading: pure functions.
#ifndef COMPASS_SHARD_SHARDING_H_
#define COMPASS_SHARD_SHARDING_H_

#include <compass/plugin.h>

#include <cstdint>
#include <optional>
#include <string>

namespace compass {

// The rank that computes the request of `key` (ShardKey, or a stored key
// "hash#N" of sample N: every sample of a request goes with it) in a
// world of `world` processes: a 64-bit mix of the hash (MurmurHash3's
// finalizer over both halves) modulo the world.
uint32_t ShardOf(const std::string& key, uint32_t world);

// The key a request is sharded by. Log-likelihood requests whose model
// input is the same tokens (context and continuation but its last token:
// the choices of a multiple-choice question with one-token answers) are
// scored in one forward by the in-tree backends, and a forward's rounding
// depends on how many rows it scores: they must share a process for a
// sharded run to equal a single process exactly, so they share a key (the
// hash of that input). Every other request's key is `hash`, its content
// hash.
std::string ShardKey(const compass_request& request, const std::string& hash);

// The folder of the shard stores inside a run folder.
inline constexpr char kShardDir[] = "shards";

struct ShardName {
  std::string launch;
  uint32_t rank = 0, world = 1;
};

// "<launch>-w<world>-r<rank>.sqlite"; characters of `launch` other than
// letters, digits, '.', '_' and '-' become '_'.
std::string ShardFileName(const ShardName& name);
// The inverse, for the files found in shards/; nullopt for any other file.
std::optional<ShardName> ParseShardFileName(const std::string& file_name);
// `launch` as ShardFileName writes it.
std::string SafeLaunchId(const std::string& launch);

}  // namespace compass

#endif  // COMPASS_SHARD_SHARDING_H_
