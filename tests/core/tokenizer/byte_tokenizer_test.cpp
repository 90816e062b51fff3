#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tokenizer/tokenizer.h"

namespace compass {
namespace {

TEST(ByteTokenizer, RoundTripsAnyUtf8) {
  ByteTokenizer t;
  const std::string text = "Héllo, 世界 🙂\n\t";
  const auto ids = t.Encode(text);
  EXPECT_EQ(ids.size(), text.size());
  EXPECT_EQ(ids[1], 0xC3);
  EXPECT_EQ(*t.Decode(ids.data(), ids.size()), text);
}

TEST(ByteTokenizer, SpecialTokensDecodeToNothingAndBadIdsFail) {
  ByteTokenizer t;
  const int32_t ids[] = {ByteTokenizer::kBos, 'a', ByteTokenizer::kEos};
  EXPECT_EQ(*t.Decode(ids, 3), "a");
  const int32_t bad[] = {300};
  EXPECT_FALSE(t.Decode(bad, 1).ok());
}

TEST(LoadTokenizer, KindsAndMissingFiles) {
  EXPECT_EQ((*LoadTokenizer("bytes", "/nonexistent"))->name(), "bytes");
  auto missing = LoadTokenizer("auto", "/nonexistent");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("tokenizer.json"), std::string::npos);
  EXPECT_FALSE(LoadTokenizer("sentencepiece?", "/").ok());
}

}  // namespace
}  // namespace compass
