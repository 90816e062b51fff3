// Building blocks on their own: sharded layers against whole ones, rotary
// embedding, KV cache, loading (sharded and F16/BF16 checkpoints), and the
// errors of the Status-returning entry points.
#include "models/layers.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <tuple>

#include "model_test_util.h"
#include "models/causal_lm.h"
#include "models/communicator.h"
#include "models/kv_cache.h"
#include "models/weights.h"

namespace compass::model {
namespace {

using testing::TinyModelDir;

class LayersTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    at::set_num_threads(2);
    at::manual_seed(7);
  }
  static double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
    return (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item<double>();
  }
  static ModelWeights Weights(const std::string& variant) {
    auto w = ModelWeights::Open(TinyModelDir(variant));
    EXPECT_TRUE(w.ok()) << w.status().message();
    return std::move(w).value();
  }
};

TEST_F(LayersTest, ColumnShardsConcatenateToTheFullLayer) {
  const at::Tensor w = at::randn({12, 8}), b = at::randn({12}), x = at::randn({3, 5, 8});
  const at::Tensor full = Linear::Create(w, b, {}).Forward(x);
  for (int64_t count : {1, 2, 3, 4, 6, 12}) {
    std::vector<at::Tensor> parts;
    for (int64_t i = 0; i < count; ++i) {
      auto shard = Linear::ColumnShard(w, b, i, count, {});
      ASSERT_TRUE(shard.ok()) << shard.status().message();
      EXPECT_EQ(shard->out_features(), 12 / count);
      parts.push_back(shard->Forward(x));
    }
    EXPECT_LE(MaxDiff(at::cat(parts, -1), full), 1e-6) << count;
  }
  EXPECT_EQ(Linear::ColumnShard(w, b, 0, 5, {}).status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_FALSE(Linear::ColumnShard(w, b, 2, 2, {}).ok());
}

TEST_F(LayersTest, RowShardsSumToTheFullLayer) {
  const at::Tensor w = at::randn({6, 16}), b = at::randn({6}), x = at::randn({4, 16});
  const at::Tensor full = Linear::Create(w, b, {}).Forward(x);
  for (int64_t count : {1, 2, 4, 8}) {
    at::Tensor sum = at::zeros_like(full);
    for (int64_t i = 0; i < count; ++i) {
      auto shard = Linear::RowShard(w, b, i, count, {});
      ASSERT_TRUE(shard.ok()) << shard.status().message();
      EXPECT_EQ(shard->bias().defined(), i == 0);
      const int64_t n = 16 / count;
      sum = sum + shard->Forward(x.narrow(-1, i * n, n));
    }
    EXPECT_LE(MaxDiff(sum, full), 1e-5) << count;
  }
  auto bad = Linear::RowShard(w, b, 0, 3, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("16 features"), std::string::npos);
}

TEST_F(LayersTest, VocabShardsSumToTheFullLookup) {
  const at::Tensor w = at::randn({10, 4});
  const at::Tensor ids = at::randint(0, 10, {3, 7}, at::kLong);
  const at::Tensor full = Embedding::Create(w, {}).Forward(ids);
  for (int64_t count : {1, 2, 3, 4}) {  // 3 and 4 leave padding rows
    at::Tensor sum = at::zeros_like(full);
    for (int64_t i = 0; i < count; ++i) {
      auto shard = Embedding::VocabShard(w, i, count, {});
      ASSERT_TRUE(shard.ok());
      sum = sum + shard->Forward(ids);
    }
    EXPECT_TRUE(at::equal(sum, full)) << count;
  }
}

TEST_F(LayersTest, VocabParallelHeadConcatenatesToTheFullHead) {
  for (const char* variant : {"llama", "llama_tied"}) {
    const ModelWeights weights = Weights(variant);
    const int64_t vocab = weights.config().vocab_size;
    const at::Tensor hidden = at::randn({2, 3, weights.config().hidden_size});
    auto full = LMHead::Load(weights, {});
    ASSERT_TRUE(full.ok());
    const at::Tensor expected = full->Forward(hidden);
    for (int64_t size : {2, 3}) {
      std::vector<at::Tensor> parts;
      for (int64_t rank = 0; rank < size; ++rank) {
        auto head = LMHead::Load(weights, {}, {rank, size});
        ASSERT_TRUE(head.ok());
        parts.push_back(head->Forward(hidden));
      }
      const at::Tensor logits = at::cat(parts, -1).narrow(-1, 0, vocab);
      EXPECT_LE(MaxDiff(logits, expected), 1e-5) << variant << " tp " << size;
    }
  }
}

// Attention and MLP shards of every rank sum to the unsharded module: KV
// heads split (tp 2 with 2 KV heads) and replicated (tp 4), with biases
// (qwen2) and a single KV head (mistral).
TEST_F(LayersTest, TensorParallelAttentionAndMlpSumToTheFullModules) {
  for (const char* variant : {"llama", "qwen2", "mistral"}) {
    const ModelWeights weights = Weights(variant);
    const ModelConfig& c = weights.config();
    const int64_t layer = 1;
    const at::Tensor hidden = at::randn({2, 9, c.hidden_size});
    const at::Tensor positions = at::arange(9, at::kLong).repeat({2, 1});
    const RotaryEmbedding rotary = RotaryEmbedding::Create(c, c10::kCPU);
    auto [cos, sin] = rotary.CosSin(positions, at::Tensor(), at::kFloat);
    const AttentionBatch batch = StepBatch(at::Tensor(), positions);
    auto attention = Attention::Load(weights, layer, {});
    auto mlp = MLP::Load(weights, layer, {});
    ASSERT_TRUE(attention.ok() && mlp.ok());
    const at::Tensor attention_full = attention->Forward(hidden, cos, sin, batch, nullptr);
    const at::Tensor mlp_full = mlp->Forward(hidden);
    for (int64_t size : {2, 4}) {
      at::Tensor attention_sum = at::zeros_like(attention_full);
      at::Tensor mlp_sum = at::zeros_like(mlp_full);
      for (int64_t rank = 0; rank < size; ++rank) {
        auto a = Attention::Load(weights, layer, {}, {rank, size});
        ASSERT_TRUE(a.ok()) << a.status().message();
        EXPECT_EQ(a->shape().num_heads, c.num_attention_heads / size);
        EXPECT_EQ(a->shape().num_kv_heads, std::max<int64_t>(1, c.num_key_value_heads / size));
        attention_sum = attention_sum + a->Forward(hidden, cos, sin, batch, nullptr);
        auto m = MLP::Load(weights, layer, {}, {rank, size});
        ASSERT_TRUE(m.ok());
        mlp_sum = mlp_sum + m->Forward(hidden);
      }
      EXPECT_LE(MaxDiff(attention_sum, attention_full), 1e-5) << variant << " tp " << size;
      EXPECT_LE(MaxDiff(mlp_sum, mlp_full), 1e-5) << variant << " tp " << size;
    }
  }
}

TEST_F(LayersTest, TensorParallelDecoderLayerWithAnInProcessAllReduce) {
  const ModelWeights weights = Weights("llama");
  const ModelConfig& c = weights.config();
  const at::Tensor hidden = at::randn({2, 6, c.hidden_size});
  const at::Tensor positions = at::arange(6, at::kLong).repeat({2, 1});
  // std::tie, not a structured binding: the lambda below captures cos and
  // sin, which clang before 16 refuses for bindings.
  at::Tensor cos, sin;
  std::tie(cos, sin) = RotaryEmbedding::Create(c, c10::kCPU).CosSin(positions, {}, at::kFloat);
  auto full = DecoderLayer::Load(weights, 0, {});
  ASSERT_TRUE(full.ok());
  const at::Tensor expected = full->Forward(hidden, cos, sin, StepBatch({}, positions), nullptr);
  for (int64_t ranks : {2, 4}) {
    std::vector<at::Tensor> outputs(ranks);
    RunRanks(ranks, [&](Communicator& comm) {
      auto layer = DecoderLayer::Load(weights, 0, {}, {comm.rank(), comm.size()});
      if (!layer.ok()) throw std::runtime_error(layer.status().message());
      const AttentionBatch batch = StepBatch({}, positions);
      outputs[comm.rank()] =
          layer->Forward(hidden, cos, sin, batch, nullptr, AllReduceSumOver(comm));
    });
    for (const at::Tensor& out : outputs) EXPECT_LE(MaxDiff(out, expected), 1e-5) << ranks;
    // Summed in rank order: every rank holds the same bits.
    for (const at::Tensor& out : outputs) EXPECT_TRUE(at::equal(out, outputs[0]));
  }
}

TEST_F(LayersTest, TensorParallelShardingsThatDoNotFitAreRefused) {
  const ModelWeights weights = Weights("llama");  // 4 heads, 2 KV heads
  auto three = Attention::Load(weights, 0, {}, {0, 3});
  ASSERT_FALSE(three.ok());
  EXPECT_NE(three.status().message().find("the model's 4 attention heads"), std::string::npos);
  EXPECT_FALSE(Attention::Load(weights, 0, {}, {0, 8}).ok());
  EXPECT_FALSE(MLP::Load(weights, 0, {}, {0, 3}).ok());
  EXPECT_FALSE(Attention::Load(weights, 0, {}, {2, 2}).ok());
  EXPECT_FALSE(DecoderLayer::Load(weights, 5, {}).ok());  // llama has 5 layers
}

TEST_F(LayersTest, RMSNormFollowsTheFormulaAndKeepsTheInputDtype) {
  const at::Tensor w = at::rand({8}) + 0.5, x = at::randn({3, 8});
  const RMSNorm norm = RMSNorm::Create(w, 1e-5, {});
  const at::Tensor xd = x.to(at::kDouble);
  const at::Tensor expected = w.to(at::kDouble) * xd / at::sqrt(xd.pow(2).mean(-1, true) + 1e-5);
  EXPECT_LE(MaxDiff(norm.Forward(x), expected), 1e-6);
  Placement bf16;
  bf16.dtype = at::kBFloat16;
  const at::Tensor out = RMSNorm::Create(w, 1e-5, bf16).Forward(x.to(at::kBFloat16));
  EXPECT_EQ(out.scalar_type(), at::kBFloat16);
  EXPECT_LE(MaxDiff(out, expected), 0.05);
}

TEST_F(LayersTest, RotaryInverseFrequencies) {
  auto config_for = [](const std::string& rope) {
    const std::string text = R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 8,
      "hidden_size": 64, "intermediate_size": 8, "num_hidden_layers": 1,
      "num_attention_heads": 4, "max_position_embeddings": 16, "rope_scaling": )" +
                             rope + "}";
    auto c = ParseModelConfig(text, "config.json");
    EXPECT_TRUE(c.ok()) << c.status().message();
    return *c;
  };
  const at::Tensor plain = RotaryEmbedding::Create(config_for("null"), c10::kCPU).InvFreq(16);
  ASSERT_EQ(plain.size(0), 8);
  for (int64_t i = 0; i < 8; ++i) {
    EXPECT_NEAR(plain[i].item<double>(), std::pow(10000.0, -2.0 * i / 16), 1e-6);
  }
  const auto linear =
      RotaryEmbedding::Create(config_for(R"({"type": "linear", "factor": 4})"), c10::kCPU);
  EXPECT_LE(MaxDiff(linear.InvFreq(16) * 4, plain), 1e-7);
  const auto dynamic =
      RotaryEmbedding::Create(config_for(R"({"rope_type": "dynamic", "factor": 2})"), c10::kCPU);
  EXPECT_TRUE(at::equal(dynamic.InvFreq(16), plain));
  // base' = base * (factor * len / max - (factor - 1)) ^ (dim / (dim - 2))
  const double base = 10000.0 * std::pow(2.0 * 40 / 16 - 1, 16.0 / 14.0);
  EXPECT_NEAR(dynamic.InvFreq(40)[7].item<double>(), std::pow(base, -14.0 / 16), 1e-9);
  EXPECT_EQ(dynamic.InvFreq(40)[0].item<double>(), 1.0);
}

