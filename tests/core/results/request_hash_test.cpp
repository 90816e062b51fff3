#include "results/request_hash.h"

#include <gtest/gtest.h>

namespace compass {
namespace {

TEST(RequestHash, StableAndSensitiveToEveryField) {
  const int32_t a[] = {1, 2, 3}, b[] = {4};
  compass_loglikelihood_request r{};
  r.context = {a, 3};
  r.continuation = {b, 1};
  const std::string h = HashLoglikelihood(r);
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(h, HashLoglikelihood(r));
  // Moving a token across the context/continuation boundary changes the hash.
  const int32_t a2[] = {1, 2}, b2[] = {3, 4};
  compass_loglikelihood_request moved{};
  moved.context = {a2, 2};
  moved.continuation = {b2, 2};
  EXPECT_NE(HashLoglikelihood(moved), h);
  // Same tokens as a rolling request: another kind, another hash.
  compass_rolling_request roll{};
  roll.prefix = {a, 3};
  roll.tokens = {b, 1};
  EXPECT_NE(HashRolling(roll), h);
  compass_generate_request g{};
  g.context = {a, 3};
  g.max_new_tokens = 10;
  const std::string g1 = HashGenerate(g);
  g.max_new_tokens = 11;
  EXPECT_NE(HashGenerate(g), g1);
  // A known value pins the hash across platforms and versions.
  EXPECT_EQ(Hasher().Add("").Hex(), Hasher().Add(uint64_t{0}).Hex());
  EXPECT_EQ(Hasher().Hex(), "6c62272e07bb014262b821756295c58d");
}

}  // namespace
}  // namespace compass
