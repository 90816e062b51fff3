// BlockManager: exact prefix matching, ref counts, LRU eviction, all-or-nothing
// allocation, idempotent commits and counters.
#include "block_manager.h"

#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <vector>

#include "token_lists.h"

namespace compass::paged_tp {
namespace {

// Admits seq with no reuse cap beyond its length, computes all of it, commits.
std::vector<BlockId> Cache(BlockManager& bm, SeqId seq, const std::vector<int32_t>& tokens) {
  auto reused = bm.Allocate(seq, tokens, static_cast<int64_t>(tokens.size()),
                            static_cast<int64_t>(tokens.size()));
  EXPECT_TRUE(reused.has_value());
  bm.Commit(seq, tokens, static_cast<int64_t>(tokens.size()));
  return bm.Table(seq);
}

uint64_t ConstantHash(uint64_t, const int32_t*, int64_t) {
  return 42;
}

TEST(BlockManagerTest, BlocksForRoundsUp) {
  BlockManager bm(8, 4, true);
  EXPECT_EQ(bm.block_size(), 4);
  EXPECT_EQ(bm.num_blocks(), 8);
  EXPECT_EQ(bm.BlocksFor(0), 0);
  EXPECT_EQ(bm.BlocksFor(1), 1);
  EXPECT_EQ(bm.BlocksFor(4), 1);
  EXPECT_EQ(bm.BlocksFor(5), 2);
  EXPECT_EQ(bm.BlocksFor(16), 4);
  EXPECT_EQ(bm.AvailableBlocks(), 8);
  EXPECT_EQ(bm.UsedBlocks(), 0);
}

TEST(BlockManagerTest, MatchesWholeBlocksAndRoundsTheLimitDown) {
  BlockManager bm(16, 4, true);
  const auto text = Range(100, 14);  // 3 full blocks + 2 tokens
  EXPECT_EQ(bm.MatchPrefix(text, 14), 0);
  Cache(bm, 1, text);
  EXPECT_EQ(bm.MatchPrefix(text, 14), 12);  // the partial block is never shared
  EXPECT_EQ(bm.MatchPrefix(text, 100), 12);
  EXPECT_EQ(bm.MatchPrefix(text, 12), 12);
  EXPECT_EQ(bm.MatchPrefix(text, 11), 8);
  EXPECT_EQ(bm.MatchPrefix(text, 5), 4);
  EXPECT_EQ(bm.MatchPrefix(text, 3), 0);
  EXPECT_EQ(bm.MatchPrefix(text, 0), 0);
  EXPECT_EQ(bm.MatchPrefix(text, -1), 0);
  // A longer text with the same start matches the same blocks; a shorter one
  // only its own whole blocks.
  EXPECT_EQ(bm.MatchPrefix(Concat(text, Range(0, 10)), 24), 12);
  EXPECT_EQ(bm.MatchPrefix(Range(100, 9), 9), 8);
  EXPECT_EQ(bm.MatchPrefix(Range(100, 9), 100), 8);  // capped at tokens.size()
}

TEST(BlockManagerTest, DifferentTokensOrAnEarlierDifferentBlockNeverMatch) {
  BlockManager bm(16, 4, true);
  const auto x = Range(0, 4), y = Range(10, 4), z = Range(20, 4);
  Cache(bm, 1, Concat(Concat(x, y), z));
  EXPECT_EQ(bm.MatchPrefix(Concat(Concat(x, y), z), 12), 12);
  // One token differs in the last block: only the first two match.
  auto z2 = z;
  z2[3] = 99;
  EXPECT_EQ(bm.MatchPrefix(Concat(Concat(x, y), z2), 12), 8);
  // A different first block breaks the chain, even though y and z are cached.
  auto x2 = x;
  x2[0] = 99;
  EXPECT_EQ(bm.MatchPrefix(Concat(Concat(x2, y), z), 12), 0);
  // A different middle block: only the first matches.
  EXPECT_EQ(bm.MatchPrefix(Concat(Concat(x, x), z), 12), 4);
  // y alone at position 0 is not the cached y (whose prefix is x).
  EXPECT_EQ(bm.MatchPrefix(Concat(y, z), 8), 0);
}

TEST(BlockManagerTest, HashCollisionsNeverMatchDifferentContent) {
  // Every block hashes to the same value: only exact verification separates them.
  BlockManager bm(32, 2, true);
  bm.SetHashForTesting(&ConstantHash);
  Cache(bm, 1, {1, 2, 3, 4});
  Cache(bm, 2, {5, 6, 3, 4});  // same second block, different parent
  Cache(bm, 3, {1, 2, 7, 8});
  EXPECT_EQ(bm.MatchPrefix({1, 2, 3, 4}, 4), 4);
  EXPECT_EQ(bm.MatchPrefix({5, 6, 3, 4}, 4), 4);
  EXPECT_EQ(bm.MatchPrefix({1, 2, 7, 8}, 4), 4);
  EXPECT_EQ(bm.MatchPrefix({2, 1, 3, 4}, 4), 0);  // same multiset, different order
  EXPECT_EQ(bm.MatchPrefix({5, 6, 7, 8}, 4), 2);  // (5,6) then (7,8) was cached after (1,2)
  EXPECT_EQ(bm.MatchPrefix({3, 4, 3, 4}, 4), 0);  // (3,4) only exists as a second block
  EXPECT_EQ(bm.MatchPrefix({1, 2, 5, 6}, 4), 2);
  // A sequence reusing (5,6,3,4) gets exactly seq 2's blocks.
  auto reused = bm.Allocate(4, {5, 6, 3, 4, 9}, 4, 5);
  ASSERT_TRUE(reused.has_value());
  EXPECT_EQ(*reused, 4);
  EXPECT_EQ(bm.Table(4)[0], bm.Table(2)[0]);
  EXPECT_EQ(bm.Table(4)[1], bm.Table(2)[1]);
  EXPECT_NE(bm.Table(4)[1], bm.Table(1)[1]);
}

TEST(BlockManagerTest, SharedBlocksCountReferencesAndAreNeverWritable) {
  BlockManager bm(16, 4, true);
  const auto prefix = Range(0, 8);
  const auto a = Concat(prefix, {50, 51, 52});
  const auto b = Concat(prefix, {60, 61});
  Cache(bm, 1, a);
  EXPECT_EQ(bm.UsedBlocks(), 3);
  auto reused = bm.Allocate(2, b, 10, 10);
  ASSERT_TRUE(reused.has_value());
  EXPECT_EQ(*reused, 8);
  const std::vector<BlockId> ta = bm.Table(1);
  const std::vector<BlockId> tb = bm.Table(2);
  ASSERT_EQ(tb.size(), 3u);  // 2 shared + 1 fresh for [8, 10)
  EXPECT_EQ(tb[0], ta[0]);
  EXPECT_EQ(tb[1], ta[1]);
  EXPECT_NE(tb[2], ta[2]);
  EXPECT_EQ(bm.RefCount(ta[0]), 2);
  EXPECT_EQ(bm.RefCount(ta[1]), 2);
  EXPECT_EQ(bm.RefCount(ta[2]), 1);
  EXPECT_EQ(bm.RefCount(tb[2]), 1);
  EXPECT_EQ(bm.UsedBlocks(), 4);
  for (int64_t p = 0; p < 8; ++p) EXPECT_FALSE(bm.CanWrite(2, p)) << p;
  for (int64_t p = 8; p < 12; ++p) EXPECT_TRUE(bm.CanWrite(2, p)) << p;
  EXPECT_FALSE(bm.CanWrite(2, 12));  // outside its table
  EXPECT_FALSE(bm.CanWrite(1, 0));   // committed: never rewritten
  EXPECT_TRUE(bm.CanWrite(1, 9));    // its partial last block is its own
  EXPECT_FALSE(bm.CanWrite(3, 0));   // unknown sequence

  bm.Free(1);
  EXPECT_EQ(bm.RefCount(ta[0]), 1);
  EXPECT_EQ(bm.RefCount(tb[0]), 1);
  // Seq 1's partial block was freed at once; the shared ones are still held.
  EXPECT_EQ(bm.UsedBlocks(), 3);
  EXPECT_EQ(bm.EvictableBlocks(), 0);
  bm.Free(2);
  EXPECT_EQ(bm.UsedBlocks(), 0);
  EXPECT_EQ(bm.EvictableBlocks(), 2);  // the two registered prefix blocks
  EXPECT_EQ(bm.AvailableBlocks(), 16);
  EXPECT_EQ(bm.MatchPrefix(a, 11), 8);  // still cached
}

TEST(BlockManagerTest, ReuseStopsAtTheReuseLimitAndTheCapacity) {
  BlockManager bm(16, 4, true);
  const auto text = Range(0, 16);
  Cache(bm, 1, text);
  bm.Free(1);
  auto r = bm.Allocate(2, text, 11, 16);  // limit 11 -> 8
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 8);
  EXPECT_EQ(bm.Table(2).size(), 4u);
  EXPECT_TRUE(bm.CanWrite(2, 8));
  EXPECT_FALSE(bm.CanWrite(2, 7));
  r = bm.Allocate(3, text, 16, 6);  // capacity 6 caps the reuse at 4
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 4);
  EXPECT_EQ(bm.Table(3).size(), 2u);
}

