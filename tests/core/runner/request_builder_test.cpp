#include "runner/request_builder.h"

#include <gtest/gtest.h>

namespace compass {
namespace {

std::string Bytes(const std::vector<int32_t>& ids, size_t from = 0) {
  std::string s;
  for (size_t i = from; i < ids.size(); ++i) s += static_cast<char>(ids[i]);
  return s;
}

TEST(EncodePair, TrailingWhitespaceMovesToTheContinuation) {
  ByteTokenizer t;
  EncodedPair p = EncodePair(t, "Answer: ", "B", true);
  ASSERT_FALSE(p.context.empty());
  EXPECT_EQ(p.context[0], ByteTokenizer::kBos);
  EXPECT_EQ(Bytes(p.context, 1), "Answer:");
  EXPECT_EQ(Bytes(p.continuation), " B");

  p = EncodePair(t, "Answer:", " B", true);
  EXPECT_EQ(Bytes(p.context, 1), "Answer:");
  EXPECT_EQ(Bytes(p.continuation), " B");
}

TEST(EncodePair, WithoutBos) {
  ByteTokenizer t;
  EncodedPair p = EncodePair(t, "Q:", " A", false);
  EXPECT_EQ(Bytes(p.context), "Q:");
}

TEST(BuildRequests, OneRequestPerChoiceWithOwners) {
  ByteTokenizer t;
  sdk::Item mc;
  mc.kind = COMPASS_ITEM_MULTIPLE_CHOICE;
  mc.context = "Q?\nAnswer:";
  mc.choices = {" A", " B", " C"};
  sdk::Item gen;
  gen.kind = COMPASS_ITEM_GENERATE;
  gen.context = "2+2=";
  gen.stop = {"\n\n"};
  sdk::Item roll;
  roll.kind = COMPASS_ITEM_ROLLING;
  roll.context = "some text";
  const auto batch = BuildRequests(t, {mc, gen, roll}, 17, true);
  ASSERT_EQ(batch.loglikelihood.size(), 3u);
  EXPECT_EQ(batch.loglikelihood_owner[2], (std::pair<size_t, size_t>{0, 2}));
  EXPECT_EQ(
      Bytes({batch.loglikelihood[1].continuation.ids,
             batch.loglikelihood[1].continuation.ids + batch.loglikelihood[1].continuation.size}),
      " B");
  ASSERT_EQ(batch.generate.size(), 1u);
  EXPECT_EQ(batch.generate_owner[0].first, 1u);
  EXPECT_EQ(batch.generate[0].max_new_tokens, 17u);
  ASSERT_EQ(batch.generate[0].num_stop, 1u);
  EXPECT_EQ(std::string(batch.generate[0].stop[0].data, batch.generate[0].stop[0].size), "\n\n");
  EXPECT_EQ(batch.generate[0].stop_token_ids.ids[0], ByteTokenizer::kEos);
  ASSERT_EQ(batch.rolling.size(), 1u);
  EXPECT_EQ(batch.rolling_owner[0].first, 2u);
  EXPECT_EQ(batch.rolling[0].prefix.ids[0], ByteTokenizer::kBos);
  EXPECT_EQ(batch.rolling[0].tokens.size, 9u);
}

}  // namespace
}  // namespace compass
