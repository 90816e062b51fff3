// GGUF weights through the model library against transformers' GGUF loader
// (float32, eager attention), from the goldens of
// scripts/goldens/make_gguf_model_goldens.py: every parameter's summary
// (which proves the name mapping, the dequantization and the Q/K
// un-permutation tensor by tensor) and the logits of fixed prompts, for the
// tiny llama / qwen2 fixtures and the real SmolLM2-135M-Instruct Q4_1.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "gguf_fixtures.h"
#include "models/causal_lm.h"
#include "models/weights.h"
#include "real_model.h"

namespace compass::model {
namespace {

using nlohmann::json;
using testing::GgufFixture;
using testing::GgufGoldens;

constexpr double kLogitTolerance = 1e-4;

// Summaries as the golden script computes them, in float64.
void ExpectParameterMatches(const ModelWeights& weights, const json& golden) {
  const std::string name = golden["name"].get<std::string>();
  SCOPED_TRACE(name);
  auto view = weights.View(name);
  ASSERT_TRUE(view.ok()) << view.status().message();
  const at::Tensor t = view->to(at::kDouble).contiguous();
  EXPECT_EQ(t.sizes().vec(), golden["shape"].get<std::vector<int64_t>>());
  const at::Tensor flat = t.reshape({-1});
  const auto first8 = golden["first8"].get<std::vector<float>>();
  for (size_t i = 0; i < first8.size(); ++i) {
    EXPECT_EQ(static_cast<float>(flat[static_cast<int64_t>(i)].item<double>()), first8[i]) << i;
  }
  const double sum = golden["sum"].get<double>();
  const double sum_sq = golden["sum_sq"].get<double>();
  const at::Tensor rows = t.dim() == 1 ? t.reshape({-1, 1}) : t.reshape({t.size(0), -1});
  const at::Tensor weight = at::arange(1, rows.size(0) + 1, at::kDouble);
  const double row_weighted = (rows.sum(1) * weight).sum().item<double>();
  auto near = [](double got, double want) {
    return std::abs(got - want) <= 1e-6 * std::max(1.0, std::abs(want));
  };
  EXPECT_PRED2(near, t.sum().item<double>(), sum);
  EXPECT_PRED2(near, (t * t).sum().item<double>(), sum_sq);
  EXPECT_PRED2(near, row_weighted, golden["row_weighted_sum"].get<double>());
}

at::Tensor LogitsOf(const CausalLM& lm, const std::vector<int64_t>& ids) {
  const int64_t n = static_cast<int64_t>(ids.size());
  const at::Tensor input = at::tensor(ids, at::kLong).reshape({1, n});
  const at::Tensor positions = at::arange(n, at::kLong).reshape({1, n});
  auto logits = lm.Forward(input, positions, at::Tensor(), nullptr);
  EXPECT_TRUE(logits.ok()) << logits.status().message();
  return logits.ok() ? (*logits)[0] : at::Tensor();
}

CausalLM LoadEager(const ModelWeights& weights) {
  auto lm = CausalLM::Load(weights, Placement{}, AttentionImpl::kEager);
  EXPECT_TRUE(lm.ok()) << lm.status().message();
  return *lm;
}

TEST(GgufWeights, TinyModelsMatchTransformers) {
  for (const std::string arch : {"llama", "qwen2"}) {
    SCOPED_TRACE(arch);
    const json& g = GgufGoldens("tiny_model_goldens.json")["models"][arch];
    auto weights = ModelWeights::Open(GgufFixture(g["file"].get<std::string>()));
    ASSERT_TRUE(weights.ok()) << weights.status().message();
    EXPECT_TRUE(weights->is_gguf());
    for (const json& p : g["parameters"]) ExpectParameterMatches(*weights, p);
    const CausalLM lm = LoadEager(*weights);
    for (const json& prompt : g["prompts"]) {
      const at::Tensor logits = LogitsOf(lm, prompt["ids"].get<std::vector<int64_t>>());
      const auto want = prompt["logits"].get<std::vector<std::vector<float>>>();
      ASSERT_EQ(logits.size(0), static_cast<int64_t>(want.size()));
      double worst = 0;
      for (size_t pos = 0; pos < want.size(); ++pos) {
        const at::Tensor expected = at::tensor(want[pos]);
        worst = std::max(worst,
                         (logits[static_cast<int64_t>(pos)] - expected).abs().max().item<double>());
      }
      EXPECT_LE(worst, kLogitTolerance) << "prompt of " << want.size() << " tokens";
    }
  }
}

TEST(GgufWeights, RealModelMatchesTransformers) {
  const std::string path = compass::testing::RealModelPath();
  ASSERT_FALSE(path.empty()) << compass::testing::kRealModelHint;
  const json& g = GgufGoldens("smollm2_goldens.json");
  auto weights = ModelWeights::Open(path);
  ASSERT_TRUE(weights.ok()) << weights.status().message();
  for (const json& p : g["parameters"]) ExpectParameterMatches(*weights, p);
  const CausalLM lm = LoadEager(*weights);
  const auto fixed = g["fixed_ids"].get<std::vector<int64_t>>();
  const at::Tensor fixed_index = at::tensor(fixed, at::kLong);
  for (const json& prompt : g["prompts"]) {
    SCOPED_TRACE(prompt["text"].get<std::string>());
    const at::Tensor logits = LogitsOf(lm, prompt["ids"].get<std::vector<int64_t>>());
    const auto argmax = prompt["argmax"].get<std::vector<int64_t>>();
    const auto lse = prompt["logsumexp"].get<std::vector<double>>();
    const auto fixed_logits = prompt["fixed_logits"].get<std::vector<std::vector<float>>>();
    ASSERT_EQ(logits.size(0), static_cast<int64_t>(argmax.size()));
    for (size_t pos = 0; pos < argmax.size(); ++pos) {
      const at::Tensor row = logits[static_cast<int64_t>(pos)];
      EXPECT_EQ(row.argmax().item<int64_t>(), argmax[pos]) << "position " << pos;
      EXPECT_NEAR(row.logsumexp(0).item<double>(), lse[pos], kLogitTolerance) << "position " << pos;
      const double worst = (row.index_select(0, fixed_index) - at::tensor(fixed_logits[pos]))
                               .abs()
                               .max()
                               .item<double>();
      EXPECT_LE(worst, kLogitTolerance) << "position " << pos;
    }
  }
}

}  // namespace
}  // namespace compass::model
