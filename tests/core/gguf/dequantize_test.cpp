// Dequantization against gguf-py's reference goldens
// (scripts/goldens/make_gguf_dequant_goldens.py), the half and bfloat16
// conversions on special values, and the errors for sizes and types.
#include "gguf/dequantize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace compass::gguf {
namespace {

using nlohmann::json;

const json& Goldens() {
  static const json goldens = [] {
    const auto path = std::filesystem::path(COMPASS_SOURCE_DIR) / "tests" / "fixtures" / "gguf" /
                      "dequant_goldens.json";
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      throw std::runtime_error(path.string() +
                               " is missing (scripts/goldens/make_gguf_dequant_goldens.py)");
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    return json::parse(buffer.str());
  }();
  return goldens;
}

const json& Golden(const std::string& name) {
  for (const json& entry : Goldens().at("types")) {
    if (entry.at("name") == name) return entry;
  }
  throw std::runtime_error("no golden for " + name);
}

std::vector<uint8_t> FromHex(const std::string& hex) {
  std::vector<uint8_t> bytes(hex.size() / 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    bytes[i] = static_cast<uint8_t>(std::stoi(hex.substr(2 * i, 2), nullptr, 16));
  }
  return bytes;
}

uint32_t Bits(float f) {
  return std::bit_cast<uint32_t>(f);
}

const std::vector<std::string> kTypes = {"F32",  "F16",  "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0",
                                         "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"};

class GoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Dequantizes the golden's bytes, placed `offset` bytes into a buffer so
  // that blocks and their fields are misaligned for odd offsets.
  std::vector<float> Run(size_t offset) {
    const json& g = Golden(GetParam());
    const std::vector<uint8_t> data = FromHex(g.at("data_hex").get<std::string>());
    std::vector<uint8_t> buffer(offset + data.size());
    if (!data.empty()) std::memcpy(buffer.data() + offset, data.data(), data.size());
    const int64_t count = g.at("count").get<int64_t>();
    std::vector<float> out(static_cast<size_t>(count), -1.0f);
    const Status st = Dequantize(static_cast<GgmlType>(g.at("type").get<uint32_t>()),
                                 buffer.data() + offset, data.size(), count, out.data());
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }

  // Every float must equal gguf-py's bit for bit: each element is an exact
  // product of a half scale and small integers, rounded at most once (by a
  // final add of an offset, or Q6_K's three-factor product), so the result is
  // the same whatever the order of operations or use of fused multiply-adds.
  void Check(const std::vector<float>& got) {
    const json& g = Golden(GetParam());
    const auto expected = g.at("expected_bits").get<std::vector<uint32_t>>();
    ASSERT_EQ(got.size(), expected.size());
    int mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      const float want = std::bit_cast<float>(expected[i]);
      ASSERT_FALSE(std::isnan(want)) << "golden " << i << " is NaN";
      if (Bits(got[i]) != expected[i] && ++mismatches <= 8) {
        ADD_FAILURE() << GetParam() << " element " << i << ": expected " << want << " (0x"
                      << std::hex << expected[i] << "), got " << got[i] << " (0x" << Bits(got[i])
                      << ")" << std::dec;
      }
    }
    EXPECT_EQ(mismatches, 0) << "of " << got.size() << " elements";
  }
};

TEST_P(GoldenTest, MatchesReference) {
  Check(Run(0));
}

TEST_P(GoldenTest, MatchesReferenceUnaligned) {
  Check(Run(1));
}

INSTANTIATE_TEST_SUITE_P(Types, GoldenTest, ::testing::ValuesIn(kTypes),
                         [](const auto& info) { return info.param; });

TEST(DequantizeGoldens, CoverEveryReadableType) {
  EXPECT_EQ(Goldens().at("types").size(), kTypes.size());
  // DequantizableTypeNames lists the types in enum order; compare as sets.
  std::vector<std::string> readable;
  std::stringstream list(DequantizableTypeNames());
  for (std::string name; std::getline(list >> std::ws, name, ',');) readable.push_back(name);
  std::vector<std::string> sorted_readable = readable, sorted_types = kTypes;
  std::sort(sorted_readable.begin(), sorted_readable.end());
  std::sort(sorted_types.begin(), sorted_types.end());
  EXPECT_EQ(sorted_readable, sorted_types) << DequantizableTypeNames();
  for (const std::string& name : kTypes) {
    const json& g = Golden(name);
    const auto traits = TypeTraits(g.at("type").get<uint32_t>());
    ASSERT_TRUE(traits.has_value()) << name;
    EXPECT_EQ(traits->name, name);
    EXPECT_TRUE(traits->dequantizable) << name;
  }
}

