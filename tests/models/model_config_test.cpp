// config.json parsing and parameter accounting, without weights.
#include "models/model_config.h"

#include <gtest/gtest.h>

#include <cmath>

#include "model_test_util.h"

namespace compass::model {
namespace {

StatusOr<ModelConfig> Parse(const std::string& text) {
  return ParseModelConfig(text, "/m/config.json");
}

ModelConfig MustParse(const std::string& text) {
  auto c = Parse(text);
  EXPECT_TRUE(c.ok()) << c.status().message();
  return c.ok() ? *c : ModelConfig{};
}

// Real configs, as published.
constexpr char kLlama2_7B[] = R"({
  "architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
  "intermediate_size": 11008, "max_position_embeddings": 4096, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": null, "tie_word_embeddings": false,
  "torch_dtype": "float16", "transformers_version": "4.31.0.dev0", "use_cache": true,
  "vocab_size": 32000})";

constexpr char kLlama31_8B[] = R"({
  "architectures": ["LlamaForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "hidden_act": "silu",
  "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
  "max_position_embeddings": 131072, "mlp_bias": false, "model_type": "llama",
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "pretraining_tp": 1, "rms_norm_eps": 1e-05,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 500000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16",
  "vocab_size": 128256})";

constexpr char kMistral7B[] = R"({
  "architectures": ["MistralForCausalLM"], "bos_token_id": 1, "eos_token_id": 2,
  "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02,
  "intermediate_size": 14336, "max_position_embeddings": 32768, "model_type": "mistral",
  "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
  "rms_norm_eps": 1e-05, "rope_theta": 10000.0, "sliding_window": 4096,
  "tie_word_embeddings": false, "torch_dtype": "bfloat16", "vocab_size": 32000})";

constexpr char kQwen2_05B[] = R"({
  "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 151643,
  "eos_token_id": 151643, "hidden_act": "silu", "hidden_size": 896, "initializer_range": 0.02,
  "intermediate_size": 4864, "max_position_embeddings": 131072, "max_window_layers": 24,
  "model_type": "qwen2", "num_attention_heads": 14, "num_hidden_layers": 24,
  "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
  "sliding_window": 131072, "tie_word_embeddings": true, "torch_dtype": "bfloat16",
  "use_cache": true, "use_sliding_window": false, "vocab_size": 151936})";

TEST(ModelConfig, Llama2_7BAccounting) {
  const ModelConfig c = MustParse(kLlama2_7B);
  EXPECT_EQ(c.architecture, Architecture::kLlama);
  EXPECT_EQ(c.head_dim, 128);
  EXPECT_EQ(c.num_key_value_heads, 32);
  EXPECT_EQ(c.rope.type, RopeType::kDefault);
  EXPECT_EQ(c.rope.theta, 10000.0);
  EXPECT_EQ(c.torch_dtype, DType::kF16);
  EXPECT_FALSE(c.qkv_bias);
  const ParameterAccounting a = AccountParameters(c, DType::kF16);
  EXPECT_EQ(a.total_params, 6738415616u);  // "7B": 6.74e9
  EXPECT_EQ(a.embed_tokens_params, 32000u * 4096);
  EXPECT_EQ(a.lm_head_params, 32000u * 4096);
  EXPECT_EQ(a.norm_params, 4096u);
  ASSERT_EQ(a.layers.size(), 32u);
  EXPECT_EQ(a.layers[0].attention_params, 4u * 4096 * 4096);
  EXPECT_EQ(a.layers[0].mlp_params, 3u * 4096 * 11008);
  EXPECT_EQ(a.layers[0].norm_params, 2u * 4096);
  EXPECT_EQ(a.layer_bytes(31), 2u * 202383360);
  EXPECT_EQ(a.total_bytes(), 2u * 6738415616u);
  EXPECT_EQ(a.kv_cache_bytes_per_token, 524288u);  // 512 KiB per token in f16
  EXPECT_EQ(AccountParameters(c, DType::kF32).total_bytes(), 4u * 6738415616u);
  EXPECT_NE(a.Summary().find("lm_head 250.0 MiB"), std::string::npos) << a.Summary();
}

TEST(ModelConfig, Llama31_8BWithLlama3Rope) {
  const ModelConfig c = MustParse(kLlama31_8B);
  EXPECT_EQ(c.rope.type, RopeType::kLlama3);
  EXPECT_EQ(c.rope.factor, 8.0);
  EXPECT_EQ(c.rope.low_freq_factor, 1.0);
  EXPECT_EQ(c.rope.high_freq_factor, 4.0);
  EXPECT_EQ(c.rope.original_max_position_embeddings, 8192);
  EXPECT_EQ(c.rope.theta, 500000.0);
  EXPECT_EQ(c.eos_token_ids, (std::vector<int64_t>{128001, 128008, 128009}));
  EXPECT_EQ(c.bos_token_id, 128000);
  const ParameterAccounting a = AccountParameters(c, DType::kBF16);
  EXPECT_EQ(a.total_params, 8030261248u);
  EXPECT_EQ(a.kv_cache_bytes_per_token, 2u * 32 * 8 * 128 * 2);
}

