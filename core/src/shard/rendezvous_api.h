/* The C interface of the rendezvous library (libcompass_rendezvous.so):
 * a key-value store shared by the processes of a launch, which the torch-free
 * compass executable loads only for a sharded run (rendezvous_library.h).
 * It wraps libtorch's c10d stores: TCPStore (rank 0 serves it at
 * MASTER_ADDR:MASTER_PORT) or FileStore (a file on a file system every
 * process sees).
 *
 * Every function returns 0 on success, else a non-zero status with a
 * message in `error` (NUL-terminated, truncated to `error_size`, owned by
 * the caller). No exception crosses this interface. A handle is used by
 * one thread at a time.
 */
#ifndef COMPASS_SHARD_RENDEZVOUS_API_H_
#define COMPASS_SHARD_RENDEZVOUS_API_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COMPASS_RENDEZVOUS_API_VERSION 1

enum {
  COMPASS_RDV_OK = 0,
  COMPASS_RDV_ERROR = 1,     /* the store failed (unreachable server, I/O) */
  COMPASS_RDV_NOT_FOUND = 2, /* get: the key is not set */
  COMPASS_RDV_TOO_SMALL = 3  /* get: the value does not fit; *size says how long it is */
};

typedef struct compass_rdv compass_rdv;

typedef struct compass_rdv_api {
  uint32_t version; /* COMPASS_RENDEZVOUS_API_VERSION */
  /* Opens the store: TCP when `host` is not empty (`is_server` on rank 0,
   * which serves it on `port`), else the file `file`. `world` processes
   * share it; connecting waits at most `timeout_ms`. *out is released with
   * close. */
  int (*open)(const char* host, uint16_t port, int is_server, const char* file, uint32_t world,
              int64_t timeout_ms, compass_rdv** out, char* error, size_t error_size);
  int (*set)(compass_rdv* store, const char* key, const char* value, size_t size, char* error,
             size_t error_size);
  /* Does not wait: COMPASS_RDV_NOT_FOUND when `key` is not set. On input
   * *size is the capacity of `value`, on output the value's length. */
  int (*get)(compass_rdv* store, const char* key, char* value, size_t* size, char* error,
             size_t error_size);
  /* Adds `delta` to the integer under `key` (0 when unset); *result is
   * the new value. */
  int (*add)(compass_rdv* store, const char* key, int64_t delta, int64_t* result, char* error,
             size_t error_size);
  void (*close)(compass_rdv* store);
} compass_rdv_api;

/* The one exported symbol. */
const compass_rdv_api* compass_rendezvous_api(void);

#ifdef __cplusplus
}
#endif

#endif /* COMPASS_SHARD_RENDEZVOUS_API_H_ */
