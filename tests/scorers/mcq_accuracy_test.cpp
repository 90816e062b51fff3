#include "compass/scorers/mcq_accuracy.h"

#include "scorer_test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace compass::scorers::mcq {
namespace {

using namespace compass::testing;

// A multiple-choice case scored by mcq::score.
struct Case : ChoiceCase {
  using ChoiceCase::ChoiceCase;
  std::vector<Metric> run() const { return score(item, output); }
};

const std::vector<std::string> kLetters = {" A", " B", " C", " D"};

void expect_metrics(const std::vector<Metric>& metrics, double acc, const std::string& pred,
                    double acc_norm, const std::string& pred_norm) {
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_EQ(metrics[0].name, "acc");
  EXPECT_EQ(metrics[0].value, acc);
  EXPECT_EQ(metrics[0].prediction, pred);
  EXPECT_EQ(metrics[1].name, "acc_norm");
  EXPECT_EQ(metrics[1].value, acc_norm);
  EXPECT_EQ(metrics[1].prediction, pred_norm);
}

TEST(McqAccuracyTest, PicksTheHighestLogprob) {
  expect_metrics(Case(kLetters, {-3, -1, -2, -4}, 1).run(), 1, "B", 1, "B");
  expect_metrics(Case(kLetters, {-3, -1, -2, -4}, 2).run(), 0, "B", 0, "B");
}

TEST(McqAccuracyTest, TiesGoToTheFirstMaximum) {
  expect_metrics(Case(kLetters, {-2, -1, -1, -3}, 2).run(), 0, "B", 0, "B");
  expect_metrics(Case(kLetters, {-2, -1, -1, -3}, 1).run(), 1, "B", 1, "B");
  EXPECT_EQ(argmax({5, 5, 5}), 0u);
}

TEST(McqAccuracyTest, NormalisationCanChangeTheAnswer) {
  // raw: -4 > -6 picks "cat"; per character: -4/3 = -1.33 < -6/8 = -0.75
  // picks "elephant".
  expect_metrics(Case({" cat", " elephant"}, {-4, -6}, 1).run(), 0, "cat", 1, "elephant");
}

TEST(McqAccuracyTest, LengthIsCodePointsWithoutTheDelimiter) {
  EXPECT_EQ(norm_length(" A"), 1u);
  EXPECT_EQ(norm_length("A"), 1u);
  EXPECT_EQ(norm_length("  x"), 2u);  // only one delimiter space is dropped
  EXPECT_EQ(norm_length(" \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"), 3u);  // " 日本語": 3, not 9 bytes
  EXPECT_EQ(norm_length(" \xC3\xA9t\xC3\xA9"), 3u);                     // " été"
  EXPECT_EQ(norm_length(""), 1u);
  // 日本語 -3.3/3 = -1.1 < abcd -4/4 = -1.0 -> abcd; counting bytes (-3.3/9)
  // would pick 日本語.
  expect_metrics(Case({" \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", " abcd"}, {-3.3, -4}, 1).run(), 0,
                 "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", 1, "abcd");
  // lm-eval divides by len("ab") = 2, not len(" ab") = 3: -2.2/2 = -1.1 <
  // -4/4 = -1.0 picks "abcd" (with the space: -0.733 > -0.8 would pick "ab").
  expect_metrics(Case({" ab", " abcd"}, {-2.2, -4}, 1).run(), 0, "ab", 1, "abcd");
}

TEST(McqAccuracyTest, ArgmaxTreatsNanAsMaximumLikeNumpy) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(argmax({-1, nan, -0.5, nan}), 1u);
  EXPECT_EQ(argmax({-3, -0.5, -1}), 1u);
  EXPECT_EQ(argmax({-std::numeric_limits<double>::infinity(), -1e300}), 1u);
}

TEST(McqAccuracyTest, LabelTrimsWhitespace) {
  EXPECT_EQ(label(" A"), "A");
  EXPECT_EQ(label(" two words \n"), "two words");
  EXPECT_EQ(label("  "), "");
}

void expect_invalid(const Case& c, const std::string& fragment) {
  const sdk::Error e = error_of([&] { c.run(); });
  EXPECT_EQ(e.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
}

TEST(McqAccuracyTest, RejectsWhatItCannotScore) {
  Case generate(kLetters, {-1, -2, -3, -4}, 0);
  generate.item.kind = COMPASS_ITEM_GENERATE;
  expect_invalid(generate, "item 't/0' is not a multiple-choice item");

  Case short_output(kLetters, {-1, -2, -3, -4}, 0);
  short_output.output.num_choices = 3;
  expect_invalid(short_output, "has 4 choices but the model output has 3");

  expect_invalid(Case(kLetters, {-1, -2, -3, -4}, -1), "gold -1");
  expect_invalid(Case(kLetters, {-1, -2, -3, -4}, 4), "gold 4");
  expect_invalid(Case({}, {}, 0), "has no choices");
}

// Partial evaluation (Winogrande): one continuation, one context per
// choice. lm-eval's acc_norm divides by len() of doc_to_choice's string,
// here the option after the shared few-shot prefix: "so Sarah" against
// "so Maria" has equal lengths, "... the bed" against "... the blanket"
// does not.
TEST(McqAccuracyTest, PartialEvaluationNormalisesByTheOption) {
  const std::string prefix = "shot text.\n\n";
  const std::vector<std::string> contexts = {prefix + "but the bed", prefix + "but the blanket"};
  Case c({" was ruined.", " was ruined."}, {-12, -14}, 1);
  std::vector<compass_str> views;
  for (const auto& text : contexts) views.push_back(sdk::str(text));
  c.item.context = sdk::str(prefix);
  c.item.contexts = views.data();
  c.item.num_contexts = views.size();
  // raw: -12 > -14 picks the bed; per code point: -12/11 = -1.09 < -14/15
  // = -0.93 picks the blanket. Predictions are the options.
  expect_metrics(c.run(), 0, "but the bed", 1, "but the blanket");
  c.item.num_contexts = 1;
  expect_invalid(c, "has 1 contexts for 2 choices");
}

TEST(McqAccuracyTest, AggregateIsTheMeanWithSampleStderr) {
  // The plugin keeps the SDK's default aggregate. Values 1,0,1,1: mean 0.75,
  // sample variance (3 * 0.0625 + 0.5625) / 3 = 0.25, stderr sqrt(0.25 / 4).
  const double values[] = {1, 0, 1, 1}, weights[] = {1, 1, 1, 1};
  const compass_aggregate a = sdk::weighted_mean(values, weights, 4, true);
  EXPECT_DOUBLE_EQ(a.value, 0.75);
  EXPECT_DOUBLE_EQ(a.stderr_value, 0.25);
  EXPECT_EQ(a.count, 4u);
  // 1,0,0,0,0: mean 0.2, variance (0.64 + 4 * 0.04) / 4 = 0.2, stderr
  // sqrt(0.2 / 5) = 0.2.
  const double v2[] = {1, 0, 0, 0, 0}, w2[] = {1, 1, 1, 1, 1};
  const compass_aggregate b = sdk::weighted_mean(v2, w2, 5, true);
  EXPECT_DOUBLE_EQ(b.value, 0.2);
  EXPECT_NEAR(b.stderr_value, 0.2, 1e-15);
}

}  // namespace
}  // namespace compass::scorers::mcq
