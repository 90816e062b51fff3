#include "compass/scorers/perplexity.h"

#include "scorer_test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace compass::scorers::perplexity {
namespace {

using namespace compass::testing;

// The texts and log-likelihoods of the reference computation: words =
// len(re.split(r"\s+", t)), bytes = len(t.encode("utf-8")).
const std::vector<std::string> kTexts = {"The cat sat on the mat.", "  leading and trailing  ",
                                         "h\xC3\xA9llo w\xC3\xB6rld", "one\ntwo\tthree four"};
const std::vector<double> kLogprobs = {-30.5, -41.25, -22.0, -35.75};

struct Samples {
  std::vector<double> values, weights;
};

Samples samples(const std::string& metric) {
  Samples s;
  for (size_t i = 0; i < kTexts.size(); ++i) {
    const RollingCase c(kTexts[i], kLogprobs[i]);
    for (const auto& m : score(c.item, c.output)) {
      if (m.name != metric) continue;
      s.values.push_back(m.value);
      s.weights.push_back(m.weight);
    }
  }
  return s;
}

TEST(PerplexityTest, PerSampleRatioForm) {
  const RollingCase c(kTexts[1], -41.25);
  const auto metrics = score(c.item, c.output);
  ASSERT_EQ(metrics.size(), 3u);
  EXPECT_EQ(metrics[0].name, "word_perplexity");
  EXPECT_EQ(metrics[0].weight, 5.0);  // ['', 'leading', 'and', 'trailing', '']
  EXPECT_DOUBLE_EQ(metrics[0].value, 41.25 / 5);
  EXPECT_EQ(metrics[1].name, "byte_perplexity");
  EXPECT_EQ(metrics[1].weight, 24.0);
  EXPECT_EQ(metrics[2].name, "bits_per_byte");
  EXPECT_EQ(metrics[2].weight, 24.0);
  EXPECT_DOUBLE_EQ(metrics[2].value, 41.25 / 24);
  EXPECT_EQ(samples("byte_perplexity").weights, (std::vector<double>{23, 24, 13, 18}));
  EXPECT_EQ(samples("word_perplexity").weights, (std::vector<double>{6, 5, 2, 4}));
}

// Reference values from Python with lm-eval's formulas:
// weighted_perplexity = exp(-sum(ll) / sum(w)), bits_per_byte =
// -sum(ll) / sum(bytes) / log(2); bootstrap_stderr(f, items, 1000) (one
// chunk, random.Random(0).choices(items, k=len(items)) per resample).
TEST(PerplexityTest, AggregatesMatchLmEval) {
  const auto word = samples("word_perplexity");
  const auto byte = samples("byte_perplexity");
  const auto bpb = samples("bits_per_byte");
  const compass_aggregate w =
      aggregate("word_perplexity", word.values.data(), word.weights.data(), 4, 1000);
  EXPECT_NEAR(w.value, 2033.7711517003515, 1e-9);
  EXPECT_NEAR(w.stderr_value, 5289.230472281025, 1e-7);
  EXPECT_EQ(sdk::view(w.stderr_method), "bootstrap");
  EXPECT_EQ(w.higher_is_better, 0);
  EXPECT_EQ(w.count, 4u);
  const compass_aggregate b =
      aggregate("byte_perplexity", byte.values.data(), byte.weights.data(), 4, 1000);
  EXPECT_NEAR(b.value, 5.260659558593746, 1e-12);
  EXPECT_NEAR(b.stderr_value, 0.659184198433414, 1e-12);
  const compass_aggregate p =
      aggregate("bits_per_byte", bpb.values.data(), bpb.weights.data(), 4, 1000);
  EXPECT_NEAR(p.value, 2.3952436896810356, 1e-12);
  EXPECT_NEAR(p.stderr_value, 0.17820351337328835, 1e-12);
  // Two chunks: seeds 0 and 1.
  EXPECT_NEAR(bootstrap_stderr("bits_per_byte", bpb.values.data(), bpb.weights.data(), 4, 2000),
              0.1802693070757794, 1e-12);
}

TEST(PerplexityTest, BootstrapIsDeterministicAndOptional) {
  const auto bpb = samples("bits_per_byte");
  const double first =
      bootstrap_stderr("bits_per_byte", bpb.values.data(), bpb.weights.data(), 4, 1000);
  EXPECT_EQ(first,
            bootstrap_stderr("bits_per_byte", bpb.values.data(), bpb.weights.data(), 4, 1000));
  EXPECT_TRUE(
      std::isnan(bootstrap_stderr("bits_per_byte", bpb.values.data(), bpb.weights.data(), 4, 0)));
  const compass_aggregate one =
      aggregate("bits_per_byte", bpb.values.data(), bpb.weights.data(), 1, 1000);
  EXPECT_DOUBLE_EQ(one.value, 30.5 / 23 / std::log(2.0));
  EXPECT_TRUE(std::isnan(one.stderr_value));
  const compass_aggregate none = aggregate("bits_per_byte", nullptr, nullptr, 0, 1000);
  EXPECT_TRUE(std::isnan(none.value));
  EXPECT_EQ(parse_options("").bootstrap_iters, 1000u);
  EXPECT_EQ(parse_options(R"({"bootstrap_iters": 0})").bootstrap_iters, 0u);
  EXPECT_THROW(parse_options(R"({"bootstrap_iters": -1})"), sdk::Error);
}

TEST(PerplexityTest, RejectsBadInput) {
  EXPECT_THROW(aggregate("acc", nullptr, nullptr, 0, 1000), sdk::Error);
  RollingCase generate("text", -1);
  generate.item.kind = COMPASS_ITEM_GENERATE;
  EXPECT_THROW(score(generate.item, generate.output), sdk::Error);
  RollingCase empty("", -1);
  EXPECT_THROW(score(empty.item, empty.output), sdk::Error);
  RollingCase inf("text", -INFINITY);
  EXPECT_THROW(score(inf.item, inf.output), sdk::Error);
}

}  // namespace
}  // namespace compass::scorers::perplexity
