#include "shard/sharding.h"

#include <charconv>

namespace compass {

uint32_t ShardOf(const std::string& key, uint32_t world) {
  if (world <= 1) return 0;
  const std::string hash = key.substr(0, key.find('#'));
  // The digest's last 16 hex digits: FNV-1a mixes every byte into them.
  const size_t digits = hash.size() < 16 ? hash.size() : 16;
  uint64_t value = 0;
  std::from_chars(hash.data() + hash.size() - digits, hash.data() + hash.size(), value, 16);
  return static_cast<uint32_t>(value % world);
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
