// Safetensors files and checkpoints: round trips, and every malformed input
// refused with a Status naming the file and the tensor.
#include "models/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <functional>

#include "model_test_util.h"
#include "models/checkpoint.h"
#include "models/tiny_model.h"

namespace compass::model {
namespace {

using testing::ReadFile;
using testing::ScratchDir;
using testing::WriteFile;

// A file from a header and a data section, as given.
std::string RawFile(const std::string& dir, const std::string& header, size_t data_bytes) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>((header.size() >> (8 * i)) & 0xff);
  bytes += header;
  bytes += std::string(data_bytes, '\x01');
  const std::string path = dir + "/raw.safetensors";
  WriteFile(path, bytes);
  return path;
}

void ExpectError(const StatusOr<std::shared_ptr<const SafetensorsFile>>& file, Code code,
                 const std::vector<std::string>& fragments) {
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().code(), code) << file.status().message();
  for (const std::string& f : fragments) {
    EXPECT_NE(file.status().message().find(f), std::string::npos)
        << "'" << f << "' not in: " << file.status().message();
  }
}

TEST(Safetensors, RoundTrip) {
  const std::string dir = ScratchDir("st_round_trip");
  const float a[6] = {1, 2, 3, 4, 5, 6};
  const uint16_t b[2] = {FloatToBF16(1.5f), FloatToBF16(-0.25f)};
  const uint16_t h[3] = {FloatToF16(0.5f), FloatToF16(2.0f), FloatToF16(-8.0f)};
  ASSERT_TRUE(WriteSafetensors(dir + "/x.safetensors", {{"a", DType::kF32, {2, 3}, a},
                                                        {"b", DType::kBF16, {2}, b},
                                                        {"h", DType::kF16, {3, 1}, h}})
                  .ok());
  auto file = SafetensorsFile::Open(dir + "/x.safetensors");
  ASSERT_TRUE(file.ok()) << file.status().message();
  ASSERT_EQ((*file)->tensors().size(), 3u);
  EXPECT_EQ((*file)->metadata().at("format"), "pt");
  const TensorInfo* ta = (*file)->Find("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ta->nbytes, 24u);
  EXPECT_EQ(std::memcmp((*file)->data(*ta), a, 24), 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>((*file)->data(*ta)) % 8, 0u);  // header padded
  const TensorInfo* th = (*file)->Find("h");
  EXPECT_EQ(th->dtype, DType::kF16);
  EXPECT_EQ(th->offset, 28u);
  EXPECT_EQ(std::memcmp((*file)->data(*th), h, 6), 0);
  EXPECT_EQ((*file)->Find("nope"), nullptr);
}

TEST(Safetensors, TruncatedFile) {
  const std::string dir = ScratchDir("st_truncated");
  const float a[64] = {};
  ASSERT_TRUE(WriteSafetensors(dir + "/x.safetensors", {{"first", DType::kF32, {32}, a},
                                                        {"second", DType::kF32, {32}, a + 32}})
                  .ok());
  std::filesystem::resize_file(dir + "/x.safetensors",
                               std::filesystem::file_size(dir + "/x.safetensors") - 10);
  ExpectError(SafetensorsFile::Open(dir + "/x.safetensors"), COMPASS_DATA_LOSS,
              {dir + "/x.safetensors", "truncated", "second"});
  WriteFile(dir + "/tiny.safetensors", "abc");
  ExpectError(SafetensorsFile::Open(dir + "/tiny.safetensors"), COMPASS_DATA_LOSS,
              {"tiny.safetensors", "truncated"});
}

TEST(Safetensors, HeaderLengthLargerThanTheFile) {
  const std::string dir = ScratchDir("st_header_len");
  std::string bytes(8, '\0');
  bytes[0] = bytes[1] = '\xff';
  WriteFile(dir + "/x.safetensors", bytes + "{}");
  ExpectError(SafetensorsFile::Open(dir + "/x.safetensors"), COMPASS_DATA_LOSS,
              {"x.safetensors", "header length 65535 is larger than the file (10 bytes)"});
}

TEST(Safetensors, OverlappingOffsets) {
  const std::string dir = ScratchDir("st_overlap");
  const std::string path = RawFile(dir,
                                   R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
                                   R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
                                   24);
  ExpectError(SafetensorsFile::Open(path), COMPASS_DATA_LOSS,
              {"raw.safetensors", "tensors a [0, 16] and b [8, 24] overlap"});
}

TEST(Safetensors, OffsetsOutOfRange) {
  const std::string dir = ScratchDir("st_range");
  const std::string path =
      RawFile(dir,
              R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
              R"("far":{"dtype":"F32","shape":[2],"data_offsets":[1000,1008]}})",
              16);
  ExpectError(SafetensorsFile::Open(path), COMPASS_DATA_LOSS,
              {"raw.safetensors", "tensor far", "[1000, 1008]", "out of range"});
}

TEST(Safetensors, OffsetsThatDoNotMatchDtypeAndShape) {
  const std::string dir = ScratchDir("st_size");
  const std::string path =
      RawFile(dir, R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8);
  ExpectError(SafetensorsFile::Open(path), COMPASS_DATA_LOSS,
              {"raw.safetensors", "tensor w", "hold 8 bytes, but dtype F32 and shape [3] need 12"});
  const std::string half =
      RawFile(dir, R"({"w":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,16]}})", 16);
  ExpectError(SafetensorsFile::Open(half), COMPASS_DATA_LOSS, {"need 8"});
}

TEST(Safetensors, UnsupportedAndUnknownDtypes) {
  const std::string dir = ScratchDir("st_dtype");
  ExpectError(SafetensorsFile::Open(
                  RawFile(dir, R"({"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8)),
              COMPASS_UNSUPPORTED, {"raw.safetensors", "tensor ids has dtype I64", "F32, F16"});
  ExpectError(SafetensorsFile::Open(
                  RawFile(dir, R"({"x":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}})", 1)),
              COMPASS_DATA_LOSS, {"unknown dtype 'Q4'"});
}

TEST(Safetensors, MalformedHeaders) {
  const std::string dir = ScratchDir("st_malformed");
  ExpectError(SafetensorsFile::Open(RawFile(dir, "{not json", 0)), COMPASS_DATA_LOSS,
              {"not valid JSON"});
  // A number beyond double escaped as another exception type (found by
  // fuzz/safetensors_fuzzer.cpp: fuzz/regressions/safetensors/).
  ExpectError(SafetensorsFile::Open(
                  RawFile(dir, R"({"x":{"dtype":"F32","shape":[1e999],"data_offsets":[0,4]}})", 4)),
              COMPASS_DATA_LOSS, {"not valid JSON", "number overflow"});
  ExpectError(SafetensorsFile::Open(RawFile(dir, R"({"x":{"dtype":"F32"}})", 0)), COMPASS_DATA_LOSS,
              {"tensor x", "data_offsets"});
  ExpectError(SafetensorsFile::Open(
                  RawFile(dir, R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4)),
              COMPASS_DATA_LOSS, {"shape"});
  ExpectError(SafetensorsFile::Open(
                  RawFile(dir, R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8)),
              COMPASS_DATA_LOSS, {"not exactly covered"});
  ExpectError(SafetensorsFile::Open(dir + "/missing.safetensors"), COMPASS_IO,
              {"missing.safetensors"});
}

// A checkpoint directory built from a tiny model, with tensors dropped,
// replaced or added.
class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    source_ = ScratchDir("ckpt_source");
    auto spec = TinyModelVariant("llama_tied");
    ASSERT_TRUE(WriteTinyModel(*spec, source_).ok());
    auto c = Checkpoint::Open(source_);
    ASSERT_TRUE(c.ok());
    checkpoint_ = std::make_unique<Checkpoint>(std::move(c).value());
    auto config = LoadModelConfig(source_);
    ASSERT_TRUE(config.ok());
    config_ = *config;
  }

  // Rewrites the checkpoint into `dir` (one file), with `edit` applied to
  // the tensor list.
  std::string Rewrite(const std::string& name,
                      const std::function<void(std::vector<TensorData>&)>& edit) {
    const std::string dir = ScratchDir(name);
    std::filesystem::copy_file(source_ + "/config.json", dir + "/config.json");
    std::vector<TensorData> tensors;
    for (const std::string& n : checkpoint_->names()) {
      const Checkpoint::Entry* e = checkpoint_->Find(n);
      tensors.push_back({n, e->info->dtype, e->info->shape, e->file->data(*e->info)});
    }
    edit(tensors);
    EXPECT_TRUE(WriteSafetensors(dir + "/model.safetensors", tensors).ok());
    return dir;
  }

  Status Validate(const std::string& dir) {
    auto c = Checkpoint::Open(dir);
    if (!c.ok()) return c.status();
    auto config = LoadModelConfig(dir);
    if (!config.ok()) return config.status();
    return ValidateCheckpoint(*c, *config);
  }

  std::string source_;
  std::unique_ptr<Checkpoint> checkpoint_;
  ModelConfig config_;
  std::vector<float> scratch_ = std::vector<float>(1 << 16, 0.5f);
};

