#include "block_manager.h"

#include <algorithm>
#include <cassert>

namespace compass::paged_tp {

namespace {

uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t BlockManager::ChainHash(uint64_t parent_hash, const int32_t* tokens, int64_t count) {
  uint64_t h = Mix(parent_hash ^ 0x2545f4914f6cdd1dull);
  for (int64_t i = 0; i < count; ++i) {
    h = Mix(h ^ static_cast<uint32_t>(tokens[i]));
  }
  return h;
}

BlockManager::BlockManager(int64_t num_blocks, int64_t block_size, bool prefix_caching)
    : block_size_(std::max<int64_t>(block_size, 1)), prefix_caching_(prefix_caching) {
  num_blocks = std::max<int64_t>(num_blocks, 1);
  blocks_.resize(static_cast<size_t>(num_blocks));
  free_.reserve(static_cast<size_t>(num_blocks));
  for (int64_t i = num_blocks - 1; i >= 0; --i) free_.push_back(static_cast<BlockId>(i));
}

int64_t BlockManager::BlocksFor(int64_t tokens) const {
  if (tokens <= 0) return 0;
  return (tokens + block_size_ - 1) / block_size_;
}

BlockId BlockManager::Lookup(uint64_t hash, uint64_t parent_id, const int32_t* tokens) const {
  auto [first, last] = cached_.equal_range(hash);
  for (auto it = first; it != last; ++it) {
    const Block& b = blocks_[static_cast<size_t>(it->second)];
    if (b.parent_id == parent_id && std::equal(b.tokens.begin(), b.tokens.end(), tokens)) {
      return it->second;
    }
  }
  return -1;
}

std::vector<BlockId> BlockManager::Match(const std::vector<int32_t>& tokens, int64_t limit) const {
  std::vector<BlockId> out;
  if (!prefix_caching_) return out;
  limit = std::min<int64_t>(limit, static_cast<int64_t>(tokens.size()));
  const int64_t full = std::max<int64_t>(limit, 0) / block_size_;
  uint64_t parent_hash = kRootHash, parent_id = 0;
  for (int64_t i = 0; i < full; ++i) {
    const int32_t* t = tokens.data() + i * block_size_;
    const BlockId id = Lookup(hash_(parent_hash, t, block_size_), parent_id, t);
    if (id < 0) break;
    out.push_back(id);
    parent_hash = blocks_[static_cast<size_t>(id)].hash;
    parent_id = blocks_[static_cast<size_t>(id)].content_id;
  }
  return out;
}

int64_t BlockManager::MatchPrefix(const std::vector<int32_t>& tokens, int64_t limit) const {
  return static_cast<int64_t>(Match(tokens, limit).size()) * block_size_;
}

void BlockManager::Unregister(BlockId id) {
  Block& b = blocks_[static_cast<size_t>(id)];
  auto [first, last] = cached_.equal_range(b.hash);
  for (auto it = first; it != last; ++it) {
    if (it->second == id) {
      cached_.erase(it);
      break;
    }
  }
  // Blocks registered after this one keep its content id as their parent; the
  // id is never issued again, so they can no longer match (they age out of
  // the LRU like any other block).
  b.registered = false;
  b.tokens.clear();
  b.hash = b.content_id = b.parent_id = 0;
}

BlockId BlockManager::TakeBlock() {
  BlockId id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    assert(!lru_.empty());
    id = lru_.front();
    lru_.pop_front();
    Block& b = blocks_[static_cast<size_t>(id)];
    b.evictable = false;
    Unregister(id);
    ++stats_.evictions;
  }
  Block& b = blocks_[static_cast<size_t>(id)];
  assert(b.ref == 0 && !b.registered);
  b.ref = 1;
  return id;
}

void BlockManager::NotePeak() {
  stats_.peak_used_blocks = std::max(stats_.peak_used_blocks, UsedBlocks());
}

std::optional<int64_t> BlockManager::Allocate(SeqId seq, const std::vector<int32_t>& tokens,
                                              int64_t reuse_limit, int64_t capacity_tokens) {
  assert(!Has(seq));
  if (Has(seq)) return std::nullopt;
  const std::vector<BlockId> reused = Match(tokens, std::min(reuse_limit, capacity_tokens));
  int64_t reused_evictable = 0;
  for (BlockId id : reused) reused_evictable += blocks_[static_cast<size_t>(id)].evictable ? 1 : 0;
  const int64_t wanted = std::max<int64_t>(BlocksFor(capacity_tokens), reused.size());
  const int64_t fresh = wanted - static_cast<int64_t>(reused.size());
  if (fresh > AvailableBlocks() - reused_evictable) return std::nullopt;

  Seq& s = seqs_[seq];
  s.table.reserve(static_cast<size_t>(wanted));
  // Reused blocks leave the LRU before anything is evicted for the fresh ones.
  for (BlockId id : reused) {
    Block& b = blocks_[static_cast<size_t>(id)];
    if (b.evictable) {
      lru_.erase(b.lru);
      b.evictable = false;
    }
    ++b.ref;
    s.table.push_back(id);
    s.chain_ids.push_back(b.content_id);
    s.chain_hashes.push_back(b.hash);
  }
  for (int64_t i = 0; i < fresh; ++i) s.table.push_back(TakeBlock());
  s.reused_tokens = static_cast<int64_t>(reused.size()) * block_size_;
  stats_.reused_tokens += static_cast<uint64_t>(s.reused_tokens);
  NotePeak();
  return s.reused_tokens;
}

bool BlockManager::Grow(SeqId seq, int64_t capacity_tokens) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return false;
  std::vector<BlockId>& table = it->second.table;
  const int64_t fresh = BlocksFor(capacity_tokens) - static_cast<int64_t>(table.size());
  if (fresh <= 0) return true;
  if (fresh > AvailableBlocks()) return false;
  for (int64_t i = 0; i < fresh; ++i) table.push_back(TakeBlock());
  NotePeak();
  return true;
}