TEST_F(LayersTest, DynamicRopeScalesEachRowByItsOwnLength) {
  const std::string text = R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 8,
    "hidden_size": 64, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 4,
    "max_position_embeddings": 16, "rope_scaling": {"rope_type": "dynamic", "factor": 2}})";
  auto c = ParseModelConfig(text, "config.json");
  ASSERT_TRUE(c.ok());
  const RotaryEmbedding rotary = RotaryEmbedding::Create(*c, c10::kCPU);
  // Row 0: 5 tokens left-padded to 30; row 1: 30 tokens.
  at::Tensor positions = at::zeros({2, 30}, at::kLong);
  positions[0].narrow(0, 25, 5).copy_(at::arange(5, at::kLong));
  positions[1].copy_(at::arange(30, at::kLong));
  at::Tensor valid = positions > 0;
  valid[0][25] = true;
  valid[1][0] = true;
  auto [cos, sin] = rotary.CosSin(positions, valid, at::kFloat);
  auto [cos0, sin0] = rotary.CosSin(at::arange(5, at::kLong).unsqueeze(0), {}, at::kFloat);
  auto [cos1, sin1] = rotary.CosSin(at::arange(30, at::kLong).unsqueeze(0), {}, at::kFloat);
  EXPECT_TRUE(at::equal(cos[0].narrow(0, 25, 5), cos0[0]));
  EXPECT_TRUE(at::equal(sin[1], sin1[0]));
  // The long row is scaled: its last angle differs from the unscaled one.
  auto [cos_plain, sin_plain] = RotaryEmbedding::Create(*c, c10::kCPU)
                                    .CosSin(at::arange(16, at::kLong).unsqueeze(0), {}, at::kFloat);
  EXPECT_FALSE(at::equal(cos1[0].narrow(0, 0, 16), cos_plain[0]));
}

