// paged_tp's plan from configs alone: every bad option refused before load
// with the rule and a fix, the KV budget arithmetic, and a budget too small
// for one sequence reported as not fitting.
#include "planner.h"

#include <gtest/gtest.h>

#include <cmath>

#include "models/parallel_accounting.h"
#include "real_model.h"

namespace compass::paged_tp {
namespace {

model::ModelConfig Config(const std::string& name) {
  auto c = model::LoadModelConfig(std::string(COMPASS_SOURCE_DIR) + "/tests/fixtures/configs/" +
                                  name + "/config.json");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return *c;
}

std::vector<DeviceInfo> Cpus(int n, uint64_t bytes = 16ull << 30) {
  std::vector<DeviceInfo> d;
  for (int i = 0; i < n; ++i) d.push_back({"cpu:" + std::to_string(i), bytes});
  return d;
}

void ExpectRefused(const PagedOptions& o, const model::ModelConfig& c,
                   const std::vector<DeviceInfo>& devices, const std::string& fragment,
                   int64_t max_length = 4096) {
  const auto plan = PlanPaged(o, c, model::DType::kF16, devices, max_length);
  ASSERT_FALSE(plan.ok()) << fragment;
  EXPECT_EQ(plan.status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(plan.status().message().find(fragment), std::string::npos) << plan.status().message();
}

TEST(PagedPlanner, RefusesBadOptionsWithTheRule) {
  const model::ModelConfig c = Config("llama2-13b");  // 40 heads, 40 KV heads
  PagedOptions o;
  o.tp = 3;
  ExpectRefused(o, c, Cpus(4), "tp = 3 does not divide the model's 40 attention heads");
  o.tp = 4;
  ExpectRefused(o, c, Cpus(2), "tp = 4 needs 4 devices, one per rank, but backend.devices lists 2");
  ExpectRefused(o, c, {{"cpu:0", 1}, {"cpu:1", 1}, {"cpu:0", 1}, {"cpu:2", 1}},
                "places two ranks on cpu:0");
  ExpectRefused(o, c, {{"cpu:0", 1}, {"cuda:0", 1}, {"cpu:1", 1}, {"cpu:2", 1}},
                "mixes CPU and GPU ranks (cpu:0, cuda:0)");
  o = PagedOptions();
  for (int64_t bs : {int64_t{0}, int64_t{3}, int64_t{-16}, int64_t{1} << 20, int64_t{1} << 62}) {
    o.block_size = bs;
    ExpectRefused(o, c, Cpus(1),
                  "block_size must be a power of two from 1 to 65536 (16 by default), got " +
                      std::to_string(bs));
  }
  o = PagedOptions();
  for (double u : {0.0, 1.5, -0.1, std::nan("")}) {
    o.memory_utilization = u;
    ExpectRefused(o, c, Cpus(1), "memory_utilization must be in (0, 1]");
  }
  // Every count within its range, named with the range and the value.
  o = PagedOptions();
  o.num_blocks = -1;
  ExpectRefused(o, c, Cpus(1),
                "num_blocks must be between 0 and 2147483647 (0: from the memory budget), got -1");
  o.num_blocks = int64_t{1} << 40;
  ExpectRefused(o, c, Cpus(1), "num_blocks must be between 0 and 2147483647");
  o = PagedOptions();
  o.max_num_seqs = 0;
  ExpectRefused(o, c, Cpus(1), "max_num_seqs must be between 1 and 65536, got 0");
  o.max_num_seqs = int64_t{1} << 50;
  ExpectRefused(o, c, Cpus(1), "max_num_seqs must be between 1 and 65536");
  o = PagedOptions();
  o.max_batched_tokens = -5;
  ExpectRefused(o, c, Cpus(1), "max_batched_tokens must be between 1 and 2147483647, got -5");
  o = PagedOptions();
  o.chunked_prefill = false;
  o.max_batched_tokens = 1024;
  ExpectRefused(o, c, Cpus(1), "without chunked_prefill a prompt must fit one step");
}

TEST(PagedPlanner, KvHeadsAndTpMustDivideOneAnother) {
  model::ModelConfig c = Config("llama2-13b");
  c.num_attention_heads = 24;
  c.num_key_value_heads = 6;
  PagedOptions o;
  o.tp = 4;  // divides 24 heads, but neither divides the other with 6 KV heads
  ExpectRefused(o, c, Cpus(4), "tp = 4 and the model's 6 KV heads do not divide one another");
  o.tp = 12;  // 6 KV heads divide 12: replicated
  EXPECT_TRUE(PlanPaged(o, c, model::DType::kF16, Cpus(12), 4096).ok());
}

TEST(PagedPlanner, BlocksFromTheBudget) {
  const std::string path = compass::testing::RealModelPath();
  ASSERT_FALSE(path.empty()) << compass::testing::kRealModelHint;
  const auto c = model::LoadModelConfig(path);
  ASSERT_TRUE(c.ok());
  // SmolLM2: 30 layers, 3 KV heads of 64: 2 x 30 x 16 x 3 x 64 x 4 bytes.
  EXPECT_EQ(KvBlockBytes(*c, model::DType::kF32, 16, 1), 737280u);
  EXPECT_EQ(KvBlockBytes(*c, model::DType::kF32, 16, 3), 737280u / 3);
  PagedOptions o;
  o.max_num_seqs = 4;
  const auto plan = PlanPaged(o, *c, model::DType::kF32, Cpus(1, 64ull << 30), 2048);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_TRUE(plan->fits);
  // Plenty of memory: the blocks four sequences of 2048 tokens can use.
  EXPECT_EQ(plan->num_blocks, 4 * 2048 / 16);
  EXPECT_EQ(plan->ranks[0].kv_bytes, plan->num_blocks * plan->block_bytes);
  // On a CPU device the blocks take at most 4 GiB of host memory.
  o.max_num_seqs = 64;
  const auto capped = PlanPaged(o, *c, model::DType::kF32, Cpus(1, 64ull << 30), 8192);
  ASSERT_TRUE(capped.ok());
  EXPECT_EQ(capped->num_blocks, static_cast<int64_t>(kCpuKvBudget / 737280));
  o.max_num_seqs = 4;
  // A small device: what is left after weights and activations.
  const auto small = PlanPaged(o, *c, model::DType::kF32, Cpus(1, 2ull << 30), 2048);
  ASSERT_TRUE(small.ok());
  const RankPlan& r = small->ranks[0];
  const double left = (2ull << 30) * 0.9 - static_cast<double>(r.weights + r.activations);
  EXPECT_EQ(small->num_blocks, static_cast<int64_t>(left / small->block_bytes));
}

TEST(PagedPlanner, ABudgetTooSmallForOneSequenceDoesNotFit) {
  const model::ModelConfig c = Config("llama2-13b");
  PagedOptions o;
  o.num_blocks = 10;
  const auto plan = PlanPaged(o, c, model::DType::kF16, Cpus(1), 4096);
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->fits);
  EXPECT_NE(plan->message.find("fewer than one sequence of 4096 tokens needs (256 blocks"),
            std::string::npos)
      << plan->message;
  o.num_blocks = 0;
  const auto tiny = PlanPaged(o, c, model::DType::kF16, Cpus(1, 8ull << 30), 4096);
  ASSERT_TRUE(tiny.ok());
  EXPECT_FALSE(tiny->fits);  // 26 GB of f16 weights on 8 GiB
  EXPECT_NE(tiny->message.find("leaves too little after"), std::string::npos) << tiny->message;
}

// The budget measured on CUDA ranks replaces the estimate: the tightest
// rank decides, the useful cap and an explicit num_blocks still apply, and
// too little room is an error naming the rank and the numbers.
TEST(PagedPlanner, MeasuredBlocksComeFromTheTightestRank) {
  const model::ModelConfig c = Config("llama2-13b");
  PagedOptions o;
  o.max_num_seqs = 4;
  const std::vector<DeviceInfo> gpus = {{"cuda:0", 80ull << 30}};
  auto plan = PlanPaged(o, c, model::DType::kF16, gpus, 4096);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const uint64_t block = plan->block_bytes;
  const uint64_t gib = 1ull << 30;
  MeasuredMemory roomy{"cuda:0", 80 * gib, 50 * gib, 1 * gib, 2 * gib};
  MeasuredMemory tight = roomy;
  tight.device = "cuda:1";
  tight.free = 30 * gib;
  // 80 x 0.9 = 72 GiB usable; in use 80 - 30 - 1 = 49; step 2: 21 GiB left.
  plan->options.max_num_seqs = 1000;
  auto blocks = MeasuredKvBlocks(*plan, {roomy, tight});
  ASSERT_TRUE(blocks.ok()) << blocks.status().message();
  EXPECT_EQ(*blocks, static_cast<int64_t>(static_cast<double>(21 * gib) / block));
  plan->options.max_num_seqs = 4;  // 4 sequences of 4096 tokens in 16-token blocks
  EXPECT_EQ(*MeasuredKvBlocks(*plan, {roomy, tight}), 4 * 256);
  plan->options.num_blocks = 300;
  EXPECT_EQ(*MeasuredKvBlocks(*plan, {roomy, tight}), 300);
  plan->options.num_blocks = 0;
  tight.free = 8 * gib + gib / 2;  // 72 - 71.5 + ... : under one sequence
  tight.step_peak = 0;
  tight.released = 0;
  auto none = MeasuredKvBlocks(*plan, {roomy, tight});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), COMPASS_OUT_OF_MEMORY);
  EXPECT_NE(none.status().message().find("measured on cuda:1"), std::string::npos)
      << none.status().message();
  EXPECT_NE(none.status().message().find("Lower max_batched_tokens"), std::string::npos);
}