std::vector<float> FromHalves(GgmlType type, const std::vector<uint16_t>& halves) {
  std::vector<uint8_t> bytes;
  for (uint16_t h : halves) {
    bytes.push_back(static_cast<uint8_t>(h & 0xFF));
    bytes.push_back(static_cast<uint8_t>(h >> 8));
  }
  std::vector<float> out(halves.size());
  const Status st =
      Dequantize(type, bytes.data(), bytes.size(), static_cast<int64_t>(out.size()), out.data());
  EXPECT_TRUE(st.ok()) << st.ToString();
  return out;
}

TEST(Dequantize, HalfSpecialValues) {
  struct Case {
    uint16_t half;
    uint32_t float_bits;
  };
  const Case cases[] = {
      {0x0000, 0x00000000},  // +0
      {0x8000, 0x80000000},  // -0
      {0x0001, 0x33800000},  // smallest subnormal, 2^-24
      {0x8001, 0xB3800000},  // -2^-24
      {0x0200, 0x38000000},  // 2^-15
      {0x03FF, 0x387FC000},  // largest subnormal, 1023 * 2^-24
      {0x0400, 0x38800000},  // smallest normal, 2^-14
      {0x3C00, 0x3F800000},  // 1
      {0x3555, 0x3EAAA000},  // 0.333251953125
      {0xC000, 0xC0000000},  // -2
      {0x7BFF, 0x477FE000},  // largest finite, 65504
      {0xFBFF, 0xC77FE000},  // -65504
      {0x7C00, 0x7F800000},  // +inf
      {0xFC00, 0xFF800000},  // -inf
  };
  std::vector<uint16_t> halves;
  for (const Case& c : cases) halves.push_back(c.half);
  const std::vector<float> out = FromHalves(GgmlType::kF16, halves);
  for (size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(Bits(out[i]), cases[i].float_bits)
        << std::hex << "half 0x" << cases[i].half << " gave " << out[i];
  }
  EXPECT_EQ(out[10], 65504.0f);
  EXPECT_EQ(out[12], std::numeric_limits<float>::infinity());
  EXPECT_EQ(out[2], std::ldexp(1.0f, -24));

  // NaNs stay NaN with their sign; a signalling one comes back quiet.
  const std::vector<float> nans = FromHalves(GgmlType::kF16, {0x7E00, 0xFE00, 0x7C01});
  EXPECT_EQ(Bits(nans[0]), 0x7FC00000u);
  EXPECT_EQ(Bits(nans[1]), 0xFFC00000u);
  EXPECT_TRUE(std::isnan(nans[2]));
  EXPECT_EQ(Bits(nans[2]), 0x7FC02000u);
}

TEST(Dequantize, EveryHalfMatchesItsValue) {
  // Every finite half is sign * mantissa * 2^exponent; check each against
  // that value computed in double.
  std::vector<uint16_t> halves(1 << 16);
  for (uint32_t h = 0; h < halves.size(); ++h) halves[h] = static_cast<uint16_t>(h);
  const std::vector<float> out = FromHalves(GgmlType::kF16, halves);
  for (uint32_t h = 0; h < halves.size(); ++h) {
    const int exponent = (h >> 10) & 0x1F;
    const int mantissa = h & 0x3FF;
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    if (exponent == 0x1F) {
      ASSERT_EQ(std::isnan(out[h]), mantissa != 0) << std::hex << h;
      if (mantissa == 0) ASSERT_EQ(out[h], sign * std::numeric_limits<float>::infinity());
      continue;
    }
    const double value =
        exponent == 0 ? std::ldexp(mantissa, -24) : std::ldexp(1024 + mantissa, exponent - 25);
    ASSERT_EQ(static_cast<double>(out[h]), sign * value) << std::hex << h;
    ASSERT_EQ(std::signbit(out[h]), (h & 0x8000) != 0) << std::hex << h;
  }
}

