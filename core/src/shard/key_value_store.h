// The key-value store the processes of a launch share to meet, publish
// heartbeats and say when they are done (coordinator.h). The rendezvous
// library implements it over libtorch's c10d stores
// (rendezvous_library.h); tests use an in-memory one.
//
// Threading: one thread at a time per object. Every call returns at once or
// fails (no call waits for a key to be set).
#ifndef COMPASS_SHARD_KEY_VALUE_STORE_H_
#define COMPASS_SHARD_KEY_VALUE_STORE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "util/status.h"

namespace compass {

class KeyValueStore {
 public:
  virtual ~KeyValueStore() = default;
  virtual Status Set(const std::string& key, const std::string& value) = 0;
  // nullopt when `key` is not set.
  virtual StatusOr<std::optional<std::string>> Get(const std::string& key) = 0;
  // Adds `delta` to the integer under `key` (0 when unset); the new value.
  virtual StatusOr<int64_t> Add(const std::string& key, int64_t delta) = 0;
};

}  // namespace compass

#endif  // COMPASS_SHARD_KEY_VALUE_STORE_H_