TEST_F(LayersTest, KvCacheRefusesOverflowAndAnotherBatchSize) {
  ContiguousKvCache cache(2, 5, 1);
  const at::Tensor positions = at::arange(3, at::kLong).repeat({2, 1});
  auto batch = cache.BeginStep({}, positions);
  ASSERT_TRUE(batch.ok());
  const at::Tensor kv = at::randn({2, 1, 3, 4});
  const at::Tensor out = cache.Attend(0, at::randn({2, 2, 3, 4}), kv, kv, *batch, 0);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 2, 3, 4}));
  EXPECT_EQ(cache.Stored(0).first.size(2), 3);
  EXPECT_TRUE(at::equal(cache.Stored(0).second, kv));
  EXPECT_EQ(cache.length(), 3);
  auto overflow = cache.BeginStep({}, positions + 3);
  ASSERT_FALSE(overflow.ok());
  EXPECT_EQ(overflow.status().code(), COMPASS_OUT_OF_MEMORY);
  EXPECT_EQ(cache.BeginStep({}, at::zeros({3, 1}, at::kLong)).status().code(),
            COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(cache.BeginStep({}, at::zeros({2, 0}, at::kLong)).status().code(),
            COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(cache.allocated_bytes(), 2u * 2 * 1 * 5 * 4 * 4);
}

TEST_F(LayersTest, MaskHidesPaddingFutureAndKeysOutsideTheWindow) {
  // One row: a padding slot, then tokens at positions 0..3.
  const at::Tensor positions = at::tensor({0, 0, 1, 2, 3}, at::kLong).unsqueeze(0);
  const at::Tensor valid = at::tensor({0, 1, 1, 1, 1}, at::kLong).to(at::kBool).unsqueeze(0);
  const AttentionBatch batch = StepBatch(valid, positions);
  const at::Tensor allowed = batch.AdditiveMask(2, c10::kCPU, at::kFloat)[0][0] == 0;
  EXPECT_TRUE(at::equal(allowed, batch.AllowedMask(2, c10::kCPU)[0][0]));
  const int expected[5][5] = {{1, 0, 0, 0, 0},  // padding query: only itself
                              {0, 1, 0, 0, 0},
                              {0, 1, 1, 0, 0},
                              {0, 0, 1, 1, 0},  // window 2: positions 1..2
                              {0, 0, 0, 1, 1}};
  for (int q = 0; q < 5; ++q) {
    for (int k = 0; k < 5; ++k)
      EXPECT_EQ(allowed[q][k].item<bool>(), expected[q][k] == 1) << q << k;
  }
}

TEST_F(LayersTest, ShardedCheckpointLoadsIdentically) {
  const ModelWeights single = Weights("llama");
  auto sharded = ModelWeights::Open(TinyModelDir("llama", DType::kF32, 2));
  ASSERT_TRUE(sharded.ok()) << sharded.status().message();
  ASSERT_TRUE(sharded->checkpoint().sharded());
  EXPECT_EQ(sharded->checkpoint().files().size(), 2u);
  ASSERT_EQ(single.checkpoint().names(), sharded->checkpoint().names());
  for (const std::string& name : single.checkpoint().names()) {
    EXPECT_TRUE(at::equal(*single.View(name), *sharded->View(name))) << name;
  }
  auto a = CausalLM::Load(single, {});
  auto b = CausalLM::Load(*sharded, {});
  ASSERT_TRUE(a.ok() && b.ok());
  const at::Tensor ids = at::randint(0, 320, {2, 9}, at::kLong);
  const at::Tensor positions = at::arange(9, at::kLong).repeat({2, 1});
  EXPECT_TRUE(at::equal(*a->Forward(ids, positions, {}, nullptr),
                        *b->Forward(ids, positions, {}, nullptr)));
}

TEST_F(LayersTest, HalfPrecisionCheckpointsConvertToTheRunDtype) {
  const ModelWeights f32 = Weights("qwen2");
  for (DType dtype : {DType::kBF16, DType::kF16}) {
    auto half = ModelWeights::Open(TinyModelDir("qwen2", dtype));
    ASSERT_TRUE(half.ok()) << half.status().message();
    const c10::ScalarType type = ToScalarType(dtype);
    for (const std::string& name : f32.checkpoint().names()) {
      auto loaded = half->Get(name, {});  // converted to float32
      ASSERT_TRUE(loaded.ok());
      EXPECT_EQ(loaded->scalar_type(), at::kFloat);
      // The generator's rounding agrees with libtorch's (nearest, ties to even).
      EXPECT_TRUE(at::equal(*loaded, f32.View(name)->to(type).to(at::kFloat))) << name;
    }
    auto model = CausalLM::Load(*half, {});
    ASSERT_TRUE(model.ok()) << model.status().message();
  }
}

TEST_F(LayersTest, MisalignedTensorDataIsCopied) {
  // A header whose length is not a multiple of 4 leaves F32 data misaligned.
  const std::string dir = testing::ScratchDir("misaligned");
  const std::string header = R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}})";
  ASSERT_NE(header.size() % 4, 0u);
  std::string bytes(8, '\0');
  bytes[0] = static_cast<char>(header.size());
  const float values[3] = {1.5f, -2.0f, 3.25f};
  bytes += header + std::string(reinterpret_cast<const char*>(values), 12);
  testing::WriteFile(dir + "/x.safetensors", bytes);
  auto file = SafetensorsFile::Open(dir + "/x.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().message();
  const at::Tensor t = TensorView({*file, (*file)->Find("t")});
  EXPECT_TRUE(at::equal(t, at::tensor({1.5f, -2.0f, 3.25f})));
}