TEST(BlockManagerTest, EvictsTheLeastRecentlyUsedBlockFirst) {
  BlockManager bm(4, 2, true);
  const std::vector<int32_t> a{1, 1}, b{2, 2}, c{3, 3};
  const BlockId ba = Cache(bm, 1, a)[0];
  const BlockId bb = Cache(bm, 2, b)[0];
  const BlockId bc = Cache(bm, 3, c)[0];
  bm.Free(1);
  bm.Free(2);
  bm.Free(3);  // LRU: a, b, c
  EXPECT_EQ(bm.EvictableBlocks(), 3);
  // Touch b: reused and released again, it becomes the most recent.
  auto r = bm.Allocate(4, {2, 2, 9}, 2, 3);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 2);
  EXPECT_EQ(bm.Table(4)[0], bb);
  EXPECT_EQ(bm.EvictableBlocks(), 2);
  bm.Free(4);  // LRU: a, c, b
  EXPECT_EQ(bm.stats().evictions, 0u);

  // Two fresh blocks: the one free block first, then a is evicted.
  r = bm.Allocate(5, {7, 7, 7, 7}, 0, 4);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(bm.stats().evictions, 1u);
  EXPECT_EQ(bm.MatchPrefix(a, 2), 0);
  EXPECT_EQ(bm.MatchPrefix(b, 2), 2);
  EXPECT_EQ(bm.MatchPrefix(c, 2), 2);
  const std::set<BlockId> t5(bm.Table(5).begin(), bm.Table(5).end());
  EXPECT_TRUE(t5.count(ba));
  // Next comes c, then b.
  ASSERT_TRUE(bm.Grow(5, 6));
  EXPECT_EQ(bm.MatchPrefix(c, 2), 0);
  EXPECT_EQ(bm.MatchPrefix(b, 2), 2);
  EXPECT_EQ(bm.Table(5).back(), bc);
  ASSERT_TRUE(bm.Grow(5, 8));
  EXPECT_EQ(bm.MatchPrefix(b, 2), 0);
  EXPECT_EQ(bm.stats().evictions, 3u);
  EXPECT_FALSE(bm.Grow(5, 9));
  EXPECT_EQ(bm.Table(5).size(), 4u);
}

