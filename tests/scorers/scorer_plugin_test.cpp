// Loads the scorer modules from COMPASS_PLUGIN_DIR with dlopen and drives
// them through the C ABI only, as the host does.
#include "scorer_test_util.h"
#include "test_host.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace compass::testing {
namespace {

const compass_scorer_api* checked_api(const Module& module, const std::string& name) {
  const auto* api = expect_plugin_api<compass_scorer_api>(module, COMPASS_SCORER_ENTRY,
                                                          COMPASS_DATASET_ENTRY, name);
  // Every in-tree scorer says which items it scores (ABI 2.1), so the host
  // can refuse a task it does not fit before the run.
  if (api != nullptr) {
    const uint64_t expected = name == "mcq_accuracy"
                                  ? COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_MULTIPLE_CHOICE)
                              : name == "perplexity" ? COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_ROLLING)
                                                     : COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_GENERATE);
    EXPECT_EQ(api->item_kinds, expected) << name;
  }
  return api;
}

struct Metric {
  std::string name;
  double value;
  double weight;
  std::string prediction;
};

void collect(void* ctx, const compass_sample_metric* m) {
  static_cast<std::vector<Metric>*>(ctx)->push_back(
      {to_string(m->name), m->value, m->weight, to_string(m->prediction)});
}

compass_scorer* create(const compass_scorer_api* api, const std::string& options) {
  compass_scorer* scorer = nullptr;
  const StatusView created =
      take(api->create(test_host(), {options.data(), options.size()}, &scorer));
  EXPECT_EQ(created.code, COMPASS_OK) << created.message;
  return scorer;
}

// Scores one item through the ABI: score()'s status and the metrics sent.
struct Scored {
  StatusView status;
  std::vector<Metric> metrics;
};
Scored score(const compass_scorer_api* api, compass_scorer* scorer, const compass_item& item,
             const compass_model_output& output) {
  Scored scored;
  const compass_metric_sink sink{&scored.metrics, &collect};
  scored.status = take(api->score(scorer, &item, &output, &sink));
  return scored;
}

