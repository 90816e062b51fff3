#include "tokenizer/piece_cache.h"

#include <cstring>
#include <functional>

namespace compass::hf {

PieceCache::PieceCache(size_t slots) {
  size_t n = 1;
  while (n < slots) n *= 2;
  slots_.reset(new Slot[n]());
  mask_ = n - 1;
}

uint64_t PieceCache::Hash(std::string_view piece) {
  return std::hash<std::string_view>()(piece);
}

bool PieceCache::Lookup(std::string_view piece, uint64_t hash, std::vector<int32_t>* out) const {
  if (piece.size() > kMaxPiece) return false;
  const size_t index = hash & mask_;
  std::lock_guard<std::mutex> lock(stripes_[index % kStripes]);
  const Slot& slot = slots_[index];
  if (slot.hash != hash || slot.piece_size != piece.size() ||
      std::memcmp(slot.piece, piece.data(), piece.size()) != 0) {
    return false;
  }
  for (uint8_t i = 0; i < slot.id_count; ++i) out->push_back(slot.ids[i]);
  return true;
}

void PieceCache::Store(std::string_view piece, uint64_t hash, const int32_t* ids, size_t n) {
  if (piece.empty() || piece.size() > kMaxPiece || n > kMaxIds) return;
  const size_t index = hash & mask_;
  std::lock_guard<std::mutex> lock(stripes_[index % kStripes]);
  Slot& slot = slots_[index];
  slot.hash = hash;
  slot.piece_size = static_cast<uint8_t>(piece.size());
  slot.id_count = static_cast<uint8_t>(n);
  std::memcpy(slot.ids, ids, n * sizeof(int32_t));
  std::memcpy(slot.piece, piece.data(), piece.size());
}

}  // namespace compass::hf