TEST(PagedPlanner, ProfileStepCoversTheLargestStep) {
  const model::ModelConfig c = Config("llama2-13b");
  PagedOptions o;
  o.max_batched_tokens = 2048;
  auto plan = PlanPaged(o, c, model::DType::kF16, Cpus(1), 600);
  ASSERT_TRUE(plan.ok());
  const std::vector<int64_t> rows = ProfileStepRows(*plan);
  EXPECT_EQ(rows, (std::vector<int64_t>{600, 600, 600, 248}));
  plan->options.max_num_seqs = 2;
  EXPECT_EQ(ProfileStepRows(*plan), (std::vector<int64_t>{600, 600}));
}

// Stages of tp ranks: each rank its stage's share, the blocks the least
// any rank holds, one stage the plan it always was.
TEST(PagedPlanner, StagesOfTpRanks) {
  const model::ModelConfig c = Config("llama3-70b");  // 80 layers, 64 heads, 8 KV heads
  std::vector<DeviceInfo> gpus;
  for (int i = 0; i < 16; ++i) gpus.push_back({"cuda:" + std::to_string(i), 80'000'000'000ull});
  PagedOptions o;
  o.tp = 4;
  o.stages = 1;
  o.max_num_seqs = 1024;  // so that the blocks come from the budget, not this cap
  auto one = PlanPaged(o, c, model::DType::kBF16, gpus, 8192);
  ASSERT_TRUE(one.ok()) << one.status().message();
  o.stages = 2;
  auto two = PlanPaged(o, c, model::DType::kBF16, gpus, 8192);
  ASSERT_TRUE(two.ok()) << two.status().message();
  ASSERT_EQ(two->ranks.size(), 8u);
  EXPECT_EQ(two->stage_layers, (std::vector<std::pair<int64_t, int64_t>>{{0, 40}, {40, 80}}));
  const auto acc = model::AccountParameters(c, model::DType::kBF16);
  for (size_t i = 0; i < two->ranks.size(); ++i) {
    const RankPlan& r = two->ranks[i];
    EXPECT_EQ(r.device, "cuda:" + std::to_string(i));
    EXPECT_EQ(r.stage, static_cast<int64_t>(i / 4));
    const auto [b, e] = two->stage_layers[static_cast<size_t>(r.stage)];
    EXPECT_EQ(r.weights, (model::StageWeightBytes(acc, b, e, r.stage == 0, r.stage == 1) + 3) / 4);
    // Half the layers: half the K and V of a block.
    EXPECT_EQ(r.kv_bytes, static_cast<uint64_t>(two->num_blocks) *
                              KvBlockBytes(c, model::DType::kBF16, 16, 4, 40));
  }
  EXPECT_EQ(two->ranks[4].device, "cuda:4");
  EXPECT_EQ(two->ranks[4].stage, 1);
  // Only the last stage computes the logits.
  EXPECT_LT(two->ranks[0].activations, two->ranks[7].activations);
  // About half the weights per rank: more room for blocks of half the size.
  EXPECT_LT(two->ranks[0].weights, one->ranks[0].weights * 6 / 10);
  EXPECT_GT(two->num_blocks, one->num_blocks);
  EXPECT_EQ(KvBlockBytes(c, model::DType::kBF16, 16, 4),
            2 * KvBlockBytes(c, model::DType::kBF16, 16, 4, 40));

  // Stages within the layers and the devices.
  o.stages = 0;
  ExpectRefused(o, c, gpus,
                "stages must be between 1 and the model's 80 decoder layers (every stage holds at "
                "least one), got 0");
  o.stages = 81;
  ExpectRefused(o, c, gpus, "stages must be between 1 and the model's 80 decoder layers");
  o.stages = 5;
  ExpectRefused(o, c, gpus,
                "stages = 5 with tp = 4 needs 20 devices (tp ranks per stage), but "
                "backend.devices lists 16");
}

}  // namespace
}  // namespace compass::paged_tp