TEST(Dequantize, BFloat16SpecialValues) {
  const std::vector<uint16_t> halves = {0x0000, 0x8000, 0x0001, 0x3F80, 0xC040,
                                        0x7F7F, 0x7F80, 0xFF80, 0x7FC1};
  const std::vector<float> out = FromHalves(GgmlType::kBF16, halves);
  for (size_t i = 0; i < halves.size(); ++i) {
    // bfloat16 is the top half of a float32, NaN payloads included.
    EXPECT_EQ(Bits(out[i]), static_cast<uint32_t>(halves[i]) << 16) << i;
  }
  EXPECT_EQ(out[3], 1.0f);
  EXPECT_EQ(out[4], -3.0f);
}

TEST(Dequantize, ZeroElements) {
  EXPECT_TRUE(Dequantize(GgmlType::kQ4_K, nullptr, 0, 0, nullptr).ok());
  EXPECT_TRUE(Dequantize(GgmlType::kF32, nullptr, 0, 0, nullptr).ok());
}

void ExpectError(const Status& st, Code code, const std::string& type_name) {
  EXPECT_EQ(st.code(), code) << st.ToString();
  EXPECT_NE(st.message().find(type_name), std::string::npos) << st.ToString();
}

TEST(Dequantize, SizeMismatch) {
  std::vector<uint8_t> data(2 * 144 + 1);
  std::vector<float> out(512);
  // Q4_K: 512 elements are 2 blocks of 144 bytes.
  EXPECT_TRUE(Dequantize(GgmlType::kQ4_K, data.data(), 288, 512, out.data()).ok());
  ExpectError(Dequantize(GgmlType::kQ4_K, data.data(), 287, 512, out.data()),
              COMPASS_INVALID_ARGUMENT, "Q4_K");
  ExpectError(Dequantize(GgmlType::kQ4_K, data.data(), 289, 512, out.data()),
              COMPASS_INVALID_ARGUMENT, "Q4_K");
  ExpectError(Dequantize(GgmlType::kF16, data.data(), 7, 4, out.data()), COMPASS_INVALID_ARGUMENT,
              "F16");
  // A count whose byte size overflows.
  ExpectError(Dequantize(GgmlType::kQ8_0, data.data(), data.size(),
                         std::numeric_limits<int64_t>::max() / 32 * 32, out.data()),
              COMPASS_INVALID_ARGUMENT, "Q8_0");
}

TEST(Dequantize, CountNotMultipleOfBlock) {
  std::vector<uint8_t> data(2 * 210);
  std::vector<float> out(512);
  const Status st = Dequantize(GgmlType::kQ6_K, data.data(), data.size(), 500, out.data());
  ExpectError(st, COMPASS_INVALID_ARGUMENT, "Q6_K");
  EXPECT_NE(st.message().find("256"), std::string::npos) << st.ToString();
  ExpectError(Dequantize(GgmlType::kQ4_0, data.data(), 18, 31, out.data()),
              COMPASS_INVALID_ARGUMENT, "Q4_0");
  ExpectError(Dequantize(GgmlType::kQ4_0, data.data(), 0, -32, out.data()),
              COMPASS_INVALID_ARGUMENT, "Q4_0");
}

TEST(Dequantize, UnsupportedTypes) {
  std::vector<uint8_t> data(4096);
  std::vector<float> out(256);
  for (GgmlType type :
       {GgmlType::kIQ2_XXS, GgmlType::kQ8_K, GgmlType::kQ8_1, GgmlType::kI32, GgmlType::kMXFP4}) {
    const auto traits = TypeTraits(static_cast<uint32_t>(type));
    ASSERT_TRUE(traits.has_value());
    const int64_t count = traits->block_size;
    const Status st =
        Dequantize(type, data.data(), static_cast<size_t>(traits->block_bytes), count, out.data());
    ExpectError(st, COMPASS_UNSUPPORTED, traits->name);
    EXPECT_EQ(st.message(),
              std::string(traits->name) +
                  " tensors cannot be read; readable types: " + DequantizableTypeNames());
  }
  // A value ggml does not define (4 was Q4_2, since removed).
  ExpectError(Dequantize(static_cast<GgmlType>(4), data.data(), 18, 32, out.data()),
              COMPASS_UNSUPPORTED, "type 4");
}

}  // namespace
}  // namespace compass::gguf
