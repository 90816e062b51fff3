// GGUF metadata as a model config, and GGUF tensors as Hugging Face
// parameters: the fixtures against the config transformers built from the
// same files, and each way a file can disagree with itself.
#include <gtest/gtest.h>

#include "gguf/gguf_file.h"
#include "gguf_builder.h"
#include "gguf_fixtures.h"
#include "models/gguf_model.h"
#include "real_model.h"

namespace compass::model {
namespace {

using compass::testing::GgufBuilder;
using testing::GgufFixture;
using testing::GgufGoldens;

std::shared_ptr<const gguf::GgufFile> OpenOrDie(const std::string& path) {
  auto file = gguf::GgufFile::Open(path);
  EXPECT_TRUE(file.ok()) << file.status().message();
  return file.ok() ? *file : nullptr;
}

void ExpectConfigMatches(const ModelConfig& c, const nlohmann::json& g) {
  EXPECT_EQ(c.vocab_size, g["vocab_size"].get<int64_t>());
  EXPECT_EQ(c.hidden_size, g["hidden_size"].get<int64_t>());
  EXPECT_EQ(c.intermediate_size, g["intermediate_size"].get<int64_t>());
  EXPECT_EQ(c.num_hidden_layers, g["num_hidden_layers"].get<int64_t>());
  EXPECT_EQ(c.num_attention_heads, g["num_attention_heads"].get<int64_t>());
  EXPECT_EQ(c.num_key_value_heads, g["num_key_value_heads"].get<int64_t>());
  EXPECT_EQ(c.head_dim, g["head_dim"].get<int64_t>());
  EXPECT_FLOAT_EQ(static_cast<float>(c.rms_norm_eps), g["rms_norm_eps"].get<float>());
  EXPECT_DOUBLE_EQ(c.rope.theta, g["rope_theta"].get<double>());
  EXPECT_EQ(RopeTypeName(c.rope.type), g["rope_type"].get<std::string>());
  EXPECT_EQ(c.max_position_embeddings, g["max_position_embeddings"].get<int64_t>());
  EXPECT_EQ(c.tie_word_embeddings, g["tie_word_embeddings"].get<bool>());
  ASSERT_TRUE(c.bos_token_id.has_value());
  EXPECT_EQ(*c.bos_token_id, g["bos_token_id"].get<int64_t>());
  ASSERT_EQ(c.eos_token_ids.size(), 1u);
  EXPECT_EQ(c.eos_token_ids[0], g["eos_token_id"].get<int64_t>());
}

TEST(GgufConfig, TinyModelsGiveTheConfigTransformersBuilds) {
  for (const std::string arch : {"llama", "qwen2"}) {
    SCOPED_TRACE(arch);
    const auto& g = GgufGoldens("tiny_model_goldens.json")["models"][arch];
    auto file = OpenOrDie(GgufFixture(g["file"].get<std::string>()));
    ASSERT_NE(file, nullptr);
    auto config = ConfigFromGguf(*file);
    ASSERT_TRUE(config.ok()) << config.status().message();
    ExpectConfigMatches(*config, g["config"]);
    EXPECT_EQ(config->architecture, arch == "llama" ? Architecture::kLlama : Architecture::kQwen2);
    EXPECT_EQ(config->qkv_bias, arch == "qwen2");
    auto params = MapGgufTensors(*file, *config);
    ASSERT_TRUE(params.ok()) << params.status().message();
    EXPECT_EQ(params->size(), g["parameters"].size());
    const GgufParam& q = params->at("model.layers.1.self_attn.q_proj.weight");
    EXPECT_EQ(q.info->name, "blk.1.attn_q.weight");
    EXPECT_EQ(q.unpermute_heads, arch == "llama" ? 4 : 0);
    EXPECT_EQ(params->at("model.layers.0.self_attn.k_proj.weight").unpermute_heads,
              arch == "llama" ? 2 : 0);
    EXPECT_EQ(params->at("model.layers.0.self_attn.v_proj.weight").unpermute_heads, 0);
  }
}

TEST(GgufConfig, LoadModelConfigReadsTheHeaderOfTheRealModel) {
  const std::string path = compass::testing::RealModelPath();
  ASSERT_FALSE(path.empty()) << compass::testing::kRealModelHint;
  auto config = LoadModelConfig(path);
  ASSERT_TRUE(config.ok()) << config.status().message();
  ExpectConfigMatches(*config, GgufGoldens("smollm2_goldens.json")["config"]);
  EXPECT_EQ(config->source, path);
}

TEST(GgufConfig, UnpermuteInvertsLlamaCppsPermutation) {
  // 2 heads of 4 rows, 1 column: llama.cpp's permute takes HF rows
  // [0 1 2 3 | 4 5 6 7] to [0 2 1 3 | 4 6 5 7].
  const float gguf_rows[8] = {0, 2, 1, 3, 4, 6, 5, 7};
  float hf_rows[8];
  UnpermuteRows(gguf_rows, 8, 1, 2, hf_rows);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(hf_rows[i], static_cast<float>(i)) << i;
}

std::vector<uint8_t> Zeros(size_t floats) {
  return std::vector<uint8_t>(floats * 4, 0);
}

// A valid 1-layer llama (hidden 32, 2 heads, 1 KV head, FFN 64, vocab 8)
// with F32 zeros; `skip` leaves one tensor out, `embd_rows` changes one shape.
GgufBuilder MinimalLlama(const std::string& arch = "llama", const std::string& skip = "",
                         uint64_t embd_rows = 8, uint32_t q_type = 0) {
  GgufBuilder b;
  b.Str("general.architecture", arch)
      .U32(arch + ".context_length", 256)
      .U32(arch + ".embedding_length", 32)
      .U32(arch + ".block_count", 1)
      .U32(arch + ".feed_forward_length", 64)
      .U32(arch + ".attention.head_count", 2)
      .U32(arch + ".attention.head_count_kv", 1)
      .F32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f)
      .U32(arch + ".vocab_size", 8);
  auto add = [&](const std::string& name, std::vector<uint64_t> dims, uint32_t type = 0) {
    if (name == skip) return;
    uint64_t n = 1;
    for (uint64_t d : dims) n *= d;
    // Q4_0: 18 bytes per 32 values.
    b.Tensor(name, dims, type, type == 2 ? std::vector<uint8_t>(n / 32 * 18) : Zeros(n));
  };
  add("token_embd.weight", {32, embd_rows});
  add("blk.0.attn_norm.weight", {32});
  add("blk.0.attn_q.weight", {32, 32}, q_type);
  add("blk.0.attn_k.weight", {32, 16});
  add("blk.0.attn_v.weight", {32, 16});
  add("blk.0.attn_output.weight", {32, 32});
  add("blk.0.ffn_norm.weight", {32});
  add("blk.0.ffn_gate.weight", {32, 64});
  add("blk.0.ffn_up.weight", {32, 64});
  add("blk.0.ffn_down.weight", {64, 32});
  add("output_norm.weight", {32});
  return b;
}

// The config and the tensor map of a built file, or the first error.
Status MapBuilt(const GgufBuilder& b) {
  COMPASS_ASSIGN_OR_RETURN(auto file, gguf::GgufFile::Parse("m.gguf", b.Build()));
  COMPASS_ASSIGN_OR_RETURN(ModelConfig config, ConfigFromGguf(*file));
  COMPASS_ASSIGN_OR_RETURN(auto params, MapGgufTensors(*file, config));
  return Status::Ok();
}

void ExpectError(const Status& s, Code code, const std::string& fragment) {
  ASSERT_FALSE(s.ok()) << "expected: " << fragment;
  EXPECT_EQ(s.code(), code) << s.message();
  EXPECT_EQ(s.message().rfind("m.gguf: ", 0), 0u) << s.message();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.message();
}

TEST(GgufConfig, AMinimalLlamaMapsWithTiedEmbeddings) {
  auto file = gguf::GgufFile::Parse("m.gguf", MinimalLlama().Build());
  ASSERT_TRUE(file.ok());
  auto config = ConfigFromGguf(**file);
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_TRUE(config->tie_word_embeddings);
  EXPECT_EQ(config->head_dim, 16);
  EXPECT_DOUBLE_EQ(config->rope.theta, 10000.0);  // llama.cpp's default
  EXPECT_TRUE(MapBuilt(MinimalLlama()).ok()) << MapBuilt(MinimalLlama()).message();
}

TEST(GgufConfig, RefusesUnknownArchitectures) {
  ExpectError(MapBuilt(MinimalLlama("mamba")), COMPASS_UNSUPPORTED,
              "metadata key 'general.architecture' is 'mamba'; supported GGUF architectures: "
              "llama (Llama, Mistral), qwen2");
}

TEST(GgufConfig, NamesMissingAndBadKeys) {
  GgufBuilder no_layers;
  no_layers.Str("general.architecture", "llama").U32("llama.embedding_length", 32);
  ExpectError(MapBuilt(no_layers), COMPASS_NOT_FOUND,
              "metadata key 'llama.block_count' is missing");
  auto kv = MinimalLlama();
  kv.U32("llama.attention.head_count_kv", 3);  // a second entry: a duplicate key
  ExpectError(MapBuilt(kv), COMPASS_DATA_LOSS, "appears twice");
  GgufBuilder bad_kv = GgufBuilder();
  bad_kv.Str("general.architecture", "llama")
      .U32("llama.context_length", 256)
      .U32("llama.embedding_length", 32)
      .U32("llama.block_count", 1)
      .U32("llama.feed_forward_length", 64)
      .U32("llama.attention.head_count", 2)
      .U32("llama.attention.head_count_kv", 3);
  ExpectError(MapBuilt(bad_kv), COMPASS_INVALID_ARGUMENT,
              "'llama.attention.head_count_kv' is 3, which does not divide the head count 2");
  auto yarn = MinimalLlama();
  yarn.Str("llama.rope.scaling.type", "yarn");
  ExpectError(MapBuilt(yarn), COMPASS_UNSUPPORTED, "'llama.rope.scaling.type' is 'yarn'");
  auto partial = MinimalLlama();
  partial.U32("llama.rope.dimension_count", 8);
  ExpectError(MapBuilt(partial), COMPASS_UNSUPPORTED, "partial rotary embeddings");
  auto wrong_type = MinimalLlama();
  wrong_type.Str("llama.rope.freq_base", "ten thousand");
  ExpectError(MapBuilt(wrong_type), COMPASS_INVALID_ARGUMENT,
              "'llama.rope.freq_base' has type STRING, expected a number");
}

// Found by fuzz/gguf_fuzzer.cpp (fuzz/regressions/gguf/block_count_1e9.gguf):
// a block count of 1e9 asked for 8 GB before anything was checked against
// the tensors. Every size has model_config.h's bound.
TEST(GgufConfig, RefusesSizesBeyondAnyModel) {
  const auto with = [](const std::string& key, uint64_t value) {
    GgufBuilder b;
    b.Str("general.architecture", "llama");
    const std::pair<std::string, uint64_t> sizes[] = {{"llama.context_length", 256},
                                                      {"llama.embedding_length", 32},
                                                      {"llama.block_count", 1},
                                                      {"llama.feed_forward_length", 64},
                                                      {"llama.attention.head_count", 2}};
    for (const auto& [k, v] : sizes) b.U64(k, k == key ? value : v);
    return b;
  };
  ExpectError(MapBuilt(with("llama.block_count", 1000000000)), COMPASS_INVALID_ARGUMENT,
              "'llama.block_count' is 1000000000, larger than any supported model (at most 4096)");
  ExpectError(MapBuilt(with("llama.embedding_length", uint64_t{1} << 40)), COMPASS_INVALID_ARGUMENT,
              "'llama.embedding_length' is 1099511627776, larger");
  ExpectError(MapBuilt(with("llama.feed_forward_length", uint64_t{1} << 21)),
              COMPASS_INVALID_ARGUMENT, "'llama.feed_forward_length' is 2097152, larger");
  ExpectError(MapBuilt(with("llama.attention.head_count", 8192)), COMPASS_INVALID_ARGUMENT,
              "'llama.attention.head_count' is 8192, larger");
  ExpectError(MapBuilt(with("llama.context_length", uint64_t{1} << 32)), COMPASS_INVALID_ARGUMENT,
              "'llama.context_length' is 4294967296, larger");
}

TEST(GgufConfig, RefusesMetadataThatDisagreesWithTheTensors) {
  ExpectError(MapBuilt(MinimalLlama("llama", "", 9)), COMPASS_INVALID_ARGUMENT,
              "tensor token_embd.weight has 9 rows but the metadata gives a vocabulary of 8");
  auto wide = MinimalLlama("llama", "blk.0.ffn_up.weight");
  wide.Tensor("blk.0.ffn_up.weight", {32, 48}, 0, Zeros(32 * 48));
  ExpectError(MapBuilt(wide), COMPASS_INVALID_ARGUMENT,
              "tensor blk.0.ffn_up.weight has shape [48, 32], but the metadata implies [64, 32] "
              "for model.layers.0.mlp.up_proj.weight");
  ExpectError(MapBuilt(MinimalLlama("llama", "blk.0.attn_v.weight")), COMPASS_NOT_FOUND,
              "tensor for model.layers.0.self_attn.v_proj.weight is missing");
  auto extra_layer = MinimalLlama();
  extra_layer.Tensor("blk.1.attn_norm.weight", {32}, 0, Zeros(32));
  ExpectError(MapBuilt(extra_layer), COMPASS_INVALID_ARGUMENT,
              "tensor blk.1.attn_norm.weight does not belong to a model with the metadata's 1 "
              "layers");
  auto unknown = MinimalLlama();
  unknown.Tensor("blk.0.attn_gate.weight", {32}, 0, Zeros(32));
  ExpectError(MapBuilt(unknown), COMPASS_INVALID_ARGUMENT,
              "tensor blk.0.attn_gate.weight is not part of a LlamaForCausalLM model");
}

TEST(GgufConfig, RefusesTensorTypesItCannotReadByName) {
  // IQ2_XXS (16): 66 bytes per 256 values; the layer's q needs 1024 values.
  auto iq = MinimalLlama("llama", "blk.0.attn_q.weight");
  iq.Tensor("blk.0.attn_q.weight", {256, 4}, 16, std::vector<uint8_t>(4 * 66));
  const Status s = MapBuilt(iq);
  ExpectError(s, COMPASS_UNSUPPORTED, "tensor blk.0.attn_q.weight has type IQ2_XXS");
  EXPECT_NE(s.message().find("readable types: F32, F16, Q4_0"), std::string::npos) << s.message();
  // A quantized tensor of a readable type maps.
  EXPECT_TRUE(MapBuilt(MinimalLlama("llama", "", 8, 2)).ok());
}

}  // namespace
}  // namespace compass::model
