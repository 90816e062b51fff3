// Stable content hashes of requests: the key under which a response is
// stored, so a resumed run knows what it already computed.
#ifndef COMPASS_RESULTS_REQUEST_HASH_H_
#define COMPASS_RESULTS_REQUEST_HASH_H_

#include <compass/plugin.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace compass {

// 128-bit FNV-1a over a sequence of typed fields; hex digest.
class Hasher {
 public:
  Hasher& Add(std::string_view bytes);
  Hasher& Add(uint64_t value);
  Hasher& Add(compass_tokens tokens);
  std::string Hex() const;  // 32 hex characters

 private:
  void Byte(uint8_t b);
  unsigned __int128 state_ =
      (static_cast<unsigned __int128>(0x6c62272e07bb0142ULL) << 64) | 0x62b821756295c58dULL;
};

// The content hash of a request: its kind, token ids and every parameter
// that can change the answer (never its index).
std::string HashRequest(const compass_request& r);
// The store key of sample `sample` of a request: the hash itself for the
// first (and usually only) sample, "hash#N" for the others.
std::string SampleKey(const std::string& hash, uint32_t sample);

}  // namespace compass

#endif  // COMPASS_RESULTS_REQUEST_HASH_H_