TEST(BlockManagerTest, ASequencesTailIsEvictedBeforeItsPrefix) {
  BlockManager bm(3, 2, true);
  const std::vector<int32_t> text{1, 2, 3, 4};
  Cache(bm, 1, text);
  bm.Free(1);
  ASSERT_TRUE(bm.Allocate(2, {9, 9}, 0, 2).has_value());  // the free block
  ASSERT_TRUE(bm.Grow(2, 4));                             // evicts (3,4), not (1,2)
  EXPECT_EQ(bm.MatchPrefix(text, 4), 2);
}

TEST(BlockManagerTest, AllocateIsAllOrNothing) {
  BlockManager bm(4, 2, true);
  const std::vector<int32_t> text{1, 2, 3, 4};
  Cache(bm, 1, text);
  bm.Free(1);  // 2 evictable + 2 free
  EXPECT_EQ(bm.AvailableBlocks(), 4);
  const auto before = bm.stats();
  // Reusing both evictable blocks leaves only the 2 free ones for 3 fresh blocks.
  auto r = bm.Allocate(2, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 4, 10);
  EXPECT_FALSE(r.has_value());
  EXPECT_FALSE(bm.Has(2));
  EXPECT_TRUE(bm.Table(2).empty());
  EXPECT_EQ(bm.AvailableBlocks(), 4);
  EXPECT_EQ(bm.EvictableBlocks(), 2);
  EXPECT_EQ(bm.stats().reused_tokens, before.reused_tokens);
  EXPECT_EQ(bm.stats().evictions, before.evictions);
  EXPECT_EQ(bm.MatchPrefix(text, 4), 4);
  // Two fresh blocks fit: the reused blocks are not evicted for them.
  r = bm.Allocate(2, {1, 2, 3, 4, 5, 6, 7, 8}, 4, 8);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 4);
  EXPECT_EQ(bm.AvailableBlocks(), 0);
  EXPECT_EQ(bm.stats().evictions, 0u);
  // Nothing left: a new sequence is refused and changes nothing.
  EXPECT_FALSE(bm.Allocate(3, {5}, 1, 1).has_value());
  EXPECT_FALSE(bm.Has(3));
  EXPECT_EQ(bm.UsedBlocks(), 4);
  // Reuse alone needs no free block.
  r = bm.Allocate(3, {1, 2, 3, 4}, 4, 4);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 4);
}

