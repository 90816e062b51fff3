// Stages: a model split into 2 or 3 stages (on distinct logical devices)
// computes what the single-stage model computes, with and without a KV
// cache, on both attention paths; chains that do not form a model are
// refused.
#include "models/stage.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>

#include "model_test_util.h"
#include "models/causal_lm.h"

namespace compass::model {
namespace {

using testing::TinyModelDir;

// Stages on "cpu:0", "cpu:1", ... covering the layers as `bounds` says
// ({0, 1, 3}: layers [0, 1) and [1, 3)); embedding on the first, head on the
// last.
StatusOr<CausalLM> Split(const ModelWeights& weights, const std::vector<int64_t>& bounds,
                         AttentionImpl impl) {
  std::vector<Stage> stages;
  for (size_t i = 0; i + 1 < bounds.size(); ++i) {
    StageSpec spec;
    spec.begin = bounds[i];
    spec.end = bounds[i + 1];
    spec.embedding = i == 0;
    spec.head = i + 2 == bounds.size();
    spec.device_name = "cpu:" + std::to_string(i);
    COMPASS_ASSIGN_OR_RETURN(Stage stage, Stage::Load(weights, spec));
    stages.push_back(std::move(stage));
  }
  return CausalLM::FromStages(std::move(stages), impl);
}

class StageTest : public ::testing::TestWithParam<AttentionImpl> {
 protected:
  static void SetUpTestSuite() { at::set_num_threads(2); }
  static double MaxDiff(const at::Tensor& a, const at::Tensor& b, const at::Tensor& valid) {
    const at::Tensor tokens = valid.unsqueeze(-1);
    return (a - b).masked_fill(~tokens, 0).abs().max().item<double>();
  }
  static ModelWeights Weights(const std::string& variant) {
    auto w = ModelWeights::Open(TinyModelDir(variant));
    EXPECT_TRUE(w.ok()) << w.status().message();
    return std::move(w).value();
  }
  static const std::vector<std::vector<int64_t>>& Prompts() {
    static const std::vector<std::vector<int64_t>> prompts = {
        {3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46, 26, 43, 38, 32, 79, 50, 28, 84},
        {27, 18, 28},
        {16, 180, 33, 98, 87, 4, 10, 9, 8, 7, 6, 5, 4}};
    return prompts;
  }
};

TEST_P(StageTest, SplitModelsEqualTheSingleStageModel) {
  // llama: 3 layers; mistral: 2 layers with a window shorter than the prompt.
  for (const char* variant : {"llama", "mistral", "qwen2"}) {
    const ModelWeights weights = Weights(variant);
    const int64_t n = weights.config().num_hidden_layers;
    auto whole = CausalLM::Load(weights, {}, GetParam());
    ASSERT_TRUE(whole.ok()) << whole.status().message();
    std::vector<std::vector<int64_t>> splits = {{0, 1, n}, {0, 0, n, n}, {0, n - 1, n}};
    if (n == 3) splits.push_back({0, 1, 2, 3});
    for (const auto& bounds : splits) {
      auto split = Split(weights, bounds, GetParam());
      ASSERT_TRUE(split.ok()) << split.status().message();
      EXPECT_EQ(split->stages().size(), bounds.size() - 1);
      for (Padding padding : {Padding::kLeft, Padding::kRight}) {
        auto batch = MakePaddedBatch(Prompts(), padding, c10::kCPU);
        ASSERT_TRUE(batch.ok());
        auto a = whole->Forward(batch->input_ids, batch->positions, batch->valid, nullptr);
        const uint64_t before = split->transfers();
        auto b = split->Forward(batch->input_ids, batch->positions, batch->valid, nullptr);
        ASSERT_TRUE(a.ok() && b.ok()) << b.status().message();
        EXPECT_LE(MaxDiff(*a, *b, batch->valid), 1e-5) << variant << " " << bounds.size() - 1;
        EXPECT_EQ(split->transfers() - before, bounds.size() - 2);  // one per stage boundary
      }
      // Chunked prefill and decode steps through one cache spanning the stages.
      auto batch = MakePaddedBatch(Prompts(), Padding::kLeft, c10::kCPU);
      const int64_t width = batch->input_ids.size(1);
      auto cache_a = whole->NewCache(3, width + 2);
      auto cache_b = split->NewCache(3, width + 2);
      EXPECT_EQ(cache_a->allocated_bytes(), cache_b->allocated_bytes());
      EXPECT_GT(cache_b->allocated_bytes(), 0u);  // allocated up front
      for (auto [start, len] : {std::pair<int64_t, int64_t>{0, 7}, {7, width - 7}}) {
        auto a = whole->Forward(batch->input_ids.narrow(1, start, len),
                                batch->positions.narrow(1, start, len),
                                batch->valid.narrow(1, start, len), cache_a.get());
        auto b = split->Forward(batch->input_ids.narrow(1, start, len),
                                batch->positions.narrow(1, start, len),
                                batch->valid.narrow(1, start, len), cache_b.get());
        ASSERT_TRUE(a.ok() && b.ok());
        EXPECT_LE(MaxDiff(*a, *b, batch->valid.narrow(1, start, len)), 1e-5) << variant;
      }
      auto generated = split->Generate(Prompts(), 6);
      ASSERT_TRUE(generated.ok()) << generated.status().message();
      EXPECT_EQ(*generated, *whole->Generate(Prompts(), 6)) << variant;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Attention, StageTest,
                         ::testing::Values(AttentionImpl::kEager, AttentionImpl::kSdpa),
                         [](const auto& info) { return AttentionImplName(info.param); });

TEST(StageChainTest, ChainsThatAreNotAModelAreRefused) {
  auto weights = ModelWeights::Open(TinyModelDir("llama"));  // 5 layers
  ASSERT_TRUE(weights.ok());
  auto load = [&](int64_t begin, int64_t end, bool embedding, bool head) {
    StageSpec spec;
    spec.begin = begin;
    spec.end = end;
    spec.embedding = embedding;
    spec.head = head;
    auto s = Stage::Load(*weights, spec);
    EXPECT_TRUE(s.ok()) << s.status().message();
    return std::move(s).value();
  };
  auto refused = [](std::vector<Stage> stages, const std::string& needle) {
    auto m = CausalLM::FromStages(std::move(stages));
    ASSERT_FALSE(m.ok()) << needle;
    EXPECT_EQ(m.status().code(), COMPASS_INVALID_ARGUMENT);
    EXPECT_NE(m.status().message().find(needle), std::string::npos) << m.status().message();
  };
  refused({}, "at least one stage");
  refused({load(0, 5, false, true)}, "has no embedding");
  refused({load(0, 5, true, false)}, "has no head");
  refused({load(0, 1, true, false), load(2, 5, false, true)}, "does not follow layer 0");
  refused({load(0, 2, true, false), load(1, 5, false, true)}, "does not follow layer 1");
  refused({load(0, 2, true, true), load(2, 5, false, true)}, "inside the chain");
  refused({load(0, 1, true, false), load(1, 2, false, true)}, "end at layer 2 of 5");
  StageSpec outside;
  outside.begin = 4;
  outside.end = 6;
  auto bad = Stage::Load(*weights, outside);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("does not fit a model of 5 layers"), std::string::npos);
  // A stage without the embedding cannot start a step; its Forward checks
  // the device of its input.
  const Stage middle = load(1, 2, false, false);
  auto step = Step::Begin(weights->config(), {}, at::arange(4, at::kLong).unsqueeze(0), {}, nullptr,
                          AttentionImpl::kSdpa, c10::kCPU);
  ASSERT_TRUE(step.ok());
  EXPECT_THROW(middle.Embed(*step), c10::Error);
  EXPECT_THROW(middle.Logits(at::zeros({1, 64})), c10::Error);
  const at::Tensor out = middle.Forward(at::randn({1, 4, 64}), *step, nullptr);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{1, 4, 64}));
}

// One forward of a tiny model at B = 8, T = 512 on both paths (timing only;
// run with --gtest_also_run_disabled_tests).
TEST(StageTimingTest, DISABLED_ForwardAtT512B8) {
  at::set_num_threads(2);
  auto base = CausalLM::Load(TinyModelDir("llama"), {});
  ASSERT_TRUE(base.ok());
  const int64_t b = 8, t = 512;
  const at::Tensor ids = at::randint(0, base->config().vocab_size, {b, t}, at::kLong);
  const at::Tensor positions = at::arange(t, at::kLong).repeat({b, 1});
  at::Tensor valid = at::ones({b, t}, at::kBool);
  valid.narrow(1, 0, 16).narrow(0, 0, 4).fill_(false);  // some left padding
  for (AttentionImpl impl : {AttentionImpl::kEager, AttentionImpl::kSdpa}) {
    const CausalLM m = base->WithAttention(impl);
    for (const at::Tensor& v : {at::Tensor(), valid}) {
      ASSERT_TRUE(m.Hidden(ids, positions, v, nullptr).ok());  // warm up
      double best = 1e9;
      for (int i = 0; i < 3; ++i) {
        const auto start = std::chrono::steady_clock::now();
        ASSERT_TRUE(m.Hidden(ids, positions, v, nullptr).ok());
        best = std::min(
            best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      }
      std::printf("[ timing ] %s, %s: %.1f ms\n", AttentionImplName(impl),
                  v.defined() ? "padded (boolean mask)" : "no padding (causal)", best * 1e3);
    }
  }
}

}  // namespace
}  // namespace compass::model
