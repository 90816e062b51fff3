// Loads the rendezvous library (libcompass_rendezvous.so, linked with
// libtorch; rendezvous_api.h) on demand, so that the compass executable
// stays free of libtorch: only a sharded run loads it. The library is
// looked for at COMPASS_RENDEZVOUS_LIBRARY when set, else beside the
// plugin folder (<prefix>/lib/compass/, relative to the executable).
//
// Errors: NotFound naming where it looked; Unsupported for another API
// version; the store's own errors as IoError with its message.
#ifndef COMPASS_SHARD_RENDEZVOUS_LIBRARY_H_
#define COMPASS_SHARD_RENDEZVOUS_LIBRARY_H_

#include <cstdint>
#include <memory>
#include <string>

#include "shard/key_value_store.h"
#include "util/status.h"

namespace compass {

struct RendezvousAddress {
  // TCP (c10d TCPStore) when `host` is set: rank 0 serves it on `port`.
  std::string host;
  uint16_t port = 0;
  bool is_server = false;
  // Else a file every process sees (c10d FileStore).
  std::string file;
  uint32_t world = 1;
  double connect_timeout_seconds = 300;
};

// Where the library is looked for.
std::string RendezvousLibraryPath();

// Loads the library (once per process) and opens the store. The store
// keeps the library loaded for as long as it lives.
StatusOr<std::unique_ptr<KeyValueStore>> OpenRendezvous(const RendezvousAddress& address);

}  // namespace compass

#endif  // COMPASS_SHARD_RENDEZVOUS_LIBRARY_H_