TEST(ModelConfig, Mistral7BRecordsItsSlidingWindow) {
  const ModelConfig c = MustParse(kMistral7B);
  EXPECT_EQ(c.architecture, Architecture::kMistral);
  EXPECT_EQ(c.sliding_window, 4096);
  EXPECT_EQ(c.layer_sliding_window, std::vector<int64_t>(32, 4096));
  EXPECT_EQ(AccountParameters(c, DType::kBF16).total_params, 7241732096u);
}

TEST(ModelConfig, Qwen2HasQkvBiasAndTiedHead) {
  const ModelConfig c = MustParse(kQwen2_05B);
  EXPECT_EQ(c.architecture, Architecture::kQwen2);
  EXPECT_TRUE(c.qkv_bias);
  EXPECT_FALSE(c.o_bias);
  EXPECT_TRUE(c.tie_word_embeddings);
  EXPECT_EQ(c.head_dim, 64);
  EXPECT_FALSE(c.sliding_window.has_value());  // use_sliding_window is false
  EXPECT_EQ(c.layer_sliding_window, std::vector<int64_t>(24, 0));
  const ParameterAccounting a = AccountParameters(c, DType::kBF16);
  EXPECT_EQ(a.total_params, 494032768u);
  EXPECT_EQ(a.lm_head_params, 0u);
  EXPECT_EQ(a.lm_head_bytes(), 0u);
  EXPECT_EQ(a.layers[0].attention_params, 896u * 896 + 896 + 2 * (128u * 896 + 128) + 896u * 896);
  const auto params = ExpectedParameters(c);
  EXPECT_EQ(params.back().name, "model.norm.weight");
  EXPECT_EQ(params[2].name, "model.layers.0.self_attn.q_proj.weight");
  EXPECT_EQ(params[3].name, "model.layers.0.self_attn.q_proj.bias");
  EXPECT_EQ(params[3].shape, std::vector<int64_t>{896});
}

TEST(ModelConfig, Qwen2SlidingWindowLayers) {
  std::string text = kQwen2_05B;
  text.replace(text.find("\"use_sliding_window\": false"), 27, "\"use_sliding_window\": true");
  text.replace(text.find("\"max_window_layers\": 24"), 23, "\"max_window_layers\": 20");
  const ModelConfig c = MustParse(text);
  EXPECT_EQ(c.sliding_window, 131072);
  EXPECT_EQ(c.layer_sliding_window[19], 0);
  EXPECT_EQ(c.layer_sliding_window[20], 131072);
}

const std::string kTiny = R"("vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
  "num_hidden_layers": 2, "num_attention_heads": 2)";

std::string Llama(const std::string& extra) {
  return R"({"architectures": ["LlamaForCausalLM"], )" + kTiny + (extra.empty() ? "" : ", ") +
         extra + "}";
}

