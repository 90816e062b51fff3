// Loads the dataset modules from COMPASS_PLUGIN_DIR with dlopen and drives
// them through the C ABI only, as the host does.
#include "test_host.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace compass::testing {
namespace {

const compass_dataset_api* dataset_api(const Module& module) {
  auto* entry = reinterpret_cast<compass_dataset_entry_fn>(module.symbol(COMPASS_DATASET_ENTRY));
  return entry == nullptr ? nullptr : entry();
}

struct Collected {
  std::vector<std::string> ids, groups, contexts;
  std::vector<std::vector<std::string>> choices;
  std::vector<int64_t> gold;
  int stop_after = -1;  // ask the dataset to stop after this many items
};

int32_t collect(void* ctx, const compass_item* item) {
  auto* c = static_cast<Collected*>(ctx);
  c->ids.push_back(to_string(item->id));
  c->groups.push_back(to_string(item->group));
  c->contexts.push_back(to_string(item->context));
  std::vector<std::string> choices;
  for (uint64_t i = 0; i < item->num_choices; ++i) choices.push_back(to_string(item->choices[i]));
  c->choices.push_back(choices);
  c->gold.push_back(item->gold);
  return c->stop_after >= 0 && static_cast<int>(c->ids.size()) >= c->stop_after ? 1 : 0;
}

compass_dataset_config fixture_config(const std::string& path, const std::string& options,
                                      uint32_t shots = 0) {
  compass_dataset_config config{};
  config.struct_size = sizeof(config);
  config.path = {path.data(), path.size()};
  config.num_shots = shots;
  config.options_json = {options.data(), options.size()};
  return config;
}

const std::string kFixture = std::string(COMPASS_SOURCE_DIR) + "/tests/fixtures/mmlu";

TEST(DatasetPluginTest, MmluLoadsAndDeliversItems) {
  const Module module("libcompass_dataset_mmlu.so");
  ASSERT_TRUE(module.ok()) << module.error();
  EXPECT_EQ(module.symbol(COMPASS_SCORER_ENTRY), nullptr);
  const compass_dataset_api* api = dataset_api(module);
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->header.abi_major, static_cast<uint32_t>(COMPASS_ABI_MAJOR));
  EXPECT_EQ(api->header.struct_size, sizeof(compass_dataset_api));
  EXPECT_EQ(to_string(api->info.name), "mmlu");
  EXPECT_EQ(to_string(api->info.version), "0.1.0");
  EXPECT_EQ(to_string(api->default_scorer), "mcq_accuracy");
  ASSERT_EQ(api->options.size, 2u);
  EXPECT_EQ(to_string(api->options.items[0].key), "subjects");
  EXPECT_EQ(to_string(api->options.items[1].key), "split");

  const std::string options = R"({"subjects": ["college_computer_science"]})";
  const auto config = fixture_config(kFixture, options, 1);
  compass_dataset* dataset = nullptr;
  const StatusView created = take(api->create(test_host(), &config, &dataset));
  ASSERT_EQ(created.code, COMPASS_OK) << created.message;
  ASSERT_NE(dataset, nullptr);

  Collected items;
  const compass_item_sink sink{&items, &collect};
  const StatusView listed = take(api->items(dataset, &sink));
  ASSERT_EQ(listed.code, COMPASS_OK) << listed.message;
  ASSERT_EQ(items.ids.size(), 10u);
  EXPECT_EQ(items.ids[0], "college_computer_science/test/0");
  EXPECT_EQ(items.groups[0], "college_computer_science");
  EXPECT_EQ(items.choices[0], (std::vector<std::string>{" A", " B", " C", " D"}));
  EXPECT_EQ(items.gold[0], 0);  // answer A
  EXPECT_EQ(items.gold[4], 2);  // answer C
  const std::string one_shot_start =
      "The following are multiple choice questions (with answers) about college computer "
      "science.\n\nWhich of the following regular expressions";
  EXPECT_EQ(items.contexts[0].rfind(one_shot_start, 0), 0u) << items.contexts[0];
  EXPECT_NE(items.contexts[0].find("Answer: D\n\nThe access matrix approach"), std::string::npos);

  Collected first_two;
  first_two.stop_after = 2;
  const compass_item_sink stopping{&first_two, &collect};
  EXPECT_EQ(take(api->items(dataset, &stopping)).code, COMPASS_OK);
  EXPECT_EQ(first_two.ids.size(), 2u);
  api->destroy(dataset);
}

TEST(DatasetPluginTest, MmluErrorsBecomeStatuses) {
  const Module module("libcompass_dataset_mmlu.so");
  ASSERT_TRUE(module.ok()) << module.error();
  const compass_dataset_api* api = dataset_api(module);
  ASSERT_NE(api, nullptr);

  const std::string options = R"({"subjects": ["colege_computer_science"]})";
  const auto config = fixture_config(kFixture, options);
  compass_dataset* dataset = reinterpret_cast<compass_dataset*>(&dataset);
  const StatusView status = take(api->create(test_host(), &config, &dataset));
  EXPECT_EQ(status.code, COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(status.message.find("did you mean 'college_computer_science'?"), std::string::npos)
      << status.message;
  EXPECT_EQ(dataset, nullptr);

  const auto missing = fixture_config(kFixture + "/nowhere", "{}");
  EXPECT_EQ(take(api->create(test_host(), &missing, &dataset)).code, COMPASS_NOT_FOUND);
  api->destroy(nullptr);  // a no-op
}

TEST(DatasetPluginTest, PlaceholdersAreListedAndRefuseToRun) {
  for (const std::string name : {"arc", "gsm8k", "hellaswag", "jsonl"}) {
    SCOPED_TRACE(name);
    const Module module("libcompass_dataset_" + name + ".so");
    ASSERT_TRUE(module.ok()) << module.error();
    const compass_dataset_api* api = dataset_api(module);
    ASSERT_NE(api, nullptr);
    EXPECT_EQ(api->header.abi_major, static_cast<uint32_t>(COMPASS_ABI_MAJOR));
    EXPECT_EQ(to_string(api->info.name), name);
    EXPECT_EQ(to_string(api->info.version), "0.0.0-unimplemented");
    EXPECT_FALSE(to_string(api->info.description).empty());
    EXPECT_FALSE(to_string(api->default_scorer).empty());

    const auto config = fixture_config(kFixture, "{}");
    compass_dataset* dataset = nullptr;
    const StatusView status = take(api->create(test_host(), &config, &dataset));
    EXPECT_EQ(status.code, COMPASS_UNSUPPORTED);
    EXPECT_EQ(status.message,
              "dataset '" + name + "' is not implemented in this version of Compass");
    EXPECT_EQ(dataset, nullptr);
  }
}

}  // namespace
}  // namespace compass::testing
