#include "gguf/gguf_file.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "gguf_builder.h"
#include "real_model.h"
#include "test_files.h"

namespace compass::gguf {
namespace {

using testing::GgufBuilder;

std::vector<uint8_t> F32Bytes(const std::vector<float>& v) {
  std::vector<uint8_t> out(v.size() * 4);
  std::memcpy(out.data(), v.data(), out.size());
  return out;
}

// A small valid file: metadata of several types and two F32 tensors.
GgufBuilder SmallFile() {
  GgufBuilder b;
  b.Str("general.architecture", "llama")
      .U32("llama.block_count", 2)
      .F32("llama.rope.freq_base", 10000.0f)
      .Bool("tokenizer.ggml.add_bos_token", true)
      .StrArray("tokenizer.ggml.tokens", {"a", "b", "ab"})
      .I32Array("tokenizer.ggml.token_type", {1, 1, 3})
      .Tensor("token_embd.weight", {4, 3}, 0, F32Bytes(std::vector<float>(12, 0.5f)))
      .Tensor("output_norm.weight", {4}, 0, F32Bytes({1, 2, 3, 4}));
  return b;
}

StatusOr<std::shared_ptr<const GgufFile>> ParseBytes(std::vector<uint8_t> bytes) {
  return GgufFile::Parse("model.gguf", std::move(bytes));
}

// A header with one tensor whose fields are written as given.
std::vector<uint8_t> OneTensorFile(uint32_t n_dims, std::vector<uint64_t> dims, uint32_t type,
                                   uint64_t offset, size_t data_bytes) {
  std::vector<uint8_t> out = {'G', 'G', 'U', 'F'};
  GgufBuilder::Put<uint32_t>(out, 3);
  GgufBuilder::Put<uint64_t>(out, 1);
  GgufBuilder::Put<uint64_t>(out, 0);
  GgufBuilder::PutString(out, "w");
  GgufBuilder::Put<uint32_t>(out, n_dims);
  for (uint64_t d : dims) GgufBuilder::Put<uint64_t>(out, d);
  GgufBuilder::Put<uint32_t>(out, type);
  GgufBuilder::Put<uint64_t>(out, offset);
  out.resize((out.size() + 31) / 32 * 32 + data_bytes, 0);
  return out;
}

void ExpectError(const StatusOr<std::shared_ptr<const GgufFile>>& result, Code code,
                 const std::string& fragment) {
  ASSERT_FALSE(result.ok()) << "expected an error containing: " << fragment;
  EXPECT_EQ(result.status().code(), code) << result.status().message();
  EXPECT_NE(result.status().message().find("model.gguf"), std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find(fragment), std::string::npos)
      << result.status().message();
}

TEST(GgufFile, ReadsMetadataAndTensors) {
  auto file = ParseBytes(SmallFile().Build());
  ASSERT_TRUE(file.ok()) << file.status().message();
  const GgufFile& f = **file;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.data_offset() % 32, 0u);
  EXPECT_EQ(*f.GetString("general.architecture"), "llama");
  EXPECT_EQ(*f.GetInt("llama.block_count"), 2);
  EXPECT_FLOAT_EQ(*f.GetFloat("llama.rope.freq_base"), 10000.0);
  EXPECT_FLOAT_EQ(*f.GetFloat("llama.block_count"), 2.0);  // integers read as numbers
  EXPECT_TRUE(*f.GetBool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(*f.GetStringArray("tokenizer.ggml.tokens"), (std::vector<std::string>{"a", "b", "ab"}));
  EXPECT_EQ(*f.GetIntArray("tokenizer.ggml.token_type"), (std::vector<int64_t>{1, 1, 3}));
  ASSERT_EQ(f.tensors().size(), 2u);
  const TensorInfo* embd = f.FindTensor("token_embd.weight");
  ASSERT_NE(embd, nullptr);
  EXPECT_EQ(embd->shape(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(embd->nbytes, 48u);
  const TensorInfo* norm = f.FindTensor("output_norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->offset % 32, 0u);
  float values[4];
  std::memcpy(values, f.data(*norm), 16);
  EXPECT_EQ(values[3], 4.0f);
  EXPECT_EQ(f.FindTensor("output.weight"), nullptr);
}

TEST(GgufFile, ReadsEveryValueTypeAndNestedArrays) {
  GgufBuilder b;
  auto raw = [](auto v) {
    std::vector<uint8_t> out;
    GgufBuilder::Put(out, v);
    return out;
  };
  b.Raw("u8", GgufBuilder::kU8, raw(uint8_t{200}))
      .Raw("i8", GgufBuilder::kI8, raw(int8_t{-5}))
      .Raw("u16", GgufBuilder::kU16, raw(uint16_t{60000}))
      .Raw("i16", GgufBuilder::kI16, raw(int16_t{-30000}))
      .Raw("i64", GgufBuilder::kI64, raw(int64_t{-1} << 40))
      .Raw("f64", GgufBuilder::kF64, raw(0.25))
      .U64("u64.big", ~uint64_t{0});
  // [[1, 2], [3]] as an array of arrays of INT32.
  std::vector<uint8_t> nested;
  GgufBuilder::Put<uint32_t>(nested, GgufBuilder::kArr);
  GgufBuilder::Put<uint64_t>(nested, 2);
  for (const std::vector<int32_t>& inner : {std::vector<int32_t>{1, 2}, std::vector<int32_t>{3}}) {
    GgufBuilder::Put<uint32_t>(nested, GgufBuilder::kI32);
    GgufBuilder::Put<uint64_t>(nested, inner.size());
    for (int32_t v : inner) GgufBuilder::Put(nested, v);
  }
  b.Raw("nested", GgufBuilder::kArr, nested);
  auto file = ParseBytes(b.Build());
  ASSERT_TRUE(file.ok()) << file.status().message();
  const GgufFile& f = **file;
  EXPECT_EQ(*f.GetInt("u8"), 200);
  EXPECT_EQ(*f.GetInt("i8"), -5);
  EXPECT_EQ(*f.GetInt("u16"), 60000);
  EXPECT_EQ(*f.GetInt("i16"), -30000);
  EXPECT_EQ(*f.GetInt("i64"), -(int64_t{1} << 40));
  EXPECT_EQ(*f.GetFloat("f64"), 0.25);
  // A UINT64 beyond int64 is not silently wrapped.
  EXPECT_EQ(f.GetInt("u64.big").status().code(), COMPASS_INVALID_ARGUMENT);
  const Value* v = f.Find("nested");
  ASSERT_NE(v, nullptr);
  ASSERT_EQ(v->type(), ValueType::kArray);
  ASSERT_EQ(v->element_type(), ValueType::kArray);
  ASSERT_EQ(v->as_array().size(), 2u);
  EXPECT_EQ(v->as_array()[0].as_array()[1].as_int(), 2);
  EXPECT_EQ(v->as_array()[1].as_array()[0].as_int(), 3);
}

TEST(GgufFile, TypedGettersNameTheKey) {
  auto file = ParseBytes(SmallFile().Build());
  ASSERT_TRUE(file.ok());
  const auto missing = (*file)->GetInt("llama.context_length");
  EXPECT_EQ(missing.status().code(), COMPASS_NOT_FOUND);
  EXPECT_NE(missing.status().message().find("'llama.context_length' is missing"),
            std::string::npos);
  const auto wrong = (*file)->GetString("llama.block_count");
  EXPECT_EQ(wrong.status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(wrong.status().message().find("'llama.block_count' has type UINT32, expected STRING"),
            std::string::npos)
      << wrong.status().message();
  const auto not_strings = (*file)->GetStringArray("tokenizer.ggml.token_type");
  EXPECT_NE(not_strings.status().message().find("ARRAY of INT32"), std::string::npos);
}

TEST(GgufFile, ReadsVersion2AndCustomAlignment) {
  GgufBuilder b(2);
  b.Alignment(64)
      .Tensor("a", {8}, 0, F32Bytes(std::vector<float>(8, 1)))
      .Tensor("b", {8}, 0, F32Bytes(std::vector<float>(8, 2)));
  auto file = ParseBytes(b.Build());
  ASSERT_TRUE(file.ok()) << file.status().message();
  EXPECT_EQ((*file)->version(), 2u);
  EXPECT_EQ((*file)->alignment(), 64u);
  EXPECT_EQ((*file)->FindTensor("b")->offset, 64u);
  EXPECT_EQ((*file)->data_offset() % 64, 0u);
}

TEST(GgufFile, RefusesBadMagic) {
  auto bytes = SmallFile().Build();
  bytes[0] = 'P';
  bytes[1] = 0x01;
  ExpectError(ParseBytes(bytes), COMPASS_DATA_LOSS, "not a GGUF file: it starts with 'P\\x01UF'");
  ExpectError(ParseBytes({'G', 'G'}), COMPASS_DATA_LOSS, "not a GGUF file");
}

TEST(GgufFile, RefusesUnsupportedVersions) {
  for (uint32_t version : {1u, 4u}) {
    auto bytes = GgufBuilder(version).Build();
    ExpectError(ParseBytes(bytes), COMPASS_UNSUPPORTED,
                "GGUF version " + std::to_string(version) + " is not supported");
  }
}

TEST(GgufFile, RefusesATruncatedFileAtEveryCut) {
  const auto bytes = SmallFile().Build();
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    auto result = ParseBytes(std::vector<uint8_t>(bytes.begin(), bytes.begin() + cut));
    ASSERT_FALSE(result.ok()) << "cut at " << cut;
    EXPECT_EQ(result.status().code(), COMPASS_DATA_LOSS) << result.status().message();
  }
  // Cut inside the data section: the error says so and names the tensor.
  ExpectError(ParseBytes(std::vector<uint8_t>(bytes.begin(), bytes.end() - 4)), COMPASS_DATA_LOSS,
              "tensor 'output_norm.weight'");
}

TEST(GgufFile, RefusesAStringLongerThanTheFile) {
  GgufBuilder b;
  std::vector<uint8_t> value;
  GgufBuilder::Put<uint64_t>(value, uint64_t{1} << 60);  // length
  value.insert(value.end(), {'l', 'l', 'a', 'm', 'a'});
  b.Raw("general.architecture", GgufBuilder::kStr, value);
  ExpectError(ParseBytes(b.Build()), COMPASS_DATA_LOSS,
              "metadata key 'general.architecture' at byte");
  ExpectError(ParseBytes(b.Build()), COMPASS_DATA_LOSS, "has length 1152921504606846976");
}

TEST(GgufFile, RefusesAnArrayCountLargerThanTheFile) {
  GgufBuilder b;
  std::vector<uint8_t> value;
  GgufBuilder::Put<uint32_t>(value, GgufBuilder::kStr);
  GgufBuilder::Put<uint64_t>(value, uint64_t{1} << 40);
  b.Raw("tokenizer.ggml.tokens", GgufBuilder::kArr, value);
  ExpectError(ParseBytes(b.Build()), COMPASS_DATA_LOSS,
              "metadata key 'tokenizer.ggml.tokens' at byte");
  ExpectError(ParseBytes(b.Build()), COMPASS_DATA_LOSS, "array count 1099511627776");
}

TEST(GgufFile, RefusesHugeCountsInTheHeader) {
  std::vector<uint8_t> bytes = {'G', 'G', 'U', 'F'};
  GgufBuilder::Put<uint32_t>(bytes, 3);
  GgufBuilder::Put<uint64_t>(bytes, 0);
  GgufBuilder::Put<uint64_t>(bytes, ~uint64_t{0});
  ExpectError(ParseBytes(bytes), COMPASS_DATA_LOSS, "metadata count 18446744073709551615");
  bytes.resize(8);
  GgufBuilder::Put<uint64_t>(bytes, uint64_t{1} << 50);
  GgufBuilder::Put<uint64_t>(bytes, 0);
  ExpectError(ParseBytes(bytes), COMPASS_DATA_LOSS, "tensor count 1125899906842624");
}

TEST(GgufFile, RefusesATensorPastTheEnd) {
  ExpectError(ParseBytes(OneTensorFile(1, {8}, 0, 64, 32)), COMPASS_DATA_LOSS,
              "tensor 'w' at data offset 64 with 32 bytes runs past the end of the file");
  ExpectError(ParseBytes(OneTensorFile(1, {8}, 0, ~uint64_t{0} - 31, 32)), COMPASS_DATA_LOSS,
              "runs past the end");
}

TEST(GgufFile, RefusesMisalignedData) {
  ExpectError(ParseBytes(OneTensorFile(1, {8}, 0, 4, 64)), COMPASS_DATA_LOSS,
              "tensor 'w' has offset 4, not a multiple of the alignment 32");
  GgufBuilder b;
  b.U32("general.alignment", 48);
  ExpectError(ParseBytes(b.Build()), COMPASS_DATA_LOSS, "not a power of two");
}

TEST(GgufFile, RefusesUnknownTensorTypesAndBadShapes) {
  ExpectError(ParseBytes(OneTensorFile(1, {8}, 99, 0, 32)), COMPASS_UNSUPPORTED,
              "tensor 'w' has unknown tensor type 99");
  ExpectError(ParseBytes(OneTensorFile(5, {1, 1, 1, 1, 1}, 0, 0, 32)), COMPASS_DATA_LOSS,
              "has 5 dimensions");
  ExpectError(ParseBytes(OneTensorFile(2, {8, 0}, 0, 0, 32)), COMPASS_DATA_LOSS, "dimension 1 = 0");
  ExpectError(ParseBytes(OneTensorFile(2, {uint64_t{1} << 40, uint64_t{1} << 40}, 0, 0, 32)),
              COMPASS_DATA_LOSS, "too large");
  // Q4_0 blocks hold 32 elements.
  ExpectError(ParseBytes(OneTensorFile(1, {16}, 2, 0, 32)), COMPASS_DATA_LOSS,
              "not a multiple of the Q4_0 block size 32");
}

TEST(GgufFile, RefusesDuplicatesAndOverlaps) {
  GgufBuilder dup_key;
  dup_key.U32("a", 1).U32("a", 2);
  ExpectError(ParseBytes(dup_key.Build()), COMPASS_DATA_LOSS, "metadata key 'a' appears twice");
  GgufBuilder dup_tensor;
  dup_tensor.Tensor("t", {8}, 0, F32Bytes(std::vector<float>(8)))
      .Tensor("t", {8}, 0, F32Bytes(std::vector<float>(8)));
  ExpectError(ParseBytes(dup_tensor.Build()), COMPASS_DATA_LOSS, "tensor name 't' appears twice");

  std::vector<uint8_t> overlap = {'G', 'G', 'U', 'F'};
  GgufBuilder::Put<uint32_t>(overlap, 3);
  GgufBuilder::Put<uint64_t>(overlap, 2);
  GgufBuilder::Put<uint64_t>(overlap, 0);
  for (const char* name : {"x", "y"}) {
    GgufBuilder::PutString(overlap, name);
    GgufBuilder::Put<uint32_t>(overlap, 1);
    GgufBuilder::Put<uint64_t>(overlap, 16);  // 64 bytes of F32
    GgufBuilder::Put<uint32_t>(overlap, 0);
    GgufBuilder::Put<uint64_t>(overlap, name[0] == 'x' ? 0 : 32);
  }
  overlap.resize((overlap.size() + 31) / 32 * 32 + 128, 0);
  ExpectError(ParseBytes(overlap), COMPASS_DATA_LOSS, "tensors 'x' and 'y' overlap");
}

TEST(GgufFile, RefusesDeeplyNestedArraysAndBadValues) {
  std::vector<uint8_t> value;
  for (int i = 0; i < 20; ++i) {
    GgufBuilder::Put<uint32_t>(value, GgufBuilder::kArr);
    GgufBuilder::Put<uint64_t>(value, 1);
  }
  GgufBuilder deep;
  deep.Raw("deep", GgufBuilder::kArr, value);
  ExpectError(ParseBytes(deep.Build()), COMPASS_DATA_LOSS, "nests arrays deeper than");
  GgufBuilder bad_bool;
  bad_bool.Raw("b", GgufBuilder::kBool, {7});
  ExpectError(ParseBytes(bad_bool.Build()), COMPASS_DATA_LOSS, "is a BOOL holding 7");
  GgufBuilder bad_type;
  bad_type.Raw("k", 13, {0, 0, 0, 0});
  ExpectError(ParseBytes(bad_type.Build()), COMPASS_DATA_LOSS,
              "metadata key 'k' has unknown value type 13");
}

TEST(GgufFile, OpenNamesAMissingFile) {
  auto result = GgufFile::Open("/nonexistent/model.gguf");
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), COMPASS_NOT_FOUND);
  EXPECT_NE(result.status().message().find("/nonexistent/model.gguf"), std::string::npos);
}

TEST(GgufFile, OpenMapsAFile) {
  const auto dir = testing::TempDir("gguf", "open");
  SmallFile().Write(dir / "m.gguf");
  auto file = GgufFile::Open((dir / "m.gguf").string());
  ASSERT_TRUE(file.ok()) << file.status().message();
  float values[4];
  std::memcpy(values, (*file)->data(*(*file)->FindTensor("output_norm.weight")), 16);
  EXPECT_EQ(values[1], 2.0f);
  EXPECT_TRUE(IsGgufPath("a/B.GGUF"));
  EXPECT_FALSE(IsGgufPath("a/model"));
}

// 1,000 random mutations of a valid file: each parses or fails with an
// error; none crashes, hangs or allocates without bound (run under
// AddressSanitizer in the hardened build).
TEST(GgufFile, RandomMutationsGiveErrorsNeverCrashes) {
  const auto valid = SmallFile().Build();
  std::mt19937_64 rng(20261201);
  int errors = 0;
  for (int round = 0; round < 1000; ++round) {
    std::vector<uint8_t> bytes = valid;
    const int kind = static_cast<int>(rng() % 4);
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t at = rng() % bytes.size();
      switch (kind) {
        case 0:  // flip a byte
          bytes[at] ^= static_cast<uint8_t>(1 + rng() % 255);
          break;
        case 1: {  // a large little-endian integer where a count or length may be
          const uint64_t v = rng() >> (rng() % 64);
          for (size_t i = 0; i < 8 && at + i < bytes.size(); ++i)
            bytes[at + i] = uint8_t(v >> (8 * i));
          break;
        }
        case 2:  // truncate
          bytes.resize(at);
          break;
        default:  // insert junk
          bytes.insert(bytes.begin() + static_cast<long>(at), static_cast<uint8_t>(rng()));
          break;
      }
      if (bytes.empty()) break;
    }
    auto result = ParseBytes(bytes);
    if (!result.ok()) {
      ++errors;
      EXPECT_NE(result.status().message().find("model.gguf"), std::string::npos);
    }
  }
  // Most mutations must be caught (the rest hit padding or tensor values).
  EXPECT_GT(errors, 600);
}

TEST(GgufFile, ReadsTheRealModelHeader) {
  const std::string path = testing::RealModelPath();
  ASSERT_FALSE(path.empty()) << testing::kRealModelHint;
  auto file = GgufFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status().message();
  const GgufFile& f = **file;
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.tensors().size(), 272u);
  EXPECT_EQ(*f.GetString("general.architecture"), "llama");
  EXPECT_EQ(*f.GetInt("llama.block_count"), 30);
  EXPECT_EQ(f.GetStringArray("tokenizer.ggml.tokens")->size(), 49152u);
  const TensorInfo* q = f.FindTensor("blk.0.attn_q.weight");
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(TypeName(q->type), "Q4_1");
  EXPECT_EQ(q->shape(), (std::vector<int64_t>{576, 576}));
  EXPECT_EQ(TypeName(f.FindTensor("token_embd.weight")->type), "Q8_0");
  EXPECT_EQ(f.FindTensor("output.weight"), nullptr);  // tied embeddings
}

}  // namespace
}  // namespace compass::gguf
