// Header-only stop-string matching for backends: exact, and O(new bytes)
// per generated token.
//
// The host gives every backend, at create, the bytes each token id adds to a
// decoded text (compass_backend_config.token_bytes). A generation's text is
// the concatenation of its tokens' bytes, so a stop string appears in the
// text exactly when it appears in that byte stream; the matcher keeps only
// the last (longest stop - 1) bytes of it and searches what the new token
// adds plus that tail. Multi-byte characters split across tokens join up in
// the stream as in the text.
//
//   compass::sdk::TokenBytes table(config);            // once, at create
//   compass::sdk::StopMatcher m(table, request);       // per sequence
//   if (m.feed(token)) { ... stop: finish_reason STOP_STRING ... }
//
// Threading: TokenBytes is immutable and may be shared; a StopMatcher
// belongs to one sequence.
#ifndef COMPASS_STOP_MATCHER_HPP_
#define COMPASS_STOP_MATCHER_HPP_

#include <compass/plugin.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace compass::sdk {

// A borrowed view of the host's token byte table (valid until the backend
// is destroyed, as the config it comes from).
class TokenBytes {
 public:
  TokenBytes() = default;
  explicit TokenBytes(const compass_backend_config& config) {
    if (COMPASS_HAS_FIELD(compass_backend_config, config.struct_size, num_token_bytes)) {
      table_ = config.token_bytes;
      size_ = config.num_token_bytes;
    }
  }
  TokenBytes(const compass_str* table, uint64_t size) : table_(table), size_(size) {}
  // "" for ids outside the table (e.g. padding rows of an embedding).
  std::string_view operator[](int64_t id) const {
    if (id < 0 || static_cast<uint64_t>(id) >= size_ || table_[id].size == 0) return {};
    return {table_[id].data, static_cast<size_t>(table_[id].size)};
  }
  uint64_t size() const { return size_; }

 private:
  const compass_str* table_ = nullptr;
  uint64_t size_ = 0;
};

class StopMatcher {
 public:
  StopMatcher() = default;
  StopMatcher(const TokenBytes& bytes, const compass_str* stops, uint64_t num_stops)
      : bytes_(&bytes) {
    for (uint64_t i = 0; i < num_stops; ++i) {
      if (stops[i].size == 0) continue;  // an empty stop string never stops
      stops_.emplace_back(stops[i].data, static_cast<size_t>(stops[i].size));
      longest_ = std::max(longest_, stops_.back().size());
    }
  }
  StopMatcher(const TokenBytes& bytes, const compass_request& request)
      : StopMatcher(bytes, request.stop, request.num_stop) {}

  bool active() const { return !stops_.empty(); }

  // Appends `token`'s bytes; true when some stop string now occurs in the
  // text (it may end inside this token or span earlier ones).
  bool feed(int64_t token) {
    if (stops_.empty() || bytes_ == nullptr) return false;
    const std::string_view add = (*bytes_)[token];
    if (add.empty()) return false;
    window_.append(add.data(), add.size());
    bool hit = false;
    for (const std::string& s : stops_) {
      if (window_.find(s) != std::string::npos) {
        hit = true;
        break;
      }
    }
    // Keep the bytes a later match could still start in.
    if (window_.size() >= longest_) window_.erase(0, window_.size() - (longest_ - 1));
    return hit;
  }
  void reset() { window_.clear(); }

 private:
  const TokenBytes* bytes_ = nullptr;
  std::vector<std::string> stops_;
  size_t longest_ = 0;
  std::string window_;  // at most longest_ - 1 bytes between feeds
};

}  // namespace compass::sdk

#endif  // COMPASS_STOP_MATCHER_HPP_
