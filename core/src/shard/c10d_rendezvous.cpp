// libcompass_rendezvous.so: the rendezvous API (rendezvous_api.h) over
// libtorch's c10d stores. Linked with libtorch; loaded by compass only for
// sharded runs.
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "shard/rendezvous_api.h"

struct compass_rdv {
  c10::intrusive_ptr<c10d::Store> store;
};

namespace {

void Fill(char* error, size_t size, const std::string& text) {
  if (error == nullptr || size == 0) return;
  const size_t n = std::min(size - 1, text.size());
  std::memcpy(error, text.data(), n);
  error[n] = '\0';
}

// Runs `f`, turning every exception into COMPASS_RDV_ERROR with its text.
template <typename F>
int Guard(char* error, size_t size, F&& f) {
  try {
    return f();
  } catch (const c10::Error& e) {
    Fill(error, size, e.what_without_backtrace());
  } catch (const std::exception& e) {
    Fill(error, size, e.what());
  } catch (...) {
    Fill(error, size, "unknown error");
  }
  return COMPASS_RDV_ERROR;
}

int Open(const char* host, uint16_t port, int is_server, const char* file, uint32_t world,
         int64_t timeout_ms, compass_rdv** out, char* error, size_t size) {
  return Guard(error, size, [&] {
    auto* h = new compass_rdv;
    try {
      const std::chrono::milliseconds timeout(timeout_ms);
      if (host != nullptr && *host != '\0') {
        c10d::TCPStoreOptions options;
        options.port = port;
        options.isServer = is_server != 0;
        options.numWorkers = world;
        // The others are waited for by the caller, which says who is missing.
        options.waitWorkers = false;
        options.timeout = timeout;
        h->store = c10::make_intrusive<c10d::TCPStore>(host, options);
      } else {
        h->store = c10::make_intrusive<c10d::FileStore>(file, static_cast<int>(world));
        h->store->setTimeout(timeout);
      }
    } catch (...) {
      delete h;
      throw;
    }
    *out = h;
    return COMPASS_RDV_OK;
  });
}

int Set(compass_rdv* h, const char* key, const char* value, size_t n, char* error, size_t size) {
  return Guard(error, size, [&] {
    h->store->set(key, std::vector<uint8_t>(value, value + n));
    // TCPStore's set is not acknowledged: a check on the same connection,
    // which the server answers after the set, makes it visible to every
    // client before Set returns.
    (void)h->store->check({key});
    return COMPASS_RDV_OK;
  });
}

int Get(compass_rdv* h, const char* key, char* value, size_t* n, char* error, size_t size) {
  return Guard(error, size, [&] {
    if (!h->store->check({key})) return static_cast<int>(COMPASS_RDV_NOT_FOUND);
    const std::vector<uint8_t> v = h->store->get(key);
    const size_t capacity = *n;
    *n = v.size();
    if (v.size() > capacity) return static_cast<int>(COMPASS_RDV_TOO_SMALL);
    if (!v.empty()) std::memcpy(value, v.data(), v.size());
    return static_cast<int>(COMPASS_RDV_OK);
  });
}

int Add(compass_rdv* h, const char* key, int64_t delta, int64_t* result, char* error, size_t size) {
  return Guard(error, size, [&] {
    *result = h->store->add(key, delta);
    return COMPASS_RDV_OK;
  });
}

void Close(compass_rdv* h) {
  try {
    delete h;
  } catch (...) {
  }
}

constexpr compass_rdv_api kApi{COMPASS_RENDEZVOUS_API_VERSION, Open, Set, Get, Add, Close};

}  // namespace

extern "C" __attribute__((visibility("default"))) const compass_rdv_api* compass_rendezvous_api() {
  return &kApi;
}
