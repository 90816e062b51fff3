// The tiny model generator: deterministic, the real layout, and parameter
// accounting that agrees with the bytes it writes.
#include "models/tiny_model.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <cmath>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "model_test_util.h"

namespace compass::model {
namespace {

using testing::ReadFile;
using testing::ScratchDir;

TEST(TinyModel, ChecksumsMatchTheGoldens) {
  // The goldens were made from these exact weights; CI without libtorch
  // still notices when the generator changes.
  for (const std::string& variant : TinyModelVariants()) {
    const std::string dir = testing::TinyModelDir(variant);
    auto c = Checkpoint::Open(dir);
    ASSERT_TRUE(c.ok());
    const auto golden =
        nlohmann::json::parse(ReadFile(testing::FixtureDir(variant) + "/golden.json"));
    EXPECT_EQ(WeightsChecksum(*c), golden.at("weights_checksum").get<std::string>()) << variant;
  }
}

TEST(TinyModel, DeterministicAndIndependentOfSharding) {
  auto spec = TinyModelVariant("mistral");
  ASSERT_TRUE(spec.ok());
  const std::string a = ScratchDir("tiny_a"), b = ScratchDir("tiny_b"), s = ScratchDir("tiny_s");
  auto fa = WriteTinyModel(*spec, a);
  auto fb = WriteTinyModel(*spec, b);
  ASSERT_TRUE(fa.ok() && fb.ok());
  EXPECT_EQ(ReadFile(a + "/model.safetensors"), ReadFile(b + "/model.safetensors"));
  EXPECT_EQ(ReadFile(a + "/config.json"), ReadFile(b + "/config.json"));
  spec->shards = 2;
  auto fs = WriteTinyModel(*spec, s);
  ASSERT_TRUE(fs.ok());
  EXPECT_EQ(fs->weights_checksum, fa->weights_checksum);
  EXPECT_EQ(fs->files,
            (std::vector<std::string>{s + "/config.json", s + "/model-00001-of-00002.safetensors",
                                      s + "/model-00002-of-00002.safetensors",
                                      s + "/model.safetensors.index.json"}));
  spec->seed += 1;
  auto other = WriteTinyModel(*spec, ScratchDir("tiny_other"));
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->weights_checksum, fa->weights_checksum);
}

TEST(TinyModel, AccountingEqualsTheBytesWritten) {
  for (const std::string& variant : TinyModelVariants()) {
    for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
      const std::string dir = testing::TinyModelDir(variant, dtype);
      auto config = LoadModelConfig(dir);
      auto checkpoint = Checkpoint::Open(dir);
      ASSERT_TRUE(config.ok() && checkpoint.ok());
      EXPECT_EQ(config->torch_dtype, dtype);
      EXPECT_TRUE(ValidateCheckpoint(*checkpoint, *config).ok()) << variant;
      const ParameterAccounting a = AccountParameters(*config, dtype);
      EXPECT_EQ(a.total_bytes(), checkpoint->tensor_bytes()) << variant << " " << DTypeName(dtype);
      EXPECT_EQ(a.embed_tokens_bytes(),
                checkpoint->Find("model.embed_tokens.weight")->info->nbytes);
      if (config->tie_word_embeddings) {
        EXPECT_EQ(a.lm_head_bytes(), 0u);
        EXPECT_EQ(checkpoint->Find("lm_head.weight"), nullptr);
      } else {
        EXPECT_EQ(a.lm_head_bytes(), checkpoint->Find("lm_head.weight")->info->nbytes);
      }
      uint64_t layer0 = 0;
      for (const std::string& name : checkpoint->names()) {
        if (name.rfind("model.layers.0.", 0) == 0) layer0 += checkpoint->Find(name)->info->nbytes;
      }
      EXPECT_EQ(a.layer_bytes(0), layer0);
    }
  }
}

TEST(TinyModel, RealLayoutAndMeaningfulValues) {
  const std::string dir = testing::TinyModelDir("qwen2");
  auto c = Checkpoint::Open(dir);
  ASSERT_TRUE(c.ok());
  for (const char* name : {"model.embed_tokens.weight", "model.layers.1.self_attn.q_proj.bias",
                           "model.layers.1.self_attn.o_proj.weight", "model.norm.weight",
                           "model.layers.0.post_attention_layernorm.weight"}) {
    EXPECT_NE(c->Find(name), nullptr) << name;
  }
  EXPECT_EQ(c->Find("model.layers.0.self_attn.o_proj.bias"), nullptr);
  auto stats = [&](const std::string& name) {
    const Checkpoint::Entry* e = c->Find(name);
    const float* v = static_cast<const float*>(e->file->data(*e->info));
    double sum = 0, sq = 0;
    const int64_t n = e->info->numel();
    for (int64_t i = 0; i < n; ++i) sum += v[i];
    for (int64_t i = 0; i < n; ++i) sq += (v[i] - sum / n) * (v[i] - sum / n);
    return std::make_pair(sum / n, std::sqrt(sq / n));
  };
  auto [norm_mean, norm_std] = stats("model.layers.0.input_layernorm.weight");
  EXPECT_NEAR(norm_mean, 1.0, 0.05);
  EXPECT_NEAR(norm_std, 0.1, 0.03);  // not all ones
  auto [embed_mean, embed_std] = stats("model.embed_tokens.weight");
  EXPECT_NEAR(embed_mean, 0.0, 0.01);
  EXPECT_NEAR(embed_std, 0.15, 0.01);
  const auto config = nlohmann::json::parse(ReadFile(dir + "/config.json"));
  EXPECT_EQ(config.at("architectures")[0], "Qwen2ForCausalLM");
  EXPECT_TRUE(config.at("tie_word_embeddings").get<bool>());
}

TEST(TinyModel, UnknownVariantListsTheKnownOnes) {
  auto spec = TinyModelVariant("gpt2");
  ASSERT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), COMPASS_NOT_FOUND);
  EXPECT_NE(spec.status().message().find("llama_rope_dynamic"), std::string::npos);
}

TEST(TinyModel, CommandLine) {
  const std::string bin = std::string(COMPASS_BINARY_DIR) + "/bin/compass_tiny_model";
  const std::string dir = ScratchDir("tiny_cli");
  const std::string out = dir + "/out.json";
  ASSERT_EQ(
      std::system(
          (bin + " --arch mistral --out " + dir + "/m --shards 2 --dtype bf16 > " + out).c_str()),
      0);
  const auto summary = nlohmann::json::parse(ReadFile(out));
  EXPECT_EQ(summary.at("variant"), "mistral");
  EXPECT_EQ(summary.at("dtype"), "BF16");
  EXPECT_EQ(summary.at("files").size(), 4u);
  auto c = Checkpoint::Open(dir + "/m");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(WeightsChecksum(*c), summary.at("weights_checksum").get<std::string>());
  auto exit_code = [&](const std::string& args) {
    const int rc = std::system((bin + " " + args + " > /dev/null 2>&1").c_str());
    return WEXITSTATUS(rc);
  };
  EXPECT_EQ(exit_code("--arch llama --variant qwen2 --out " + dir + "/x"), 2);
  EXPECT_EQ(exit_code("--variant nope --out " + dir + "/x"), 2);
  EXPECT_EQ(exit_code("--variant llama --out " + dir + "/x --shards 3"), 2);
  EXPECT_EQ(exit_code("--variant llama"), 2);
}

}  // namespace
}  // namespace compass::model
