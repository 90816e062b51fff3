// Loads the dataset modules from COMPASS_PLUGIN_DIR with dlopen and drives
// them through the C ABI only, as the host does.
#include "test_host.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace compass::testing {
namespace {

const compass_dataset_api* checked_api(const Module& module, const std::string& name,
                                       const std::string& default_scorer) {
  const auto* api = expect_plugin_api<compass_dataset_api>(module, COMPASS_DATASET_ENTRY,
                                                           COMPASS_SCORER_ENTRY, name);
  if (api != nullptr) EXPECT_EQ(to_string(api->default_scorer), default_scorer);
  return api;
}

struct Collected {
  std::vector<std::string> ids, groups, contexts, doc_json;
  std::vector<std::vector<std::string>> choices, references, stop, per_choice_contexts;
  std::vector<int64_t> gold;
  std::vector<uint32_t> kinds, max_new_tokens;
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
  std::vector<std::string> references, stop;
  for (uint64_t i = 0; i < item->num_references; ++i) {
    references.push_back(to_string(item->references[i]));
  }
  for (uint64_t i = 0; i < item->num_stop; ++i) stop.push_back(to_string(item->stop[i]));
  c->references.push_back(references);
  c->stop.push_back(stop);
  c->kinds.push_back(item->kind);
  c->max_new_tokens.push_back(item->max_new_tokens);
  c->doc_json.push_back(to_string(item->doc_json));
  std::vector<std::string> contexts;
  for (uint64_t i = 0; i < item->num_contexts; ++i)
    contexts.push_back(to_string(item->contexts[i]));
  c->per_choice_contexts.push_back(contexts);
  return c->stop_after >= 0 && static_cast<int>(c->ids.size()) >= c->stop_after ? 1 : 0;
}

// The config views `path` and `options`: both must outlive it (a temporary
// passed here is gone at the end of the statement).
compass_dataset_config fixture_config(const std::string& path, const std::string& options,
                                      uint32_t shots = 0, uint64_t limit = 0,
                                      uint64_t seed = 1234) {
  compass_dataset_config config{};
  config.struct_size = sizeof(config);
  config.path = {path.data(), path.size()};
  config.num_shots = shots;
  config.limit = limit;
  config.seed = seed;
  config.options_json = {options.data(), options.size()};
  return config;
}

const std::string kFixture = std::string(COMPASS_SOURCE_DIR) + "/tests/fixtures/mmlu";

TEST(DatasetPluginTest, MmluLoadsAndDeliversItems) {
  const Module module("libcompass_dataset_mmlu.so");
  const compass_dataset_api* api = checked_api(module, "mmlu", "mcq_accuracy");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(option_keys(api), (std::vector<std::string>{"subjects", "split"}));

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
  const auto* api = plugin_api<compass_dataset_api>(module, COMPASS_DATASET_ENTRY);
  ASSERT_NE(api, nullptr);

  const std::string options = R"({"subjects": ["colege_computer_science"]})";
  const auto config = fixture_config(kFixture, options);
  compass_dataset* dataset = reinterpret_cast<compass_dataset*>(&dataset);
  const StatusView status = take(api->create(test_host(), &config, &dataset));
  EXPECT_EQ(status.code, COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(status.message.find("did you mean 'college_computer_science'?"), std::string::npos)
      << status.message;
  EXPECT_EQ(dataset, nullptr);

  const std::string nowhere = kFixture + "/nowhere", no_options = "{}";
  const auto missing = fixture_config(nowhere, no_options);
  EXPECT_EQ(take(api->create(test_host(), &missing, &dataset)).code, COMPASS_NOT_FOUND);
  api->destroy(nullptr);  // a no-op
}

// Opens `module`, checks its identity, creates a dataset and collects its
// items; `status` receives create()'s status.
struct DatasetRun {
  Collected items;
  StatusView status;
};
DatasetRun run_dataset(const compass_dataset_api* api, const compass_dataset_config& config) {
  DatasetRun run;
  compass_dataset* dataset = nullptr;
  run.status = take(api->create(test_host(), &config, &dataset));
  if (run.status.code != COMPASS_OK) {
    EXPECT_EQ(dataset, nullptr);
    return run;
  }
  const compass_item_sink sink{&run.items, &collect};
  const StatusView listed = take(api->items(dataset, &sink));
  EXPECT_EQ(listed.code, COMPASS_OK) << listed.message;
  api->destroy(dataset);
  return run;
}

const std::string kRoot = std::string(COMPASS_SOURCE_DIR) + "/tests/fixtures";

TEST(DatasetPluginTest, ArcThroughTheAbi) {
  const Module module("libcompass_dataset_arc.so");
  const compass_dataset_api* api = checked_api(module, "arc", "mcq_accuracy");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(option_keys(api), (std::vector<std::string>{"subset", "split"}));
  EXPECT_EQ(to_string(api->options.items[0].choices), "Easy|Challenge");

  const DatasetRun run =
      run_dataset(api, fixture_config(kRoot + "/arc", R"({"subset": "Challenge"})", 0, 3));
  ASSERT_EQ(run.status.code, COMPASS_OK) << run.status.message;
  ASSERT_EQ(run.items.ids.size(), 3u);  // limit
  EXPECT_EQ(run.items.ids[0], "ARC-Challenge-Test/0");
  EXPECT_EQ(run.items.kinds[0], static_cast<uint32_t>(COMPASS_ITEM_MULTIPLE_CHOICE));
  EXPECT_EQ(run.items.contexts[0].rfind("Question: ", 0), 0u);
  EXPECT_EQ(run.items.contexts[0].substr(run.items.contexts[0].size() - 8), "\nAnswer:");
  EXPECT_EQ(run.items.choices[0].at(0).at(0), ' ');

  const DatasetRun shots =
      run_dataset(api, fixture_config(kRoot + "/arc", R"({"subset": "Easy"})", 2, 1, 1234));
  ASSERT_EQ(shots.status.code, COMPASS_OK) << shots.status.message;
  EXPECT_EQ(shots.items.contexts[0].rfind(
                "Question: Which two traits would best distinguish a bird from other "
                "vertebrates?\nAnswer: feathers and wings\n\n",
                0),
            0u);

  const DatasetRun bad = run_dataset(api, fixture_config(kRoot + "/arc", "{}"));
  EXPECT_EQ(bad.status.code, COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(bad.status.message.find("option 'subset' is required"), std::string::npos);
  const DatasetRun missing =
      run_dataset(api, fixture_config(kRoot + "/nowhere", R"({"subset": "Easy"})"));
  EXPECT_EQ(missing.status.code, COMPASS_NOT_FOUND);
}

TEST(DatasetPluginTest, Gsm8kThroughTheAbi) {
  const Module module("libcompass_dataset_gsm8k.so");
  const compass_dataset_api* api = checked_api(module, "gsm8k", "gsm8k_answer");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(option_keys(api), (std::vector<std::string>{"split"}));
  const DatasetRun run = run_dataset(api, fixture_config(kRoot + "/gsm8k", "{}", 1));
  ASSERT_EQ(run.status.code, COMPASS_OK) << run.status.message;
  ASSERT_EQ(run.items.ids.size(), 6u);
  EXPECT_EQ(run.items.kinds[4], static_cast<uint32_t>(COMPASS_ITEM_GENERATE));
  EXPECT_EQ(run.items.references[4], (std::vector<std::string>{"2125"}));
  EXPECT_EQ(run.items.stop[4], (std::vector<std::string>{"Question:", "</s>", "<|im_end|>"}));
  EXPECT_EQ(run.items.max_new_tokens[4], 0u);
  EXPECT_EQ(run.items.gold[4], -1);
  EXPECT_TRUE(run.items.choices[4].empty());
  EXPECT_EQ(run.items.doc_json[4].rfind("{\"question\": \"Johnny is picking up", 0), 0u);
  const DatasetRun bad = run_dataset(api, fixture_config(kRoot + "/gsm8k", R"({"split": "dev"})"));
  EXPECT_EQ(bad.status.code, COMPASS_INVALID_ARGUMENT);
}

TEST(DatasetPluginTest, HellaswagThroughTheAbi) {
  const Module module("libcompass_dataset_hellaswag.so");
  const compass_dataset_api* api = checked_api(module, "hellaswag", "mcq_accuracy");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->options.size, 0u);
  const DatasetRun run =
      run_dataset(api, fixture_config(kRoot + "/hellaswag/hellaswag.jsonl", "{}"));
  ASSERT_EQ(run.status.code, COMPASS_OK) << run.status.message;
  ASSERT_EQ(run.items.ids.size(), 5u);
  EXPECT_EQ(run.items.contexts[0], "Roof shingle removal: A man is sitting on a roof. He");
  EXPECT_EQ(run.items.gold[0], 3);
  const DatasetRun missing =
      run_dataset(api, fixture_config(kRoot + "/hellaswag/none.jsonl", "{}"));
  EXPECT_EQ(missing.status.code, COMPASS_NOT_FOUND);
}

// describe() through the ABI: what the task will deliver, from its config.
struct Described {
  StatusView status;
  uint64_t item_kinds = 0;
  std::string scorer, scorer_options;
  int64_t num_shots = -2;
};
Described describe(const compass_dataset_api* api, const compass_dataset_config& config) {
  Described out;
  EXPECT_NE(api->describe, nullptr);
  if (api->describe == nullptr) return out;
  const compass_task_info_sink sink{&out, [](void* ctx, const compass_task_info* info) {
                                      auto* d = static_cast<Described*>(ctx);
                                      d->item_kinds = info->item_kinds;
                                      d->scorer = to_string(info->scorer);
                                      d->scorer_options = to_string(info->scorer_options_json);
                                      d->num_shots = info->num_shots;
                                    }};
  out.status = take(api->describe(test_host(), &config, &sink));
  return out;
}

TEST(DatasetPluginTest, JsonlThroughTheAbi) {
  const Module module("libcompass_dataset_jsonl.so");
  // The table's default is for ABI 2.0 hosts; describe() chooses by kind.
  const compass_dataset_api* api = checked_api(module, "jsonl", "exact_match");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(option_keys(api),
            (std::vector<std::string>{"kind", "prompt", "choices", "answer", "target",
                                      "description", "stop", "target_delimiter",
                                      "fewshot_delimiter", "fewshot_path", "group", "task_file"}));
  const std::string gen = R"({"kind": "generate", "prompt": "{{q.text}}", "target": "{{a}}"})";
  const DatasetRun run = run_dataset(api, fixture_config(kRoot + "/jsonl/gen.jsonl", gen));
  ASSERT_EQ(run.status.code, COMPASS_OK) << run.status.message;
  ASSERT_EQ(run.items.ids.size(), 4u);
  EXPECT_EQ(run.items.contexts[1], "Spell cat.");
  EXPECT_EQ(run.items.references[1], (std::vector<std::string>{"c-a-t"}));
  const Described gen_info = describe(api, fixture_config(kRoot + "/jsonl/gen.jsonl", gen));
  EXPECT_EQ(gen_info.status.code, COMPASS_OK) << gen_info.status.message;
  EXPECT_EQ(gen_info.item_kinds, COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_GENERATE));
  EXPECT_EQ(gen_info.scorer, "exact_match");
  EXPECT_EQ(gen_info.num_shots, -1);
  const DatasetRun rolling =
      run_dataset(api, fixture_config(kRoot + "/jsonl/rolling.jsonl",
                                      R"({"kind": "rolling", "prompt": "{{body}}"})"));
  ASSERT_EQ(rolling.status.code, COMPASS_OK) << rolling.status.message;
  EXPECT_EQ(rolling.items.kinds[0], static_cast<uint32_t>(COMPASS_ITEM_ROLLING));
  const DatasetRun bad = run_dataset(
      api, fixture_config(kRoot + "/jsonl/gen.jsonl",
                          R"({"kind": "generate", "prompt": "{{nope}}", "target": "{{a}}"})"));
  EXPECT_EQ(bad.status.code, COMPASS_DATA_LOSS);
  EXPECT_EQ(bad.status.message, kRoot +
                                    "/jsonl/gen.jsonl:1: option 'prompt': 'nope' is undefined at "
                                    "column 3 (the record's fields: q, a, tag)");
  // A task file: the scorer its metric_list maps to, chosen before any data.
  const std::string piqa = R"({"task_file": ")" + kRoot + R"(/lm_eval/piqa/piqa.yaml"})";
  const Described mc =
      describe(api, fixture_config(kRoot + "/lm_eval/piqa/validation.jsonl", piqa));
  EXPECT_EQ(mc.status.code, COMPASS_OK) << mc.status.message;
  EXPECT_EQ(mc.item_kinds, COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_MULTIPLE_CHOICE));
  EXPECT_EQ(mc.scorer, "mcq_accuracy");
  // An invalid definition is an error already there.
  const Described constant = describe(
      api, fixture_config(kRoot + "/jsonl/gen.jsonl",
                          R"({"kind": "generate", "prompt": "Q: {q}", "target": "{{a}}"})"));
  EXPECT_EQ(constant.status.code, COMPASS_INVALID_ARGUMENT);
}

TEST(DatasetPluginTest, WinograndeThroughTheAbi) {
  const Module module("libcompass_dataset_winogrande.so");
  const compass_dataset_api* api = checked_api(module, "winogrande", "mcq_accuracy");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->options.size, 0u);
  const DatasetRun run =
      run_dataset(api, fixture_config(kRoot + "/lm_eval/winogrande/validation.jsonl", "{}"));
  ASSERT_EQ(run.status.code, COMPASS_OK) << run.status.message;
  ASSERT_EQ(run.items.ids.size(), 5u);
  EXPECT_EQ(run.items.per_choice_contexts[3],
            (std::vector<std::string>{
                "Terry tried to bake the eggplant in the toaster oven but the eggplant",
                "Terry tried to bake the eggplant in the toaster oven but the toaster"}));
  EXPECT_EQ(run.items.choices[3], (std::vector<std::string>(2, " was too big.")));
  EXPECT_EQ(run.items.gold[3], 0);
  EXPECT_EQ(describe(api, fixture_config(kRoot + "/lm_eval/winogrande/validation.jsonl", "{}"))
                .item_kinds,
            COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_MULTIPLE_CHOICE));
}

}  // namespace
}  // namespace compass::testing