TEST_F(CheckpointTest, TheGeneratedModelValidates) {
  EXPECT_TRUE(ValidateCheckpoint(*checkpoint_, config_).ok());
  EXPECT_FALSE(checkpoint_->sharded());
  EXPECT_EQ(checkpoint_->source(), source_ + "/model.safetensors");
}

TEST_F(CheckpointTest, MissingTensor) {
  const std::string dir = Rewrite("ckpt_missing", [](std::vector<TensorData>& t) {
    std::erase_if(
        t, [](const TensorData& d) { return d.name == "model.layers.1.mlp.up_proj.weight"; });
  });
  const Status s = Validate(dir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), COMPASS_NOT_FOUND);
  EXPECT_NE(s.message().find(dir + "/model.safetensors: tensor model.layers.1.mlp.up_proj.weight "
                                   "[128, 64] is missing"),
            std::string::npos)
      << s.message();
}

TEST_F(CheckpointTest, UnexpectedTensor) {
  const std::string dir = Rewrite("ckpt_unexpected", [&](std::vector<TensorData>& t) {
    t.push_back({"model.layers.0.mlp.extra.weight", DType::kF32, {4}, scratch_.data()});
  });
  const Status s = Validate(dir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(
      s.message().find("model.safetensors: unexpected tensor model.layers.0.mlp.extra.weight"),
      std::string::npos)
      << s.message();
}

TEST_F(CheckpointTest, RotaryBuffersOfOlderCheckpointsAreTolerated) {
  const std::string dir = Rewrite("ckpt_inv_freq", [&](std::vector<TensorData>& t) {
    t.push_back(
        {"model.layers.0.self_attn.rotary_emb.inv_freq", DType::kF32, {8}, scratch_.data()});
  });
  EXPECT_TRUE(Validate(dir).ok());
}

TEST_F(CheckpointTest, ShapeMismatchNamesTheShardAndTheTensor) {
  const std::string dir = ScratchDir("ckpt_shape");
  auto spec = TinyModelVariant("llama");
  spec->shards = 2;
  ASSERT_TRUE(WriteTinyModel(*spec, dir).ok());
  std::string config = ReadFile(dir + "/config.json");
  config.replace(config.find("\"intermediate_size\": 128"), 24, "\"intermediate_size\": 96");
  WriteFile(dir + "/config.json", config);
  const Status s = Validate(dir);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(s.message().find(dir + "/model-00001-of-00002.safetensors: tensor "
                                   "model.layers.0.mlp.gate_proj.weight has shape [128, 64], "
                                   "expected [96, 64] from config.json"),
            std::string::npos)
      << s.message();
}

TEST_F(CheckpointTest, TiedHeadPresentWithTheSameValuesIsIgnored) {
  const Checkpoint::Entry* embed = checkpoint_->Find("model.embed_tokens.weight");
  const std::string same = Rewrite("ckpt_tied_same", [&](std::vector<TensorData>& t) {
    t.push_back(
        {"lm_head.weight", DType::kF32, embed->info->shape, embed->file->data(*embed->info)});
  });
  EXPECT_TRUE(Validate(same).ok());
  const std::string different = Rewrite("ckpt_tied_different", [&](std::vector<TensorData>& t) {
    t.push_back({"lm_head.weight", DType::kF32, embed->info->shape, scratch_.data()});
  });
  const Status s = Validate(different);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("lm_head.weight"), std::string::npos);
  EXPECT_NE(s.message().find("tie_word_embeddings"), std::string::npos) << s.message();
}

