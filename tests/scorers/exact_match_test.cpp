#include "compass/scorers/exact_match.h"
#include "compass/plugin_support/regex.h"

#include "scorer_test_util.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace compass::scorers::exact_match {
namespace {

using namespace compass::testing;
using plugin_support::Regex;

double match(const std::string& options, const std::string& reference, const std::string& out) {
  const Normalizer normalize(parse_options(options));
  const GenerateCase c({reference}, out);
  return score(normalize, c.item, c.output).value;
}

// Expected values checked against lm-eval's exact_match_hf_evaluate run in
// Python on the same strings (with str.strip() first where strip is on).
TEST(ExactMatchTest, StripIsOnByDefault) {
  EXPECT_EQ(match("{}", "Paris", " Paris\n"), 1);
  EXPECT_EQ(match(R"({"strip": false})", "Paris", " Paris\n"), 0);  // lm-eval's plain compare
  EXPECT_EQ(match("{}", "Paris", "paris"), 0);
  EXPECT_EQ(match("", "Paris", "Paris"), 1);
}

TEST(ExactMatchTest, CasePunctuationNumbers) {
  EXPECT_EQ(match(R"({"ignore_case": true})", "paris", "PARIS"), 1);
  EXPECT_EQ(match(R"({"ignore_case": true})",
                  "\xC3\xBCn\xC3\xAF"
                  "code",
                  "\xC3\x9Cn\xC3\xAF"
                  "code"),
            1);  // Ünïcode
  EXPECT_EQ(match(R"({"ignore_punctuation": true})", "Paris.", "Paris!"), 1);
  EXPECT_EQ(match(R"({"ignore_punctuation": true})", "xyz", "x-y_z"), 1);
  EXPECT_EQ(match("{}", "Paris.", "Paris!"), 0);
  EXPECT_EQ(match(R"({"ignore_numbers": true})", "Room 7", "Room 101"), 1);
  EXPECT_EQ(match(R"({"ignore_numbers": true, "strip": false})", "Room", "Room 101"), 0);
  EXPECT_EQ(remove_punctuation("a!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~b\xC2\xBF"), "ab\xC2\xBF");
  EXPECT_EQ(remove_digits("a1b2c3"), "abc");
}

TEST(ExactMatchTest, RegexesToIgnoreInOrder) {
  EXPECT_EQ(match(R"({"regexes_to_ignore": ["^The answer is "]})", "Paris", "The answer is Paris"),
            1);
  EXPECT_EQ(match(R"({"regexes_to_ignore": ["X*"]})", "ab", "aXbX"), 1);
  const Normalizer n(parse_options(R"({"regexes_to_ignore": ["a", "b+"], "ignore_case": true})"));
  EXPECT_EQ(n("AabBbc"), "abc");  // regexes run before lower-casing: "B" survives them
}

TEST(ExactMatchTest, AnyReferenceMatches) {
  const Normalizer normalize(parse_options(R"({"ignore_case": true})"));
  const GenerateCase c({"Rome", "paris"}, "Paris");
  const Result result = score(normalize, c.item, c.output);
  EXPECT_EQ(result.value, 1);
  EXPECT_EQ(result.prediction, "paris");
  const GenerateCase miss({"Rome", "Milan"}, "Paris");
  EXPECT_EQ(score(normalize, miss.item, miss.output).value, 0);
}

TEST(ExactMatchTest, BadOptionsAndItems) {
  const sdk::Error e = error_of([] { parse_options(R"({"regexes_to_ignore": ["(unclosed"]})"); });
  EXPECT_EQ(e.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(e.what()).rfind("invalid regular expression '(unclosed': ", 0), 0u)
      << e.what();
  // The Normalizer compiles them too when built from hand-made options.
  Options bad;
  bad.regexes_to_ignore = {"a)"};
  EXPECT_THROW(Normalizer{bad}, sdk::Error);
  EXPECT_THROW(parse_options(R"({"ignore_case": "yes"})"), sdk::Error);
  EXPECT_THROW(parse_options("[1]"), sdk::Error);
  const Normalizer normalize(Options{});
  GenerateCase rolling({"a"}, "a");
  rolling.item.kind = COMPASS_ITEM_ROLLING;
  EXPECT_THROW(score(normalize, rolling.item, rolling.output), sdk::Error);
  GenerateCase none({}, "a");
  EXPECT_THROW(score(normalize, none.item, none.output), sdk::Error);
}

// Python re semantics, values from CPython: re.sub("x*", "-", "abxd") ==
// "-a-b--d-"; re.findall("(a)|(b)", "ab") == [("a", ""), ("", "b")].
TEST(ExactMatchTest, RegexFollowsPythonIteration) {
  EXPECT_EQ(Regex("x*").replace_all("abxd", "-"), "-a-b--d-");
  EXPECT_EQ(Regex("(a)|(b)").find_all("ab"),
            (std::vector<std::vector<std::string>>{{"a", ""}, {"", "b"}}));
  EXPECT_EQ(Regex("\\d+").find_all("a12b\xD9\xA3"),  // Arabic-Indic 3 is \d in Python
            (std::vector<std::vector<std::string>>{{"12"}, {"\xD9\xA3"}}));
  EXPECT_EQ(Regex("\\.$").replace_all("3.\n"), "3\n");
  EXPECT_EQ(Regex("(?s).*#### ").replace_all("a\n#### b\n#### 7"), "7");
}

}  // namespace
}  // namespace compass::scorers::exact_match
