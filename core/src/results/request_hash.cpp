#include "results/request_hash.h"

#include <cstdio>
#include <cstring>

namespace compass {

namespace {
const unsigned __int128 kPrime =
    (static_cast<unsigned __int128>(0x0000000001000000ULL) << 64) | 0x000000000000013BULL;
}

void Hasher::Byte(uint8_t b) {
  state_ ^= b;
  state_ *= kPrime;
}

Hasher& Hasher::Add(uint64_t value) {
  for (int i = 0; i < 8; ++i) Byte(static_cast<uint8_t>(value >> (8 * i)));
  return *this;
}

Hasher& Hasher::Add(std::string_view bytes) {
  Add(static_cast<uint64_t>(bytes.size()));  // length-prefixed: fields cannot run together
  for (unsigned char c : bytes) Byte(c);
  return *this;
}

Hasher& Hasher::Add(compass_tokens tokens) {
  Add(tokens.size);
  for (uint64_t i = 0; i < tokens.size; ++i) Add(static_cast<uint64_t>(tokens.ids[i]));
  return *this;
}

std::string Hasher::Hex() const {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(state_ >> 64),
                static_cast<unsigned long long>(state_));
  return buf;
}

std::string HashRequest(const compass_request& r) {
  Hasher h;
  if (r.kind == COMPASS_REQUEST_LOGLIKELIHOOD) {
    return h.Add("loglikelihood").Add(r.context).Add(r.continuation).Hex();
  }
  h.Add("generate").Add(r.context).Add(r.stop_token_ids).Add(uint64_t{r.max_new_tokens});
  h.Add(r.num_stop);
  for (uint64_t i = 0; i < r.num_stop; ++i) {
    h.Add(std::string_view(r.stop[i].data ? r.stop[i].data : "", r.stop[i].size));
  }
  // Greedy requests hash as they always did; sampling adds its parameters.
  if (r.temperature > 0.0f || r.num_samples > 1) {
    h.Add("sampling").Add(uint64_t{r.num_samples});
    for (float f : {r.temperature, r.top_p}) {
      uint32_t bits;
      std::memcpy(&bits, &f, sizeof bits);
      h.Add(uint64_t{bits});
    }
    h.Add(static_cast<uint64_t>(static_cast<int64_t>(r.top_k))).Add(r.seed);
  }
  return h.Hex();
}

std::string SampleKey(const std::string& hash, uint32_t sample) {
  return sample == 0 ? hash : hash + "#" + std::to_string(sample);
}

}  // namespace compass
