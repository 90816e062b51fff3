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

std::vector<int32_t> Ids(compass_tokens t) {
  return std::vector<int32_t>(t.ids, t.ids + t.size);
}

std::vector<int32_t> Range(int32_t from, int32_t to) {
  std::vector<int32_t> v;
  for (int32_t i = from; i < to; ++i) v.push_back(i);
  return v;
}

// Partial evaluation: each choice's continuation after its own context.
TEST(BuildRequests, PerChoiceContexts) {
  ByteTokenizer t;
  sdk::Item item;
  item.kind = COMPASS_ITEM_MULTIPLE_CHOICE;
  item.context = "shot\n\n";
  item.contexts = {"shot\n\nso Sarah", "shot\n\nso Maria"};
  item.choices = {" won.", " won."};
  item.gold = 0;
  RequestRules rules;
  rules.add_bos = false;
  const auto built = BuildRequests(t, {item}, rules);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  ASSERT_EQ(built->requests.size(), 2u);
  EXPECT_EQ(Bytes(Ids(built->requests[0].context)), "shot\n\nso Sarah");
  EXPECT_EQ(Bytes(Ids(built->requests[1].context)), "shot\n\nso Maria");
  EXPECT_EQ(Bytes(Ids(built->requests[1].continuation)), " won.");
  EXPECT_NE(built->hash[0], built->hash[1]);
  item.contexts.pop_back();
  const auto bad = BuildRequests(t, {item}, rules);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("has 1 contexts for 2 choices"), std::string::npos);
}

TEST(BuildRequests, OneRequestPerChoiceWindowAndGenerationWithOwners) {
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
  RequestRules rules;
  rules.default_max_new_tokens = 17;
  const auto built = BuildRequests(t, {mc, gen, roll}, rules);
  ASSERT_TRUE(built.ok()) << built.status().ToString();
  const TaskRequests& b = *built;
  ASSERT_EQ(b.requests.size(), 5u);  // 3 choices, 1 generation, 1 window
  for (size_t i = 0; i < b.requests.size(); ++i) {
    EXPECT_EQ(b.requests[i].index, i);
    EXPECT_EQ(b.requests[i].struct_size, sizeof(compass_request));
  }
  EXPECT_EQ(b.owner[2].item, 0u);
  EXPECT_EQ(b.owner[2].part, 2u);
  EXPECT_EQ(Bytes(Ids(b.requests[1].continuation)), " B");
  const compass_request& g = b.requests[3];
  EXPECT_EQ(g.kind, static_cast<uint32_t>(COMPASS_REQUEST_GENERATE));
  EXPECT_EQ(b.owner[3].item, 1u);
  EXPECT_EQ(g.max_new_tokens, 17u);
  EXPECT_EQ(g.num_samples, 1u);
  EXPECT_EQ(g.temperature, 0.0f);
  ASSERT_EQ(g.num_stop, 1u);
  EXPECT_EQ(std::string(g.stop[0].data, g.stop[0].size), "\n\n");
  EXPECT_EQ(g.stop_token_ids.ids[0], ByteTokenizer::kEos);
  const compass_request& w = b.requests[4];
  EXPECT_EQ(w.kind, static_cast<uint32_t>(COMPASS_REQUEST_LOGLIKELIHOOD));
  EXPECT_EQ(b.owner[4].item, 2u);
  EXPECT_EQ(b.windows[2], 1u);
  EXPECT_EQ(Ids(w.context), std::vector<int32_t>{ByteTokenizer::kBos});
  EXPECT_EQ(Bytes(Ids(w.continuation)), "some text");
  // Every request carries its content hash; equal content, equal hash.
  ASSERT_EQ(b.hash.size(), 5u);
  EXPECT_NE(b.hash[0], b.hash[1]);
}

TEST(FitLoglikelihood, KeepsTheLastMaxLengthPlusOneTokens) {
  // lm-evaluation-harness: (context + continuation)[-(L + 1):]
  std::vector<int32_t> ctx = Range(0, 10), cont = Range(10, 13);
  FitLoglikelihood(ctx, cont, 8);
  EXPECT_EQ(ctx, Range(4, 10));  // 6 + 3 = 9 = L + 1
  EXPECT_EQ(cont, Range(10, 13));
  // Short enough: untouched.
  ctx = Range(0, 3);
  cont = Range(3, 5);
  FitLoglikelihood(ctx, cont, 8);
  EXPECT_EQ(ctx, Range(0, 3));
  // A continuation longer than L keeps its last L tokens, the one before as
  // context.
  ctx = Range(0, 4);
  cont = Range(4, 20);
  FitLoglikelihood(ctx, cont, 8);
  EXPECT_EQ(ctx, std::vector<int32_t>{11});
  EXPECT_EQ(cont, Range(12, 20));
}