TEST(ModelConfig, DefaultsAndExplicitHeadDim) {
  ModelConfig c = MustParse(Llama(""));
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_EQ(c.head_dim, 4);
  EXPECT_EQ(c.max_position_embeddings, 2048);
  EXPECT_EQ(c.rms_norm_eps, 1e-6);
  EXPECT_FALSE(c.tie_word_embeddings);
  EXPECT_FALSE(c.torch_dtype.has_value());
  c = MustParse(Llama(R"("head_dim": 6, "num_key_value_heads": 1, "attention_bias": true,
                         "mlp_bias": true, "dtype": "bfloat16")"));
  EXPECT_EQ(c.head_dim, 6);
  EXPECT_EQ(c.q_size(), 12);
  EXPECT_EQ(c.kv_size(), 6);
  EXPECT_TRUE(c.qkv_bias && c.o_bias && c.mlp_bias);
  EXPECT_EQ(c.torch_dtype, DType::kBF16);
  const auto params = ExpectedParameters(c);
  EXPECT_EQ(params.size(), 1 + 2 * 16 + 1 + 1u);  // 9 weights and 7 biases per layer
  // No architectures: model_type decides.
  c = MustParse(R"({"model_type": "mistral", )" + kTiny + "}");
  EXPECT_EQ(c.architecture, Architecture::kMistral);
  EXPECT_EQ(c.sliding_window, std::nullopt);
}

TEST(ModelConfig, RopeSpellings) {
  ModelConfig c = MustParse(Llama(R"("rope_scaling": {"type": "linear", "factor": 2.0})"));
  EXPECT_EQ(c.rope.type, RopeType::kLinear);
  EXPECT_EQ(c.rope.factor, 2.0);
  c = MustParse(
      Llama(R"("rope_parameters": {"rope_type": "dynamic", "factor": 3, "rope_theta": 500})"));
  EXPECT_EQ(c.rope.type, RopeType::kDynamic);
  EXPECT_EQ(c.rope.factor, 3.0);
  EXPECT_EQ(c.rope.theta, 500.0);
  c = MustParse(Llama(R"("max_position_embeddings": 64, "rope_scaling": {"rope_type": "llama3",
      "factor": 8, "low_freq_factor": 1, "high_freq_factor": 4})"));
  EXPECT_EQ(c.rope.original_max_position_embeddings, 64);  // defaults as transformers does
  c = MustParse(Llama(R"("rope_scaling": {"rope_type": "default"}, "rope_theta": 1234)"));
  EXPECT_EQ(c.rope.type, RopeType::kDefault);
  EXPECT_EQ(c.rope.theta, 1234.0);
}

TEST(ModelConfig, UnknownArchitectureNamesFileNameAndSupported) {
  auto c = Parse(R"({"architectures": ["GPT2LMHeadModel"], )" + kTiny + "}");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), COMPASS_UNSUPPORTED);
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("/m/config.json"), std::string::npos) << m;
  EXPECT_NE(m.find("GPT2LMHeadModel"), std::string::npos) << m;
  EXPECT_NE(m.find("LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM"), std::string::npos)
      << m;
  EXPECT_FALSE(Parse(R"({"model_type": "gpt2"})").ok());
  EXPECT_FALSE(Parse(R"({"vocab_size": 3})").ok());
}

TEST(ModelConfig, UnknownRopeTypeIsNamed) {
  auto c = Parse(Llama(R"("rope_scaling": {"rope_type": "yarn", "factor": 4})"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), COMPASS_UNSUPPORTED);
  EXPECT_NE(c.status().message().find("'yarn'"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("default, linear, dynamic, llama3"), std::string::npos);
  EXPECT_NE(c.status().message().find("/m/config.json"), std::string::npos);
}

TEST(ModelConfig, BadValuesAreRefusedWithTheirKey) {
  struct Case {
    std::string text;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {Llama(R"("num_key_value_heads": 3)"), "num_key_value_heads"},
      {Llama(R"("hidden_act": "gelu")"), "hidden_act"},
      {Llama(R"("rope_scaling": {"type": "linear"})"), "rope_scaling.factor: missing"},
      {Llama(R"("rope_scaling": {"rope_type": "llama3", "factor": 8})"), "low_freq_factor"},
      {Llama(R"("head_dim": 5)"), "head_dim"},
      {Llama(
           R"("rope_parameters": {"rope_type": "linear", "factor": 2, "partial_rotary_factor": 0.5})"),
       "partial_rotary_factor"},
      {R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 0, "hidden_size": 8,
          "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2})",
       "vocab_size: must be positive"},
      {R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 10})", "hidden_size: missing"},
      {R"({"architectures": ["LlamaForCausalLM"], "vocab_size": "10"})", "vocab_size"},
      {"{not json", "not valid JSON"},
      // Found by fuzz/model_config_fuzzer.cpp: escaped as another exception type.
      {Llama(R"("rms_norm_eps": -2147483649e5555555)"),
       "not valid JSON: [json.exception.out_of_range.406] number overflow"},
  };
  for (const Case& k : cases) {
    auto c = Parse(k.text);
    ASSERT_FALSE(c.ok()) << k.text;
    EXPECT_NE(c.status().message().find(k.expect), std::string::npos) << c.status().message();
    EXPECT_EQ(c.status().message().rfind("/m/config.json", 0), 0u) << c.status().message();
  }
}

