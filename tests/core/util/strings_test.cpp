#include "util/strings.h"

#include <gtest/gtest.h>

namespace compass {
namespace {

TEST(Strings, EditDistance) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(EditDistance("", "abc"), 3u);
  EXPECT_EQ(EditDistance("same", "same"), 0u);
  EXPECT_EQ(EditDistance("modle", "model"), 1u);
}

TEST(Strings, DidYouMeanOnlyForCloseWords) {
  const std::vector<std::string> keys = {"model", "backend", "task", "run"};
  EXPECT_EQ(DidYouMean("modle", keys), " (did you mean 'model'?)");
  EXPECT_EQ(DidYouMean("backedn", keys), " (did you mean 'backend'?)");
  EXPECT_EQ(DidYouMean("zzzzzz", keys), "");
}

TEST(Strings, ParseByteSize) {
  EXPECT_EQ(*ParseByteSize("40GiB"), 40ull << 30);
  EXPECT_EQ(*ParseByteSize("80 GB"), 80'000'000'000ull);
  EXPECT_EQ(*ParseByteSize("1.5 KiB"), 1536ull);
  EXPECT_EQ(*ParseByteSize("123"), 123ull);
  EXPECT_EQ(*ParseByteSize("512mib"), 512ull << 20);
  auto bad = ParseByteSize("40 GiBs");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("unknown unit 'gibs'"), std::string::npos);
  EXPECT_FALSE(ParseByteSize("lots").ok());
  EXPECT_FALSE(ParseByteSize("").ok());
}

TEST(Strings, ParseByteSizeRefusesWhatDoesNotFit) {
  // Wrapping would turn these into small sizes (or 0) that plans then trust.
  for (const char* huge : {"99999999999999999999999TB", "16EiB0", "18446744073709551616",
                           "20000000000000000000000 KiB", "1e400"}) {
    auto r = ParseByteSize(huge);
    EXPECT_FALSE(r.ok()) << huge << " gave " << (r.ok() ? *r : 0);
  }
  auto r = ParseByteSize("99999999999999999999999TB");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("'99999999999999999999999TB' is too large"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(*ParseByteSize("18446744073709549568"), 18446744073709549568ull);  // 2^64 - 2^11
}

TEST(Strings, FormatBytes) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(40ull << 30), "40.0 GiB");
  EXPECT_EQ(FormatBytes(1536), "1.5 KiB");
}

TEST(Strings, SplitAndTrim) {
  EXPECT_EQ(Split("a::b", ':'), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(Trim("  x y \n"), "x y");
  EXPECT_EQ(Join({"a", "b"}), "a, b");
}

}  // namespace
}  // namespace compass