TEST(RollingWindows, MatchLmEvaluationHarness) {
  // get_rolling_token_windows(range(10), prefix -1, max_seq_len 4,
  // context_len 1) then make_disjoint_window, as computed by
  // lm-evaluation-harness:
  //   ([-1], [0, 1, 2, 3]), ([3], [4, 5, 6, 7]), ([5, 6, 7], [8, 9])
  const auto w = RollingWindows(Range(0, 10), -1, 4);
  ASSERT_EQ(w.size(), 3u);
  EXPECT_EQ(w[0].first, std::vector<int32_t>{-1});
  EXPECT_EQ(w[0].second, Range(0, 4));
  EXPECT_EQ(w[1].first, std::vector<int32_t>{3});
  EXPECT_EQ(w[1].second, Range(4, 8));
  EXPECT_EQ(w[2].first, (std::vector<int32_t>{5, 6, 7}));
  EXPECT_EQ(w[2].second, Range(8, 10));
  // Every token predicted exactly once, each window within max_length + 1.
  for (int64_t len : {1, 2, 3, 7, 16}) {
    const auto ws = RollingWindows(Range(0, 37), 99, len);
    std::vector<int32_t> predicted;
    for (const auto& [c, x] : ws) {
      EXPECT_LE(static_cast<int64_t>(c.size() + x.size()), len + 1);
      predicted.insert(predicted.end(), x.begin(), x.end());
    }
    EXPECT_EQ(predicted, Range(0, 37)) << "max_length " << len;
  }
}

TEST(BuildRequests, TruncatesToTheContextWindow) {
  ByteTokenizer t;
  sdk::Item mc;
  mc.kind = COMPASS_ITEM_MULTIPLE_CHOICE;
  mc.context = std::string(100, 'x') + " Answer:";
  mc.choices = {" yes"};
  sdk::Item gen;
  gen.kind = COMPASS_ITEM_GENERATE;
  gen.context = std::string(100, 'y');
  gen.max_new_tokens = 10;
  sdk::Item roll;
  roll.kind = COMPASS_ITEM_ROLLING;
  roll.context = std::string(50, 'z');
  RequestRules rules;
  rules.max_length = 32;
  const auto b = BuildRequests(t, {mc, gen, roll}, rules);
  ASSERT_TRUE(b.ok());
  const compass_request& ll = b->requests[0];
  EXPECT_EQ(ll.context.size + ll.continuation.size, 33u);
  EXPECT_EQ(Bytes(Ids(ll.continuation)), " yes");
  EXPECT_EQ(Bytes(Ids(ll.context)), std::string(21, 'x') + " Answer:");
  const compass_request& g = b->requests[1];
  EXPECT_EQ(g.context.size, 22u);  // 32 - 10 new tokens
  EXPECT_EQ(g.max_new_tokens, 10u);
  // 50 tokens in windows of 32: two windows.
  EXPECT_EQ(b->windows[2], 2u);
  ASSERT_EQ(b->requests.size(), 4u);
  EXPECT_EQ(b->requests[2].continuation.size + b->requests[3].continuation.size, 50u);
  // max_new_tokens beyond the window is capped so the request still fits.
  gen.max_new_tokens = 100;
  const auto capped = BuildRequests(t, {gen}, rules);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->requests[0].max_new_tokens, 31u);
  EXPECT_EQ(capped->requests[0].context.size, 1u);
}

TEST(BuildRequests, SamplingParametersReachGenerations) {
  ByteTokenizer t;
  sdk::Item gen;
  gen.kind = COMPASS_ITEM_GENERATE;
  gen.context = "Once";
  RequestRules rules;
  rules.generation = {0.8f, 0.95f, 40, 5, 77};
  const auto b = BuildRequests(t, {gen}, rules);
  ASSERT_TRUE(b.ok());
  const compass_request& g = b->requests[0];
  EXPECT_EQ(g.temperature, 0.8f);
  EXPECT_EQ(g.top_p, 0.95f);
  EXPECT_EQ(g.top_k, 40);
  EXPECT_EQ(g.num_samples, 5u);
  EXPECT_EQ(g.seed, 77u);
}

}  // namespace
}  // namespace compass