// Found by fuzz/model_config_fuzzer.cpp (inputs in fuzz/regressions/model_config):
// sizes no model has used to allocate without bound or overflow the parameter
// counts, an integer outside int64 was converted without a range check, and a
// negative max_window_layers indexed before the window list.
TEST(ModelConfig, SizesBeyondAnyModelAreRefusedWithTheirKey) {
  struct Case {
    std::string text;
    std::string expect;
  };
  const std::vector<Case> cases = {
      {Llama(R"("num_hidden_layers": 1000000000)"),
       "num_hidden_layers: 1000000000 is larger than any supported model (at most 4096)"},
      {Llama(R"("hidden_size": 1099511627776)"),
       "hidden_size: 1099511627776 is larger than any supported model"},
      {Llama(R"("intermediate_size": 1099511627776)"),
       "intermediate_size: 1099511627776 is larger"},
      {Llama(R"("vocab_size": 2147483648)"), "vocab_size: 2147483648 is larger"},
      {Llama(R"("num_attention_heads": 8192, "hidden_size": 8192)"),
       "num_attention_heads: 8192 is larger"},
      {Llama(R"("head_dim": 8192)"), "head_dim: 8192 is larger"},
      {Llama(R"("max_position_embeddings": 4294967296)"),
       "max_position_embeddings: 4294967296 is larger"},
      {Llama(R"("num_hidden_layers": 1e300)"),
       "num_hidden_layers: expected an integer, got 1e+300"},
      {Llama(R"("num_hidden_layers": 18446744073709551615)"),
       "num_hidden_layers: is 18446744073709551615, too large"},
      {R"({"architectures": ["Qwen2ForCausalLM"], "vocab_size": 10, "hidden_size": 8,
          "intermediate_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
          "use_sliding_window": true, "sliding_window": 4, "max_window_layers": -5})",
       "max_window_layers: must not be negative, got -5"},
  };
  for (const Case& k : cases) {
    auto c = Parse(k.text);
    ASSERT_FALSE(c.ok()) << k.text;
    EXPECT_EQ(c.status().code(), COMPASS_INVALID_ARGUMENT);
    EXPECT_NE(c.status().message().find(k.expect), std::string::npos) << c.status().message();
  }
  // The bounds themselves are accepted, and their accounting does not overflow.
  const ModelConfig c = MustParse(Llama(R"("num_hidden_layers": 4096, "hidden_size": 1048576,
      "intermediate_size": 1048576, "num_attention_heads": 4096, "num_key_value_heads": 4096,
      "head_dim": 4096, "vocab_size": 2147483647, "max_position_embeddings": 2147483647)"));
  const ParameterAccounting a = AccountParameters(c, DType::kF32);
  EXPECT_GT(a.total_bytes(), a.total_params);
  EXPECT_EQ(a.embed_tokens_params, uint64_t{2147483647} * 1048576);
}

TEST(ModelConfig, LoadsFromADirectoryOrAFile) {
  const std::string dir = testing::ScratchDir("config_load");
  testing::WriteFile(dir + "/config.json", kMistral7B);
  auto from_dir = LoadModelConfig(dir);
  ASSERT_TRUE(from_dir.ok()) << from_dir.status().message();
  EXPECT_EQ(from_dir->source, dir + "/config.json");
  auto from_file = LoadModelConfig(dir + "/config.json");
  ASSERT_TRUE(from_file.ok());
  auto missing = LoadModelConfig(dir + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), COMPASS_IO);
}

TEST(DType, ConversionsRoundToNearestEven) {
  EXPECT_EQ(FloatToBF16(1.0f), 0x3f80);
  EXPECT_EQ(FloatToBF16(-2.0f), 0xc000);
  EXPECT_EQ(FloatToBF16(1.00390625f), 0x3f80);  // tie, to even
  EXPECT_EQ(FloatToBF16(1.01171875f), 0x3f82);  // tie, to even (up)
  EXPECT_EQ(BF16ToFloat(0x3f80), 1.0f);
  EXPECT_EQ(FloatToF16(1.0f), 0x3c00);
  EXPECT_EQ(FloatToF16(65504.0f), 0x7bff);
  EXPECT_EQ(FloatToF16(65520.0f), 0x7c00);  // rounds to infinity
  EXPECT_EQ(FloatToF16(-0.0f), 0x8000);
  EXPECT_EQ(FloatToF16(5.9604645e-8f), 0x0001);  // smallest subnormal
  EXPECT_EQ(F16ToFloat(0x0001), 5.9604645e-8f);
  EXPECT_EQ(F16ToFloat(0xc000), -2.0f);
  EXPECT_TRUE(std::isnan(F16ToFloat(FloatToF16(std::nanf("")))));
  for (float v : {0.1f, -3.14159f, 1e-5f, 1234.5f, 6.1e-5f}) {
    EXPECT_NEAR(F16ToFloat(FloatToF16(v)), v, std::abs(v) * 1e-3 + 1e-7) << v;
  }
  EXPECT_EQ(*ParseDType("BFloat16"), DType::kBF16);
  EXPECT_EQ(*ParseDType("half"), DType::kF16);
  EXPECT_FALSE(ParseDType("int8").ok());
}

}  // namespace
}  // namespace compass::model
