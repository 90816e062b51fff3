// Sharding by request hash: every sample of a request goes with it, the
// shares cover every request exactly once for any world size and are
// roughly even, and shard file names round-trip.
#include "shard/sharding.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "results/request_hash.h"

namespace compass {
namespace {

std::vector<std::string> Hashes(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(Hasher().Add("request").Add(uint64_t{i}).Hex());
  return out;
}

TEST(ShardOf, EveryRequestFallsToExactlyOneRankAndSharesAreEven) {
  const auto hashes = Hashes(4000);
  for (uint32_t world : {1u, 2u, 3u, 4u, 7u}) {
    std::vector<size_t> per_rank(world, 0);
    for (const auto& h : hashes) {
      const uint32_t r = ShardOf(h, world);
      ASSERT_LT(r, world);
      ++per_rank[r];
    }
    for (size_t n : per_rank) {
      EXPECT_GT(n, hashes.size() / world * 8 / 10) << "world " << world;
      EXPECT_LT(n, hashes.size() / world * 12 / 10) << "world " << world;
    }
  }
}

TEST(ShardOf, IsFixedByTheHashAndTheWorld) {
  // Pinned: a change would reassign stored shards' requests between ranks
  // of a resumed launch (harmless, but not silently).
  const std::string h = "0123456789abcdef000000000000000b";
  EXPECT_EQ(ShardOf(h, 4), 2u);
  EXPECT_EQ(ShardOf(h, 11), 2u);
  EXPECT_EQ(ShardOf(h, 1), 0u);
  // The samples of a request go to the request's rank.
  for (uint32_t world : {2u, 3u, 4u, 11u}) {
    EXPECT_EQ(ShardOf(SampleKey(h, 3), world), ShardOf(h, world));
  }
}

TEST(ShardOf, DependsOnlyOnTheRequestNotOnOrder) {
  auto hashes = Hashes(100);
  std::vector<uint32_t> first;
  for (const auto& h : hashes) first.push_back(ShardOf(h, 4));
  std::reverse(hashes.begin(), hashes.end());
  for (size_t i = 0; i < hashes.size(); ++i) {
    EXPECT_EQ(ShardOf(hashes[i], 4), first[hashes.size() - 1 - i]);
  }
}

TEST(ShardFileName, RoundTripsAndSanitizesTheLaunch) {
  const std::string name = ShardFileName({"slurm77.0/20260101T000000-12", 2, 4});
  EXPECT_EQ(name, "slurm77.0_20260101T000000-12-w4-r2.sqlite");
  auto parsed = ParseShardFileName(name);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->launch, "slurm77.0_20260101T000000-12");
  EXPECT_EQ(parsed->world, 4u);
  EXPECT_EQ(parsed->rank, 2u);
  EXPECT_FALSE(ParseShardFileName("results.sqlite").has_value());
  EXPECT_FALSE(ParseShardFileName("x-w4-r4.sqlite").has_value());  // rank outside the world
  EXPECT_FALSE(ParseShardFileName("x-w4-r1.sqlite-wal").has_value());
  EXPECT_FALSE(ParseShardFileName("rendezvous-77").has_value());
}

}  // namespace
}  // namespace compass

namespace compass {
namespace {

compass_request Scoring(const std::vector<int32_t>& context, const std::vector<int32_t>& cont) {
  compass_request r{};
  r.kind = COMPASS_REQUEST_LOGLIKELIHOOD;
  r.context = {context.data(), context.size()};
  r.continuation = {cont.data(), cont.size()};
  return r;
}

TEST(ShardKey, RequestsReadingTheSameInputGoTogether) {
  const std::vector<int32_t> question{5, 6, 7}, a{11}, b{12}, ab{11, 12}, other{8};
  // One-token choices of one question: the model reads the same tokens.
  const std::string ka = ShardKey(Scoring(question, a), "ha");
  EXPECT_EQ(ka, ShardKey(Scoring(question, b), "hb"));
  EXPECT_NE(ka, ShardKey(Scoring(other, a), "hc"));
  // A longer continuation reads more tokens.
  EXPECT_NE(ka, ShardKey(Scoring(question, ab), "hd"));
  compass_request g{};
  g.kind = COMPASS_REQUEST_GENERATE;
  g.context = {question.data(), question.size()};
  EXPECT_EQ(ShardKey(g, "hg"), "hg");
}

}  // namespace
}  // namespace compass