TEST_F(LayersTest, ForwardRefusesBadInputWithAStatus) {
  auto model = CausalLM::Load(TinyModelDir("llama_tied"), {});
  ASSERT_TRUE(model.ok());
  const at::Tensor positions = at::arange(4, at::kLong).unsqueeze(0);
  auto out_of_range = model->Forward(at::full({1, 4}, 288, at::kLong), positions, {}, nullptr);
  ASSERT_FALSE(out_of_range.ok());
  EXPECT_NE(out_of_range.status().message().find("token id 288"), std::string::npos);
  EXPECT_EQ(model->Forward(at::zeros({1, 4}, at::kInt), positions, {}, nullptr).status().code(),
            COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(model->Forward(at::zeros({1, 4}, at::kLong), positions.narrow(1, 0, 3), {}, nullptr)
                .status()
                .code(),
            COMPASS_INVALID_ARGUMENT);
  // Ids in padding slots are ignored, even out of range.
  at::Tensor ids = at::zeros({1, 4}, at::kLong);
  ids[0][0] = -1;
  const at::Tensor valid = at::tensor({0, 1, 1, 1}, at::kLong).to(at::kBool).unsqueeze(0);
  EXPECT_TRUE(model->Forward(ids, positions, valid, nullptr).ok());
  EXPECT_FALSE(MakePaddedBatch({{1, 2}, {}}, Padding::kLeft, c10::kCPU).ok());
  auto none = model->Generate({{1, 2, 3}}, 0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE((*none)[0].empty());
}

TEST_F(LayersTest, LoadingReportsCheckpointErrors) {
  const std::string dir = testing::ScratchDir("bad_load");
  auto spec = TinyModelVariant("llama_tied");
  ASSERT_TRUE(WriteTinyModel(*spec, dir).ok());
  std::string config = testing::ReadFile(dir + "/config.json");
  config.replace(config.find("\"intermediate_size\": 128"), 24, "\"intermediate_size\": 96");
  testing::WriteFile(dir + "/config.json", config);
  auto model = CausalLM::Load(dir, {});
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find(
                "tensor model.layers.0.mlp.gate_proj.weight has shape [128, 64], expected [96, 64] "
                "from config.json"),
            std::string::npos)
      << model.status().message();
  Placement int_placement;
  int_placement.dtype = at::kInt;
  EXPECT_EQ(CausalLM::Load(TinyModelDir("llama_tied"), int_placement).status().code(),
            COMPASS_UNSUPPORTED);
}

TEST_F(LayersTest, CudaMatchesCpuWhenAGpuIsPresent) {
  if (!at::hasCUDA()) GTEST_SKIP() << "no CUDA device";
  for (const std::string& variant : TinyModelVariants()) {
    auto cpu = CausalLM::Load(TinyModelDir(variant), {});
    Placement gpu;
    gpu.device = c10::Device(c10::kCUDA, 0);
    auto cuda = CausalLM::Load(TinyModelDir(variant), gpu);
    ASSERT_TRUE(cpu.ok() && cuda.ok());
    auto batch =
        MakePaddedBatch({{3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {9, 8, 7}}, Padding::kLeft, c10::kCPU);
    ASSERT_TRUE(batch.ok());
    auto a = cpu->Forward(batch->input_ids, batch->positions, batch->valid, nullptr);
    auto b = cuda->Forward(batch->input_ids, batch->positions, batch->valid, nullptr);
    ASSERT_TRUE(a.ok() && b.ok()) << b.status().message();
    EXPECT_EQ(b->device().type(), c10::kCUDA);
    const at::Tensor mask = batch->valid.unsqueeze(-1);
    EXPECT_LE(MaxDiff(a->masked_fill(~mask, 0), b->cpu().masked_fill(~mask, 0)), 1e-4) << variant;
    auto generated = cuda->Generate({{1, 2, 3}, {4, 5}}, 8);
    ASSERT_TRUE(generated.ok());
    EXPECT_EQ(*generated, *cpu->Generate({{1, 2, 3}, {4, 5}}, 8)) << variant;
  }
}

}  // namespace
}  // namespace compass::model
