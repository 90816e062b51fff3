#include "compass/plugin_support/options.h"
#include "compass/plugin_support/text.h"

#include "datasets/dataset_test_util.h"

#include <gtest/gtest.h>
#include <compass/plugin.hpp>

namespace compass::plugin_support {
namespace {

TEST(DatasetTextTest, PythonStripRemovesUnicodeWhitespace) {
  EXPECT_EQ(python_strip("  \t q \n"), "q");
  // U+0085 NEL ends a real MMLU question (sociology); Python strips it.
  EXPECT_EQ(python_strip("suggests that\xC2\x85"), "suggests that");
  EXPECT_EQ(python_strip("\xC2\xA0\xE3\x80\x80x y\xE2\x80\xA8\x1F"), "x y");
  EXPECT_EQ(python_strip("\xC3\xA9"), "\xC3\xA9");          // é is not whitespace
  EXPECT_EQ(python_strip("\xE2\x80\x8B"), "\xE2\x80\x8B");  // nor is U+200B
  EXPECT_EQ(python_strip(" \n "), "");
}

TEST(DatasetTextTest, Utf8) {
  EXPECT_EQ(count_code_points("a\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80"), 4u);
  EXPECT_EQ(find_invalid_utf8("ok \xC3\xA9"), std::string_view::npos);
  EXPECT_EQ(find_invalid_utf8("ab\xC0\xAF"), 2u);     // overlong '/'
  EXPECT_EQ(find_invalid_utf8("a\xED\xA0\x80"), 1u);  // surrogate
  EXPECT_EQ(find_invalid_utf8("abc\xE6\x97"), 3u);    // cut short
}

TEST(DatasetTextTest, ClosestMatch) {
  const std::vector<std::string> names = {"anatomy", "astronomy", "college_physics"};
  EXPECT_EQ(closest_match("anatomyy", names), "anatomy");
  EXPECT_EQ(closest_match("physics", names), "college_physics");
  EXPECT_EQ(closest_match("zzzzzzzz", names), "");
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(DatasetOptionsTest, TypedGetters) {
  const auto options = parse_options(R"({"s": "x", "l": ["a", "b"], "n": 3, "b": true})");
  EXPECT_EQ(get_string(options, "s"), "x");
  EXPECT_EQ(get_string_list(options, "l"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(get_int(options, "n"), 3);
  EXPECT_EQ(get_bool(options, "b"), true);
  EXPECT_EQ(get_string(options, "absent"), std::nullopt);
  EXPECT_TRUE(parse_options("").empty());
  const sdk::Error e = testing::error_of([&] { get_string_list(options, "s"); });
  EXPECT_EQ(e.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(e.what()).find("option 's' must be a list of strings"), std::string::npos);
  EXPECT_THROW(parse_options("[1]"), sdk::Error);
  EXPECT_THROW(parse_options("{bad"), sdk::Error);
}

}  // namespace
}  // namespace compass::plugin_support