TEST(BlockManagerTest, CommitIsIdempotentAndIncremental) {
  BlockManager bm(16, 4, true);
  const auto text = Range(0, 12);
  ASSERT_TRUE(bm.Allocate(1, text, 0, 12).has_value());
  bm.Commit(1, text, 3);
  EXPECT_EQ(bm.MatchPrefix(text, 12), 0);
  bm.Commit(1, text, 5);
  EXPECT_EQ(bm.MatchPrefix(text, 12), 4);
  bm.Commit(1, text, 5);
  bm.Commit(1, text, 2);  // never goes back
  EXPECT_EQ(bm.MatchPrefix(text, 12), 4);
  bm.Commit(1, text, 12);
  bm.Commit(1, text, 12);
  EXPECT_EQ(bm.MatchPrefix(text, 12), 12);
  bm.Free(1);
  EXPECT_EQ(bm.EvictableBlocks(), 3);  // one registration per block
  bm.Commit(1, text, 12);              // unknown now: no-op
  EXPECT_EQ(bm.EvictableBlocks(), 3);
}

TEST(BlockManagerTest, ADuplicateKeepsItsOwnCopyAndChainsOntoTheSharedOne) {
  BlockManager bm(16, 2, true);
  // Both computed the same first block before either committed.
  ASSERT_TRUE(bm.Allocate(1, {1, 2, 3, 4}, 0, 4).has_value());
  ASSERT_TRUE(bm.Allocate(2, {1, 2, 5, 6}, 0, 4).has_value());
  bm.Commit(1, {1, 2, 3, 4}, 4);
  bm.Commit(2, {1, 2, 5, 6}, 4);
  EXPECT_TRUE(bm.CanWrite(2, 0));  // its copy of (1,2) is not registered
  EXPECT_FALSE(bm.CanWrite(2, 2));
  // (5,6) after (1,2) is found through seq 1's (1,2).
  auto r = bm.Allocate(3, {1, 2, 5, 6, 7}, 4, 5);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 4);
  EXPECT_EQ(bm.Table(3)[0], bm.Table(1)[0]);
  EXPECT_EQ(bm.Table(3)[1], bm.Table(2)[1]);
  bm.Free(3);
  const int64_t evictable = bm.EvictableBlocks();
  bm.Free(2);  // its duplicate is free at once, (5,6) evictable
  EXPECT_EQ(bm.EvictableBlocks(), evictable + 1);
  EXPECT_EQ(bm.UsedBlocks(), 2);
  bm.Free(1);
  EXPECT_EQ(bm.UsedBlocks(), 0);
  EXPECT_EQ(bm.EvictableBlocks(), 3);
}

TEST(BlockManagerTest, ABlockWhoseParentWasEvictedNeverMatchesAgain) {
  BlockManager bm(6, 2, true);
  bm.SetHashForTesting(&ConstantHash);
  Cache(bm, 1, {1, 2});
  bm.Free(1);  // (1,2) evictable
  // Seq 2 computes (1,2) itself (no reuse) and then (3,4) on top.
  ASSERT_TRUE(bm.Allocate(2, {1, 2, 3, 4}, 0, 4).has_value());
  bm.Commit(2, {1, 2, 3, 4}, 4);
  EXPECT_EQ(bm.MatchPrefix({1, 2, 3, 4}, 4), 4);
  // Take every available block: (1,2) is evicted, seq 2 still holds (3,4).
  ASSERT_TRUE(bm.Allocate(3, {9, 9, 9, 9, 9, 9, 9, 9}, 0, 8).has_value());
  EXPECT_EQ(bm.stats().evictions, 1u);
  bm.Free(3);
  EXPECT_EQ(bm.MatchPrefix({1, 2, 3, 4}, 4), 0);
  // (1,2) cached again is a new block: the old (3,4) does not chain onto it.
  Cache(bm, 4, {1, 2});
  EXPECT_EQ(bm.MatchPrefix({1, 2, 3, 4}, 4), 2);
}