TEST(ScorerPluginTest, McqAccuracyScoresAndAggregates) {
  const Module module("libcompass_scorer_mcq_accuracy.so");
  const compass_scorer_api* api = checked_api(module, "mcq_accuracy");
  ASSERT_NE(api, nullptr);

  compass_scorer* scorer = create(api, "{}");
  ASSERT_NE(scorer, nullptr);

  ChoiceCase c({" A", " B", " C", " D"}, {-2.5, -0.5, -1.5, -9}, 1, "x/test/0");
  const Scored scored = score(api, scorer, c.item, c.output);
  ASSERT_EQ(scored.status.code, COMPASS_OK) << scored.status.message;
  const std::vector<Metric>& metrics = scored.metrics;
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_EQ(metrics[0].name, "acc");
  EXPECT_EQ(metrics[0].value, 1.0);
  EXPECT_EQ(metrics[0].weight, 1.0);
  EXPECT_EQ(metrics[0].prediction, "B");
  EXPECT_EQ(metrics[1].name, "acc_norm");
  EXPECT_EQ(metrics[1].value, 1.0);

  c.output.num_choices = 3;
  const StatusView mismatch = score(api, scorer, c.item, c.output).status;
  EXPECT_EQ(mismatch.code, COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(mismatch.message.find("model output has 3"), std::string::npos) << mismatch.message;

  const double values[] = {1, 0, 1, 1}, weights[] = {1, 1, 1, 1};
  compass_aggregate agg{};
  agg.struct_size = sizeof agg;
  ASSERT_EQ(take(api->aggregate(scorer, {"acc", 3}, values, weights, 4, &agg)).code, COMPASS_OK);
  EXPECT_DOUBLE_EQ(agg.value, 0.75);
  EXPECT_DOUBLE_EQ(agg.stderr_value, 0.25);  // sqrt((0.75 / 3) / 4)
  EXPECT_EQ(to_string(agg.stderr_method), "analytic");
  EXPECT_EQ(agg.count, 4u);
  EXPECT_EQ(agg.higher_is_better, 1);
  ASSERT_EQ(take(api->aggregate(scorer, {"acc", 3}, values, weights, 1, &agg)).code, COMPASS_OK);
  EXPECT_DOUBLE_EQ(agg.value, 1.0);
  EXPECT_TRUE(std::isnan(agg.stderr_value));
  api->destroy(scorer);
}

TEST(ScorerPluginTest, ExactMatchThroughTheAbi) {
  const Module module("libcompass_scorer_exact_match.so");
  const compass_scorer_api* api = checked_api(module, "exact_match");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(option_keys(api),
            (std::vector<std::string>{"ignore_case", "ignore_punctuation", "ignore_numbers",
                                      "regexes_to_ignore", "strip"}));
  compass_scorer* scorer = create(api, R"({"ignore_case": true, "regexes_to_ignore": ["!"]})");
  ASSERT_NE(scorer, nullptr);
  const GenerateCase g({"paris"}, " PARIS!\n", "g/0");
  const Scored scored = score(api, scorer, g.item, g.output);
  ASSERT_EQ(scored.status.code, COMPASS_OK) << scored.status.message;
  const std::vector<Metric>& metrics = scored.metrics;
  ASSERT_EQ(metrics.size(), 1u);
  EXPECT_EQ(metrics[0].name, "exact_match");
  EXPECT_EQ(metrics[0].value, 1.0);
  EXPECT_EQ(metrics[0].prediction, "paris");
  const double values[] = {1, 0, 0, 1}, weights[] = {1, 1, 1, 1};
  compass_aggregate agg{};
  agg.struct_size = sizeof agg;
  ASSERT_EQ(take(api->aggregate(scorer, {"exact_match", 11}, values, weights, 4, &agg)).code,
            COMPASS_OK);
  EXPECT_DOUBLE_EQ(agg.value, 0.5);
  EXPECT_DOUBLE_EQ(agg.stderr_value, std::sqrt((1.0 / 3) / 4));
  EXPECT_EQ(to_string(agg.stderr_method), "analytic");
  api->destroy(scorer);

  compass_scorer* bad = nullptr;
  const std::string options = R"({"regexes_to_ignore": ["("]})";
  const StatusView refused = take(api->create(test_host(), {options.data(), options.size()}, &bad));
  EXPECT_EQ(refused.code, COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(refused.message.find("invalid regular expression '('"), std::string::npos);
  EXPECT_EQ(bad, nullptr);
}

TEST(ScorerPluginTest, Gsm8kAnswerThroughTheAbi) {
  const Module module("libcompass_scorer_gsm8k_answer.so");
  const compass_scorer_api* api = checked_api(module, "gsm8k_answer");
  ASSERT_NE(api, nullptr);
  compass_scorer* scorer = create(api, "{}");
  ASSERT_NE(scorer, nullptr);
  const GenerateCase g({"1234"}, "She pays $1,234 in all.\n#### 1,234", "g/0");
  const Scored scored = score(api, scorer, g.item, g.output);
  ASSERT_EQ(scored.status.code, COMPASS_OK) << scored.status.message;
  const std::vector<Metric>& metrics = scored.metrics;
  ASSERT_EQ(metrics.size(), 4u);
  EXPECT_EQ(metrics[0].name, "exact_match_strict");
  EXPECT_EQ(metrics[0].value, 1.0);
  EXPECT_EQ(metrics[0].prediction, "1,234");
  EXPECT_EQ(metrics[1].name, "unparsed_strict");
  EXPECT_EQ(metrics[1].value, 0.0);
  EXPECT_EQ(metrics[2].name, "exact_match_flexible");
  EXPECT_EQ(metrics[2].value, 1.0);
  EXPECT_EQ(metrics[3].name, "unparsed_flexible");

  const double values[] = {1, 0, 0, 0}, weights[] = {1, 1, 1, 1};
  compass_aggregate agg{};
  agg.struct_size = sizeof agg;
  ASSERT_EQ(take(api->aggregate(scorer, {"unparsed_strict", 15}, values, weights, 4, &agg)).code,
            COMPASS_OK);
  EXPECT_DOUBLE_EQ(agg.value, 0.25);
  EXPECT_EQ(agg.higher_is_better, 0);
  ASSERT_EQ(take(api->aggregate(scorer, {"exact_match_strict", 18}, values, weights, 4, &agg)).code,
            COMPASS_OK);
  EXPECT_EQ(agg.higher_is_better, 1);
  EXPECT_EQ(to_string(agg.stderr_method), "analytic");

  compass_item mc = g.item;
  mc.kind = COMPASS_ITEM_MULTIPLE_CHOICE;
  EXPECT_EQ(score(api, scorer, mc, g.output).status.code, COMPASS_INVALID_ARGUMENT);
  api->destroy(scorer);
}

TEST(ScorerPluginTest, PerplexityThroughTheAbi) {
  const Module module("libcompass_scorer_perplexity.so");
  const compass_scorer_api* api = checked_api(module, "perplexity");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(option_keys(api), (std::vector<std::string>{"bootstrap_iters"}));
  compass_scorer* scorer = create(api, R"({"bootstrap_iters": 1000})");
  ASSERT_NE(scorer, nullptr);
  const RollingCase c("one two  three", -14.0, "");
  const Scored scored = score(api, scorer, c.item, c.output);
  ASSERT_EQ(scored.status.code, COMPASS_OK) << scored.status.message;
  const std::vector<Metric>& metrics = scored.metrics;
  ASSERT_EQ(metrics.size(), 3u);
  EXPECT_EQ(metrics[0].name, "word_perplexity");
  EXPECT_DOUBLE_EQ(metrics[0].value, 14.0 / 3);
  EXPECT_EQ(metrics[0].weight, 3.0);
  EXPECT_EQ(metrics[1].name, "byte_perplexity");
  EXPECT_EQ(metrics[1].weight, 14.0);
  EXPECT_EQ(metrics[2].name, "bits_per_byte");

  // word_perplexity over two samples: exp((14 + 6) / (3 + 2)).
  const double values[] = {14.0 / 3, 3.0}, weights[] = {3, 2};
  compass_aggregate agg{};
  agg.struct_size = sizeof agg;
  ASSERT_EQ(take(api->aggregate(scorer, {"word_perplexity", 15}, values, weights, 2, &agg)).code,
            COMPASS_OK);
  EXPECT_NEAR(agg.value, std::exp(4.0), 1e-9);
  EXPECT_EQ(agg.higher_is_better, 0);
  EXPECT_EQ(to_string(agg.stderr_method), "bootstrap");
  EXPECT_TRUE(std::isfinite(agg.stderr_value));
  EXPECT_EQ(take(api->aggregate(scorer, {"acc", 3}, values, weights, 2, &agg)).code,
            COMPASS_INVALID_ARGUMENT);
  api->destroy(scorer);
}

}  // namespace
}  // namespace compass::testing