TEST_F(CheckpointTest, IndexProblems) {
  const std::string dir = ScratchDir("ckpt_index");
  auto spec = TinyModelVariant("llama_tied");
  spec->shards = 2;
  ASSERT_TRUE(WriteTinyModel(*spec, dir).ok());
  auto good = Checkpoint::Open(dir);
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_TRUE(good->sharded());
  EXPECT_EQ(good->tensor_bytes(), checkpoint_->tensor_bytes());
  const std::string index = ReadFile(dir + "/model.safetensors.index.json");
  auto with_index = [&](const std::string& text) {
    WriteFile(dir + "/model.safetensors.index.json", text);
    return Checkpoint::Open(dir).status();
  };
  // A tensor placed in the wrong shard.
  std::string moved = index;
  const size_t at = moved.find("\"model.norm.weight\": \"model-00002-of-00002");
  ASSERT_NE(at, std::string::npos);
  moved.replace(at + 28, 5, "00001");
  Status s = with_index(moved);
  EXPECT_EQ(s.code(), COMPASS_DATA_LOSS);
  EXPECT_NE(s.message().find("model.norm.weight"), std::string::npos) << s.message();
  // A shard that does not exist.
  std::string missing = index;
  missing.replace(missing.find("model-00002-of-00002"), 20, "model-00009-of-00002");
  s = with_index(missing);
  EXPECT_EQ(s.code(), COMPASS_IO);
  EXPECT_NE(s.message().find("model-00009-of-00002.safetensors"), std::string::npos);
  // A tensor a shard holds but the index does not list.
  std::string dropped = index;
  const size_t line = dropped.find("    \"model.layers.0.input_layernorm.weight\"");
  dropped.erase(line, dropped.find('\n', line) - line + 1);
  s = with_index(dropped);
  EXPECT_EQ(s.code(), COMPASS_DATA_LOSS);
  EXPECT_NE(s.message().find("not in the weight_map"), std::string::npos) << s.message();
  s = with_index("[]");
  EXPECT_EQ(s.code(), COMPASS_DATA_LOSS);
  std::filesystem::remove(dir + "/model.safetensors.index.json");
  s = Checkpoint::Open(dir).status();
  EXPECT_EQ(s.code(), COMPASS_NOT_FOUND);
}

}  // namespace
}  // namespace compass::model