TEST(BlockManagerTest, FreeReleasesEverythingAndUnknownIsANoOp) {
  BlockManager bm(8, 4, true);
  bm.Free(7);
  Cache(bm, 1, Range(0, 10));
  EXPECT_TRUE(bm.Has(1));
  EXPECT_EQ(bm.UsedBlocks(), 3);
  bm.Free(1);
  EXPECT_FALSE(bm.Has(1));
  EXPECT_TRUE(bm.Table(1).empty());
  EXPECT_EQ(bm.UsedBlocks(), 0);
  EXPECT_EQ(bm.EvictableBlocks(), 2);
  EXPECT_EQ(bm.AvailableBlocks(), 8);
  bm.Free(1);
  EXPECT_EQ(bm.AvailableBlocks(), 8);
}

TEST(BlockManagerTest, GrowAddsBlocksAndNeverShrinks) {
  BlockManager bm(4, 4, true);
  ASSERT_TRUE(bm.Allocate(1, {1}, 0, 1).has_value());
  EXPECT_EQ(bm.Table(1).size(), 1u);
  EXPECT_TRUE(bm.Grow(1, 4));
  EXPECT_EQ(bm.Table(1).size(), 1u);
  EXPECT_TRUE(bm.Grow(1, 9));
  EXPECT_EQ(bm.Table(1).size(), 3u);
  EXPECT_TRUE(bm.Grow(1, 2));
  EXPECT_EQ(bm.Table(1).size(), 3u);
  EXPECT_FALSE(bm.Grow(1, 17));  // 5 blocks > 4
  EXPECT_EQ(bm.Table(1).size(), 3u);
  EXPECT_EQ(bm.UsedBlocks(), 3);
  EXPECT_FALSE(bm.Grow(2, 4));  // unknown
}

TEST(BlockManagerTest, CountsReuseEvictionsAndPeak) {
  BlockManager bm(4, 2, true);
  Cache(bm, 1, {1, 2, 3, 4, 5});  // 3 blocks
  EXPECT_EQ(bm.stats().peak_used_blocks, 3);
  bm.Free(1);
  ASSERT_TRUE(bm.Allocate(2, {1, 2, 3, 4, 6}, 5, 5).has_value());
  ASSERT_TRUE(bm.Allocate(3, {1, 2, 8}, 3, 3).has_value());
  EXPECT_EQ(bm.stats().reused_tokens, 4u + 2u);
  EXPECT_EQ(bm.stats().evictions, 0u);
  EXPECT_EQ(bm.UsedBlocks(), 4);
  EXPECT_EQ(bm.stats().peak_used_blocks, 4);
  bm.Free(2);
  bm.Free(3);
  ASSERT_TRUE(bm.Allocate(4, {7, 7, 7, 7, 7, 7, 7, 7}, 0, 8).has_value());
  EXPECT_EQ(bm.stats().evictions, 2u);  // the two registered blocks
  EXPECT_EQ(bm.stats().peak_used_blocks, 4);
}

TEST(BlockManagerTest, WithoutPrefixCachingNothingIsShared) {
  BlockManager bm(8, 2, false);
  EXPECT_FALSE(bm.prefix_caching());
  Cache(bm, 1, {1, 2, 3, 4});
  EXPECT_EQ(bm.MatchPrefix({1, 2, 3, 4}, 4), 0);
  auto r = bm.Allocate(2, {1, 2, 3, 4}, 4, 4);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(*r, 0);
  EXPECT_TRUE(bm.CanWrite(1, 0));
  bm.Free(1);
  bm.Free(2);
  EXPECT_EQ(bm.EvictableBlocks(), 0);
  EXPECT_EQ(bm.AvailableBlocks(), 8);
  EXPECT_EQ(bm.stats().reused_tokens, 0u);
}

}  // namespace
}  // namespace compass::paged_tp