void BlockManager::Commit(SeqId seq, const std::vector<int32_t>& tokens, int64_t computed) {
  if (!prefix_caching_) return;
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  Seq& s = it->second;
  computed = std::min<int64_t>(computed, static_cast<int64_t>(tokens.size()));
  const int64_t full = std::min<int64_t>(computed / block_size_, s.table.size());
  for (int64_t i = static_cast<int64_t>(s.chain_ids.size()); i < full; ++i) {
    const uint64_t parent_hash = i == 0 ? kRootHash : s.chain_hashes[static_cast<size_t>(i - 1)];
    const uint64_t parent_id = i == 0 ? 0 : s.chain_ids[static_cast<size_t>(i - 1)];
    const int32_t* t = tokens.data() + i * block_size_;
    const uint64_t hash = hash_(parent_hash, t, block_size_);
    const BlockId own = s.table[static_cast<size_t>(i)];
    const BlockId existing = Lookup(hash, parent_id, t);
    if (existing >= 0) {
      // Same content already shared (another sequence computed it too): this
      // sequence keeps its own copy unregistered and chains onto the shared one.
      const Block& e = blocks_[static_cast<size_t>(existing)];
      s.chain_ids.push_back(e.content_id);
      s.chain_hashes.push_back(e.hash);
      continue;
    }
    Block& b = blocks_[static_cast<size_t>(own)];
    assert(!b.registered && b.ref == 1);
    b.registered = true;
    b.hash = hash;
    b.content_id = next_content_id_++;
    b.parent_id = parent_id;
    b.tokens.assign(t, t + block_size_);
    cached_.emplace(hash, own);
    s.chain_ids.push_back(b.content_id);
    s.chain_hashes.push_back(hash);
  }
}

void BlockManager::Free(SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return;
  const std::vector<BlockId>& table = it->second.table;
  // Last block first: a sequence's tail is evicted before the prefix it
  // hangs off, which other sequences are likelier to share.
  for (auto b = table.rbegin(); b != table.rend(); ++b) {
    Block& block = blocks_[static_cast<size_t>(*b)];
    assert(block.ref > 0);
    if (--block.ref > 0) continue;
    if (block.registered) {
      block.evictable = true;
      block.lru = lru_.insert(lru_.end(), *b);
    } else {
      free_.push_back(*b);
    }
  }
  seqs_.erase(it);
}

const std::vector<BlockId>& BlockManager::Table(SeqId seq) const {
  static const std::vector<BlockId> kEmpty;
  auto it = seqs_.find(seq);
  return it == seqs_.end() ? kEmpty : it->second.table;
}

bool BlockManager::Has(SeqId seq) const {
  return seqs_.count(seq) != 0;
}

bool BlockManager::CanWrite(SeqId seq, int64_t position) const {
  auto it = seqs_.find(seq);
  if (it == seqs_.end() || position < 0) return false;
  const int64_t index = position / block_size_;
  if (index >= static_cast<int64_t>(it->second.table.size())) return false;
  const Block& b = blocks_[static_cast<size_t>(it->second.table[static_cast<size_t>(index)])];
  return b.ref == 1 && !b.registered;
}

int64_t BlockManager::RefCount(BlockId block) const {
  if (block < 0 || block >= num_blocks()) return 0;
  return blocks_[static_cast<size_t>(block)].ref;
}

int64_t BlockManager::AvailableBlocks() const {
  return static_cast<int64_t>(free_.size() + lru_.size());
}

int64_t BlockManager::EvictableBlocks() const {
  return static_cast<int64_t>(lru_.size());
}

int64_t BlockManager::UsedBlocks() const {
  return num_blocks() - AvailableBlocks();
}

}  // namespace compass::paged_tp
