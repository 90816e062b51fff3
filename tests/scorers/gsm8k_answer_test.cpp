#include "compass/scorers/gsm8k_answer.h"

#include "scorer_test_util.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace compass::scorers::gsm8k {
namespace {

using namespace compass::testing;

struct Expected {
  double strict;
  std::string strict_prediction;
  double flexible;
  std::string flexible_prediction;
};

void expect_scores(const std::string& reference, const std::string& text, const Expected& e) {
  SCOPED_TRACE("output: " + text);
  const Gsm8kAnswer scorer;
  const GenerateCase c({reference}, text, "test/0");
  const auto metrics = scorer.score(c.item, c.output);
  ASSERT_EQ(metrics.size(), 4u);
  EXPECT_EQ(metrics[0].name, "exact_match_strict");
  EXPECT_EQ(metrics[0].value, e.strict);
  EXPECT_EQ(metrics[0].prediction, e.strict_prediction);
  EXPECT_EQ(metrics[1].name, "unparsed_strict");
  EXPECT_EQ(metrics[1].value, e.strict_prediction == "[invalid]" ? 1.0 : 0.0);
  EXPECT_EQ(metrics[2].name, "exact_match_flexible");
  EXPECT_EQ(metrics[2].value, e.flexible);
  EXPECT_EQ(metrics[2].prediction, e.flexible_prediction);
  EXPECT_EQ(metrics[3].name, "unparsed_flexible");
  EXPECT_EQ(metrics[3].value, e.flexible_prediction == "[invalid]" ? 1.0 : 0.0);
}

// Every expectation below was checked against lm-eval's RegexFilter and
// exact_match_hf_evaluate run in Python on the same strings.
TEST(Gsm8kAnswerTest, CommasDollarsAndTrailingPeriods) {
  expect_scores("1234", "The answer is\n#### 1,234", {1, "1,234", 1, "1,234"});
  // "$" is outside the strict pattern; flexible takes "$1,234." and the
  // normalisation drops "$", "," and the final ".".
  expect_scores("1234", "#### $1,234.", {0, "[invalid]", 1, "$1,234."});
  expect_scores("18", "So she pays $18 in total.", {0, "[invalid]", 1, "$18"});
  expect_scores("42", "The total is 42.", {0, "[invalid]", 1, "42."});
  expect_scores("12", "#### 12.\n", {1, "12.", 1, "12."});
  expect_scores("1000000", "costs 1,000,000 dollars", {0, "[invalid]", 1, "1,000,000"});
}

TEST(Gsm8kAnswerTest, NegativesAndDecimals) {
  expect_scores("-10", "It drops to -10 degrees.\n#### -10", {1, "-10", 1, "-10"});
  // Exact string comparison after normalisation: "3.50" is not "3.5".
  expect_scores("3.5", "He has 3.50 dollars left.\n#### 3.50", {0, "3.50", 0, "3.50"});
  expect_scores("3.5", "He has 3.50 dollars left.\n#### 3.5", {1, "3.5", 1, "3.5"});
}

TEST(Gsm8kAnswerTest, FirstStrictMatchLastFlexibleMatch) {
  expect_scores("6", "#### 5\nthen #### 6", {0, "5", 1, "6"});
  expect_scores("40", "First 5, then 12, then 40.", {0, "[invalid]", 1, "40."});
  expect_scores("7", "answer: 7", {0, "[invalid]", 1, "7"});  // the one-digit alternative
}

TEST(Gsm8kAnswerTest, UnparsedOutputsScoreZero) {
  expect_scores("7", "I do not know.", {0, "[invalid]", 0, "[invalid]"});
  expect_scores("7", "", {0, "[invalid]", 0, "[invalid]"});
  // A reference that reads like the fallback still does not match it.
  expect_scores("[invalid]", "no digits", {0, "[invalid]", 0, "[invalid]"});
  const Gsm8kAnswer scorer;
  EXPECT_EQ(scorer.strict("no answer"), std::nullopt);
  EXPECT_EQ(scorer.flexible("no answer"), std::nullopt);
  EXPECT_EQ(scorer.flexible("\xFF 12 \xFE"), "12");  // invalid UTF-8 is tolerated
}

TEST(Gsm8kAnswerTest, NormalisationIsLmEvals) {
  const Gsm8kAnswer scorer;
  EXPECT_EQ(scorer.normalize("Step 1\n#### $1,234."), "1234");
  EXPECT_EQ(scorer.normalize("#### 1\n#### 2"), "2");  // greedy up to the last marker
  EXPECT_EQ(scorer.normalize("ABC"), "abc");
  EXPECT_EQ(scorer.normalize(" 5 "), " 5 ");   // no strip
  EXPECT_EQ(scorer.normalize("3.\n"), "3\n");  // "$" also matches before a final newline
  EXPECT_TRUE(lower_is_better("unparsed_strict"));
  EXPECT_FALSE(lower_is_better("exact_match_flexible"));
}

TEST(Gsm8kAnswerTest, RejectsOtherItems) {
  const Gsm8kAnswer scorer;
  GenerateCase c({"1"}, "1", "test/0");
  c.item.kind = COMPASS_ITEM_MULTIPLE_CHOICE;
  EXPECT_THROW(scorer.score(c.item, c.output), sdk::Error);
  GenerateCase none({"1"}, "1", "test/0");
  none.item.num_references = 0;
  const sdk::Error e = error_of([&] { scorer.score(none.item, none.output); });
  EXPECT_EQ(e.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(e.what()), "gsm8k_answer: item 'test/0' has no reference answer");
}

}  // namespace
}  // namespace compass::scorers::gsm8k
