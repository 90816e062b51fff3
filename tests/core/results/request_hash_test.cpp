#include "results/request_hash.h"

#include <gtest/gtest.h>

namespace compass {
namespace {

compass_request Loglikelihood(compass_tokens context, compass_tokens continuation) {
  compass_request r{};
  r.struct_size = sizeof r;
  r.kind = COMPASS_REQUEST_LOGLIKELIHOOD;
  r.context = context;
  r.continuation = continuation;
  return r;
}

TEST(RequestHash, StableAndSensitiveToEveryField) {
  const int32_t a[] = {1, 2, 3}, b[] = {4};
  compass_request r = Loglikelihood({a, 3}, {b, 1});
  const std::string h = HashRequest(r);
  EXPECT_EQ(h.size(), 32u);
  EXPECT_EQ(h, HashRequest(r));
  r.index = 99;  // the position in a call is not content
  EXPECT_EQ(HashRequest(r), h);
  // Moving a token across the context/continuation boundary changes the hash.
  const int32_t a2[] = {1, 2}, b2[] = {3, 4};
  EXPECT_NE(HashRequest(Loglikelihood({a2, 2}, {b2, 2})), h);
  // Same context as a generation: another kind, another hash.
  compass_request g{};
  g.struct_size = sizeof g;
  g.kind = COMPASS_REQUEST_GENERATE;
  g.num_samples = 1;
  g.context = {a, 3};
  g.max_new_tokens = 10;
  const std::string g1 = HashRequest(g);
  EXPECT_NE(g1, h);
  g.max_new_tokens = 11;
  const std::string g2 = HashRequest(g);
  EXPECT_NE(g2, g1);
  // Every sampling parameter counts once sampling is on.
  g.temperature = 0.7f;
  const std::string s1 = HashRequest(g);
  EXPECT_NE(s1, g2);
  g.seed = 5;
  const std::string s2 = HashRequest(g);
  EXPECT_NE(s2, s1);
  g.top_p = 0.9f;
  EXPECT_NE(HashRequest(g), s2);
  const std::string s3 = HashRequest(g);
  g.top_k = 40;
  EXPECT_NE(HashRequest(g), s3);
  const std::string s4 = HashRequest(g);
  g.num_samples = 4;
  EXPECT_NE(HashRequest(g), s4);
  // Samples are stored under the hash, then hash#N.
  EXPECT_EQ(SampleKey(h, 0), h);
  EXPECT_EQ(SampleKey(h, 2), h + "#2");
  // A known value pins the hash across platforms and versions.
  EXPECT_EQ(Hasher().Add("").Hex(), Hasher().Add(uint64_t{0}).Hex());
  EXPECT_EQ(Hasher().Hex(), "6c62272e07bb014262b821756295c58d");
}

}  // namespace
}  // namespace compass
