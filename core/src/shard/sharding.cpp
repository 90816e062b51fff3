#include "shard/sharding.h"

#include <charconv>

#include "results/request_hash.h"

namespace compass {

namespace {

// MurmurHash3's 64-bit finalizer: every input bit moves every output bit.
uint64_t Mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

uint64_t Hex64(std::string_view digits) {
  uint64_t value = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), value, 16);
  return value;
}

}  // namespace

uint32_t ShardOf(const std::string& key, uint32_t world) {
  if (world <= 1) return 0;
  const std::string_view hash = std::string_view(key).substr(0, key.find('#'));
  // FNV-1a's digest is not uniform modulo small numbers: both halves are
  // mixed first.
  const size_t half = hash.size() > 16 ? hash.size() - 16 : 0;
  const uint64_t high = Hex64(hash.substr(0, half)), low = Hex64(hash.substr(half));
  return static_cast<uint32_t>(Mix(high ^ Mix(low)) % world);
}

std::string ShardKey(const compass_request& r, const std::string& hash) {
  if (r.kind != COMPASS_REQUEST_LOGLIKELIHOOD || r.continuation.size == 0) return hash;
  compass_tokens input_tail = r.continuation;
  input_tail.size -= 1;
  return Hasher().Add("scoring input").Add(r.context).Add(input_tail).Hex();
}

std::string SafeLaunchId(const std::string& launch) {
  std::string out = launch;
  for (char& c : out) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out.empty() ? "launch" : out;
}

std::string ShardFileName(const ShardName& name) {
  return SafeLaunchId(name.launch) + "-w" + std::to_string(name.world) + "-r" +
         std::to_string(name.rank) + ".sqlite";
}

std::optional<ShardName> ParseShardFileName(const std::string& file_name) {
  constexpr std::string_view kExt = ".sqlite";
  if (file_name.size() <= kExt.size() ||
      file_name.compare(file_name.size() - kExt.size(), kExt.size(), kExt) != 0) {
    return std::nullopt;
  }
  const std::string stem = file_name.substr(0, file_name.size() - kExt.size());
  const size_t r = stem.rfind("-r");
  if (r == std::string::npos) return std::nullopt;
  const size_t w = stem.rfind("-w", r);
  if (w == std::string::npos || w == 0) return std::nullopt;
  auto number = [](std::string_view text, uint32_t* out) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
    return !text.empty() && ec == std::errc() && end == text.data() + text.size();
  };
  ShardName name;
  name.launch = stem.substr(0, w);
  if (!number(std::string_view(stem).substr(w + 2, r - w - 2), &name.world) ||
      !number(std::string_view(stem).substr(r + 2), &name.rank) || name.world == 0 ||
      name.rank >= name.world) {
    return std::nullopt;
  }
  return name;
}

}  // namespace compass
