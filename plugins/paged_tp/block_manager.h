// paged_tp's KV block manager: which fixed-size blocks of the paged KV cache
// each sequence holds, with exact prefix caching.
//
// Rules (docs/backends/paged_tp.md, "Block manager"):
// - The cache is `num_blocks` blocks of `block_size` token slots. A sequence
//   holds a table of blocks; position p lives in Table(seq)[p / block_size],
//   slot p % block_size.
// - Only committed full blocks are ever shared. A full block is registered
//   under its exact content: its tokens and the exact block before it (a hash
//   chain finds candidates; tokens and parent are always compared, a hash
//   alone is never trusted). A sequence only writes positions at or after the
//   prefix it reused, so a shared block is never written.
// - A block nobody references is free (never registered) or evictable
//   (registered: its content is kept until the block is needed, least
//   recently used first).
//
// Threading: not thread-safe; one engine thread owns it. Not copyable.
#ifndef COMPASS_PAGED_TP_BLOCK_MANAGER_H_
#define COMPASS_PAGED_TP_BLOCK_MANAGER_H_

#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>
#include <vector>

namespace compass::paged_tp {

using SeqId = int64_t;
using BlockId = int32_t;

class BlockManager {
 public:
  // num_blocks >= 1, block_size >= 1 (a power of two; validated by the caller).
  BlockManager(int64_t num_blocks, int64_t block_size, bool prefix_caching);
  BlockManager(const BlockManager&) = delete;
  BlockManager& operator=(const BlockManager&) = delete;

  int64_t block_size() const { return block_size_; }
  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  bool prefix_caching() const { return prefix_caching_; }
  int64_t BlocksFor(int64_t tokens) const;  // ceil(tokens / block_size)

  // Tokens of tokens[0, limit) served by cached full blocks: the longest chain
  // of whole blocks, each block's tokens and its whole prefix equal, limit
  // rounded down to a block boundary (and capped at tokens.size()). 0 when
  // prefix caching is off.
  int64_t MatchPrefix(const std::vector<int32_t>& tokens, int64_t limit) const;

  // Admits `seq` (must not be known): reuses the blocks that
  // MatchPrefix(tokens, min(reuse_limit, capacity_tokens)) finds (their ref
  // counts go up; evictable ones leave the LRU) and allocates new blocks so
  // that the table holds capacity_tokens slots. Returns the number of cached
  // tokens reused, or nullopt with no change at all when not enough blocks are
  // available (reused evictable blocks do not count as available to evict).
  // The sequence must write only positions >= the returned count.
  std::optional<int64_t> Allocate(SeqId seq, const std::vector<int32_t>& tokens,
                                  int64_t reuse_limit, int64_t capacity_tokens);

  // Grows seq's table to hold capacity_tokens slots (never shrinks it); false
  // with no change if the blocks are not available.
  bool Grow(SeqId seq, int64_t capacity_tokens);

  // tokens[0, computed) of seq now hold K/V: its full blocks among them become
  // shareable (registered under their exact content and prefix) when prefix
  // caching is on. `tokens` is the sequence's text; its earlier full blocks
  // must not change between calls. Idempotent; a block already registered by
  // another sequence with the same content and prefix stays as is (this seq
  // keeps its own copy, which is freed at once when released). Unknown seq: no-op.
  void Commit(SeqId seq, const std::vector<int32_t>& tokens, int64_t computed);

  // Releases seq: each block's ref count goes down; a block at zero that is
  // registered becomes evictable (least recently used evicted first when a
  // block is needed; a sequence's last block is queued for eviction before
  // its first), any other is free at once. Unknown seq: no-op.
  void Free(SeqId seq);

  // seq's blocks in position order; empty for an unknown seq. Valid until the
  // next call that changes seq.
  const std::vector<BlockId>& Table(SeqId seq) const;
  bool Has(SeqId seq) const;
  // True when seq may write the K/V of `position`: the position is inside its
  // table and the block is referenced by seq alone and not registered (shared
  // or shareable content is never overwritten).
  bool CanWrite(SeqId seq, int64_t position) const;
  int64_t RefCount(BlockId block) const;

  int64_t AvailableBlocks() const;  // free + evictable
  int64_t EvictableBlocks() const;  // registered, referenced by nobody
  int64_t UsedBlocks() const;       // referenced by some sequence

  // Counters: cached tokens reused by Allocate, blocks evicted, peak UsedBlocks.
  struct Stats {
    uint64_t reused_tokens = 0, evictions = 0;
    int64_t peak_used_blocks = 0;
  };
  const Stats& stats() const { return stats_; }

  // The chain hash of a block: (parent block's hash, the block's tokens). The
  // first block's parent hash is kRootHash.
  static constexpr uint64_t kRootHash = 0x9e3779b97f4a7c15ull;
  using HashFn = uint64_t (*)(uint64_t parent_hash, const int32_t* tokens, int64_t count);
  static uint64_t ChainHash(uint64_t parent_hash, const int32_t* tokens, int64_t count);
  // Replaces the hash (tests force collisions with it). Call before any Commit.
  void SetHashForTesting(HashFn hash) { hash_ = hash; }

 private:
  struct Block {
    int64_t ref = 0;
    bool registered = false;
    uint64_t hash = 0;        // chain hash, when registered
    uint64_t content_id = 0;  // unique per registration, never reused
    uint64_t parent_id = 0;   // content_id of the block before it (0: first block)
    std::vector<int32_t> tokens;
    bool evictable = false;
    std::list<BlockId>::iterator lru;
  };
  struct Seq {
    std::vector<BlockId> table;
    // Per committed full block: the content id and hash of the registered
    // block holding that content (this seq's own block or the one it
    // duplicates), so later blocks chain onto it.
    std::vector<uint64_t> chain_ids, chain_hashes;
    int64_t reused_tokens = 0;
  };

  // The registered blocks matching tokens[0, limit) block by block.
  std::vector<BlockId> Match(const std::vector<int32_t>& tokens, int64_t limit) const;
  // A registered block with exactly this content after parent_id, or -1.
  BlockId Lookup(uint64_t hash, uint64_t parent_id, const int32_t* tokens) const;
  BlockId TakeBlock();  // requires AvailableBlocks() > 0
  void Unregister(BlockId id);
  void NotePeak();

  int64_t block_size_;
  bool prefix_caching_;
  HashFn hash_ = &ChainHash;
  std::vector<Block> blocks_;
  std::vector<BlockId> free_;  // back is taken first
  std::list<BlockId> lru_;     // evictable; front is the least recently used
  std::unordered_multimap<uint64_t, BlockId> cached_;  // chain hash -> registered block
  std::unordered_map<SeqId, Seq> seqs_;
  uint64_t next_content_id_ = 1;
  Stats stats_;
};

}  // namespace compass::paged_tp

#endif  // COMPASS_PAGED_TP_BLOCK_MANAGER_H_
