// Loads the scorer modules from COMPASS_PLUGIN_DIR with dlopen and drives
// them through the C ABI only, as the host does.
#include "test_host.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace compass::testing {
namespace {

const compass_scorer_api* scorer_api(const Module& module) {
  auto* entry = reinterpret_cast<compass_scorer_entry_fn>(module.symbol(COMPASS_SCORER_ENTRY));
  return entry == nullptr ? nullptr : entry();
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

TEST(ScorerPluginTest, McqAccuracyScoresAndAggregates) {
  const Module module("libcompass_scorer_mcq_accuracy.so");
  ASSERT_TRUE(module.ok()) << module.error();
  EXPECT_EQ(module.symbol(COMPASS_DATASET_ENTRY), nullptr);
  const compass_scorer_api* api = scorer_api(module);
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->header.abi_major, static_cast<uint32_t>(COMPASS_ABI_MAJOR));
  EXPECT_EQ(to_string(api->info.name), "mcq_accuracy");
  EXPECT_EQ(to_string(api->info.version), "0.1.0");

  compass_scorer* scorer = nullptr;
  const StatusView created = take(api->create(test_host(), {"{}", 2}, &scorer));
  ASSERT_EQ(created.code, COMPASS_OK) << created.message;
  ASSERT_NE(scorer, nullptr);

  const compass_str choices[] = {{" A", 2}, {" B", 2}, {" C", 2}, {" D", 2}};
  const compass_choice_output outputs[] = {{-2.5, 0, 1}, {-0.5, 1, 1}, {-1.5, 0, 1}, {-9, 0, 1}};
  compass_item item{};
  item.struct_size = sizeof(item);
  item.id = {"x/test/0", 8};
  item.kind = COMPASS_ITEM_MULTIPLE_CHOICE;
  item.choices = choices;
  item.num_choices = 4;
  item.gold = 1;
  compass_model_output output{};
  output.struct_size = sizeof(output);
  output.choices = outputs;
  output.num_choices = 4;

  std::vector<Metric> metrics;
  const compass_metric_sink sink{&metrics, &collect};
  const StatusView scored = take(api->score(scorer, &item, &output, &sink));
  ASSERT_EQ(scored.code, COMPASS_OK) << scored.message;
  ASSERT_EQ(metrics.size(), 2u);
  EXPECT_EQ(metrics[0].name, "acc");
  EXPECT_EQ(metrics[0].value, 1.0);
  EXPECT_EQ(metrics[0].weight, 1.0);
  EXPECT_EQ(metrics[0].prediction, "B");
  EXPECT_EQ(metrics[1].name, "acc_norm");
  EXPECT_EQ(metrics[1].value, 1.0);

  output.num_choices = 3;
  const StatusView mismatch = take(api->score(scorer, &item, &output, &sink));
  EXPECT_EQ(mismatch.code, COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(mismatch.message.find("model output has 3"), std::string::npos) << mismatch.message;

  const double values[] = {1, 0, 1, 1}, weights[] = {1, 1, 1, 1};
  compass_aggregate agg{};
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

TEST(ScorerPluginTest, PlaceholdersAreListedAndRefuseToRun) {
  for (const std::string name : {"exact_match", "gsm8k_answer", "perplexity"}) {
    SCOPED_TRACE(name);
    const Module module("libcompass_scorer_" + name + ".so");
    ASSERT_TRUE(module.ok()) << module.error();
    const compass_scorer_api* api = scorer_api(module);
    ASSERT_NE(api, nullptr);
    EXPECT_EQ(api->header.abi_major, static_cast<uint32_t>(COMPASS_ABI_MAJOR));
    EXPECT_EQ(to_string(api->info.name), name);
    EXPECT_EQ(to_string(api->info.version), "0.0.0-unimplemented");
    EXPECT_FALSE(to_string(api->info.description).empty());

    compass_scorer* scorer = nullptr;
    const StatusView status = take(api->create(test_host(), {"{}", 2}, &scorer));
    EXPECT_EQ(status.code, COMPASS_UNSUPPORTED);
    EXPECT_EQ(status.message,
              "scorer '" + name + "' is not implemented in this version of Compass");
    EXPECT_EQ(scorer, nullptr);
  }
}

}  // namespace
}  // namespace compass::testing
