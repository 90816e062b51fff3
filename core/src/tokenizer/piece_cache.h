// A bounded cache of the ids of encoded pieces (words repeat a lot in text).
// Direct-mapped: a piece goes to the slot its hash names and replaces what
// was there, so memory stays fixed and frequent pieces stay in. Each slot is
// one cache line; pieces longer than kMaxPiece bytes or with more than kMaxIds
// ids are not cached.
//
// Threading: Lookup and Store are safe to call concurrently (slots are
// locked in stripes).
#ifndef COMPASS_TOKENIZER_PIECE_CACHE_H_
#define COMPASS_TOKENIZER_PIECE_CACHE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

namespace compass::hf {

class PieceCache {
 public:
  static constexpr size_t kMaxPiece = 32;
  static constexpr size_t kMaxIds = 5;

  // `slots` is rounded up to a power of two.
  explicit PieceCache(size_t slots);

  static uint64_t Hash(std::string_view piece);

  // Appends the ids of `piece` to `out` and returns true when cached.
  bool Lookup(std::string_view piece, uint64_t hash, std::vector<int32_t>* out) const;
  // Does nothing for pieces or id lists too long to cache.
  void Store(std::string_view piece, uint64_t hash, const int32_t* ids, size_t n);

 private:
  struct alignas(64) Slot {
    uint64_t hash;
    uint8_t piece_size;  // 0: empty slot (pieces are never empty)
    uint8_t id_count;
    int32_t ids[kMaxIds];
    char piece[kMaxPiece];
  };
  static constexpr size_t kStripes = 64;

  std::unique_ptr<Slot[]> slots_;
  size_t mask_;
  mutable std::array<std::mutex, kStripes> stripes_;
};

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_PIECE_CACHE_H_
