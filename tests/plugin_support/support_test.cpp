// Shared dataset code: Python's random, JSON Lines reading, few-shot
// selection and the Python text helpers.
#include "compass/plugin_support/fewshot.h"
#include "compass/plugin_support/jsonl.h"
#include "compass/plugin_support/python_random.h"
#include "compass/plugin_support/text.h"

#include "datasets/dataset_test_util.h"

#include <gtest/gtest.h>
#include <compass/plugin.hpp>

#include <string>
#include <vector>

namespace compass::plugin_support {
namespace {

// Expected numbers printed by CPython 3.11, e.g.
//   r = random.Random(1234); [r.getrandbits(32) for _ in range(3)]
TEST(DatasetRandomTest, MatchesCPythonOutputs) {
  PythonRandom zero(0);
  EXPECT_EQ(zero.next_u32(), 3626764237u);
  EXPECT_EQ(zero.next_u32(), 1654615998u);
  EXPECT_EQ(zero.next_u32(), 3255389356u);
  PythonRandom seeded(1234);
  EXPECT_EQ(seeded.next_u32(), 4150886329u);
  EXPECT_EQ(seeded.next_u32(), 3342196574u);
  EXPECT_EQ(seeded.next_u32(), 1892932127u);
  PythonRandom wide((uint64_t{1} << 40) + 5);  // a two-word seed key
  EXPECT_EQ(wide.next_u32(), 2166296868u);
  EXPECT_EQ(wide.next_u32(), 2220160828u);
  EXPECT_EQ(wide.next_u32(), 1153647273u);

  PythonRandom r42(42);  // [r.random() for _ in range(3)]
  EXPECT_EQ(r42.random(), 0.6394267984578837);
  EXPECT_EQ(r42.random(), 0.025010755222666936);
  EXPECT_EQ(r42.random(), 0.27502931836911926);
  PythonRandom bits(42);  // getrandbits(64), (40), (7)
  EXPECT_EQ(bits.getrandbits(64), 2053695854357871005u);
  EXPECT_EQ(bits.getrandbits(40), 811856239313u);
  EXPECT_EQ(bits.getrandbits(7), 35u);
}

TEST(DatasetRandomTest, SampleMatchesCPython) {
  PythonRandom r(1234);  // r.sample(range(100), 5), then r.sample(range(10), 3)
  EXPECT_EQ(r.sample(100, 5), (std::vector<size_t>{99, 56, 14, 0, 11}));
  EXPECT_EQ(r.sample(10, 3), (std::vector<size_t>{9, 0, 1}));
  PythonRandom big(7);  // set-based path: n > setsize
  EXPECT_EQ(big.sample(1000, 30),
            (std::vector<size_t>{331, 970, 154, 404, 666, 49,  74,  840, 548, 96,
                                 374, 596, 59,  931, 519, 219, 38,  88,  444, 428,
                                 71,  246, 92,  564, 434, 60,  846, 579, 126, 228}));
  PythonRandom pool(7);  // pool path with k > 5: setsize = 21 + 4**3
  EXPECT_EQ(pool.sample(40, 8), (std::vector<size_t>{20, 9, 25, 3, 4, 34, 6, 23}));
  PythonRandom all(99);  // sample(range(5), 5), _randbelow(1), _randbelow(1000)
  EXPECT_EQ(all.sample(5, 5), (std::vector<size_t>{3, 4, 0, 2, 1}));
  EXPECT_EQ(all.randbelow(1), 0u);
  EXPECT_EQ(all.randbelow(1000), 136u);
  PythonRandom c(0);  // r.choices(range(10), k=10)
  EXPECT_EQ(c.choices(10, 10), (std::vector<size_t>{8, 7, 4, 2, 5, 4, 7, 3, 4, 5}));
  EXPECT_THROW(c.sample(3, 4), std::invalid_argument);
}

TEST(DatasetFewshotTest, SamplesLikeLmEvalAndSkipsTheItem) {
  // Other split: sample(pool, 2) per document, one generator for the task.
  FewshotSampler other(1234, 8, 2, false);
  const auto never = [](size_t) { return false; };
  EXPECT_EQ(other.next(never), (std::vector<size_t>{7, 0}));
  EXPECT_EQ(other.next(never), (std::vector<size_t>{0, 7}));
  EXPECT_EQ(other.next(never), (std::vector<size_t>{0, 5}));
  // Same split: sample 3, drop the document, keep 2.
  FewshotSampler same(1234, 8, 2, true);
  PythonRandom reference(1234);
  const auto drawn = reference.sample(8, 3);
  const size_t doc = drawn[1];
  const auto shots = same.next([&](size_t i) { return i == doc; });
  EXPECT_EQ(shots, (std::vector<size_t>{drawn[0], drawn[2]}));
  // A draw without the document keeps the first two.
  const auto drawn2 = reference.sample(8, 3);
  EXPECT_EQ(same.next(never), (std::vector<size_t>{drawn2[0], drawn2[1]}));
  // No shots: nothing is drawn.
  FewshotSampler none(1, 8, 0, true);
  EXPECT_TRUE(none.next(never).empty());
}

TEST(DatasetFewshotTest, PoolTooSmallIsAnError) {
  EXPECT_NO_THROW(check_fewshot_pool(5, 5, false, "dev.jsonl"));
  EXPECT_NO_THROW(check_fewshot_pool(0, 0, true, "x"));
  const sdk::Error e = testing::error_of([] { check_fewshot_pool(5, 5, true, "dev.jsonl"); });
  EXPECT_EQ(e.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(std::string(e.what()),
            "num_shots = 5 but 'dev.jsonl' has 5 records (one is the item itself); use "
            "num_shots <= 4");
}

TEST(DatasetFewshotTest, ContextAssembly) {
  EXPECT_EQ(fewshot_context({{"Q: a", "1"}, {"Q: b", "2"}}, "Q: c"), "Q: a 1\n\nQ: b 2\n\nQ: c");
  EXPECT_EQ(fewshot_context({}, "Q: c"), "Q: c");
  // lm-eval adds neither delimiter after a shot whose target is empty.
  EXPECT_EQ(fewshot_context({{"x", ""}, {"y", "z"}}, "w", "=", "|"), "xy=z|w");
}

TEST(DatasetJsonlReaderTest, ParsesLinesAndSkipsBlankOnes) {
  const auto records =
      parse_jsonl("\xEF\xBB\xBF{\"a\": 1}\r\n\n   \n{\"b\": {\"c\": [\"x\", \"y\"]}}", "f.jsonl");
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].line, 1u);
  EXPECT_EQ(records[0].text, "{\"a\": 1}");
  EXPECT_EQ(records[1].line, 4u);
  EXPECT_EQ(*find_field(records[1].value, "b.c.1"), "y");
  EXPECT_EQ(find_field(records[1].value, "b.c.2"), nullptr);
  EXPECT_EQ(find_field(records[1].value, "b.d"), nullptr);
  EXPECT_EQ(require_string_list(records[1], "f.jsonl", "b.c"),
            (std::vector<std::string>{"x", "y"}));
}

std::string jsonl_error(std::string_view text) {
  const sdk::Error e = testing::error_of([&] { parse_jsonl(text, "data/f.jsonl"); });
  EXPECT_EQ(e.code(), COMPASS_DATA_LOSS);
  return e.what();
}

TEST(DatasetJsonlReaderTest, ErrorsNameFileAndLine) {
  EXPECT_EQ(jsonl_error("{\"a\": 1}\n{\"a\": }\n"),
            "data/f.jsonl:2: not valid JSON: column 7: syntax error while parsing value - "
            "unexpected '}'; expected '[', '{', or a literal");
  EXPECT_EQ(jsonl_error("{\"a\": 1}\n\n[1, 2]\n"),
            "data/f.jsonl:3: expected a JSON object, got an array");
  EXPECT_EQ(jsonl_error(""), "data/f.jsonl: empty file (no JSON lines)");
  EXPECT_EQ(jsonl_error("\n  \n"), "data/f.jsonl: empty file (no JSON lines)");
  EXPECT_NE(jsonl_error("{\"a\": \"\xC3\x28\"}").find("data/f.jsonl:1: not valid JSON:"),
            std::string::npos);
  // A number beyond double was an exception of another type, which escaped
  // the plugin as an internal error (found by fuzz/arc_fuzzer.cpp and
  // fuzz/hellaswag_fuzzer.cpp: fuzz/regressions/{arc,hellaswag}/).
  EXPECT_EQ(jsonl_error("{\"a\": 1}\n{\"a\": 1e999}\n"),
            "data/f.jsonl:2: not valid JSON: number overflow parsing '1e999'");

  const auto records = parse_jsonl("{\"a\": 1}", "f.jsonl");
  EXPECT_EQ(testing::error_message([&] { require_string(records[0], "f.jsonl", "a"); }),
            "f.jsonl:1: field 'a' must be a string, got an integer");
  EXPECT_EQ(testing::error_message([&] { require_field(records[0], "f.jsonl", "answerKey"); }),
            "f.jsonl:1: missing field 'answerKey'");
}

TEST(DatasetJsonlReaderTest, MissingFileIsNotFound) {
  EXPECT_EQ(testing::error_of([] { read_jsonl_file("/nonexistent/compass/x.jsonl"); }).code(),
            COMPASS_NOT_FOUND);
}

// Expected values from CPython 3.11 (str.lower, str.capitalize,
// len(re.split(r"\s+", t))).
TEST(DatasetTextTest, PythonCaseMappings) {
  EXPECT_EQ(python_lower("HeLLo WORLD 123"), "hello world 123");
  EXPECT_EQ(python_lower("\xC3\x89T\xC3\x89 \xC3\x97"), "\xC3\xA9t\xC3\xA9 \xC3\x97");  // ÉTÉ ×
  EXPECT_EQ(python_lower("\xC4\xB0"), "i\xCC\x87");  // İ -> i + U+0307
  EXPECT_EQ(python_lower("\xCE\xA3\xCE\x9F\xCE\xA6"), "\xCF\x83\xCE\xBF\xCF\x86");  // ΣΟΦ
  EXPECT_EQ(python_lower("\xD0\x9F\xD0\xA0\xD0\x98\xD0\x81"),
            "\xD0\xBF\xD1\x80\xD0\xB8\xD1\x91");  // ПРИЁ -> приё
  EXPECT_EQ(python_capitalize("the Man then STARTS"), "The man then starts");
  EXPECT_EQ(python_capitalize("\xC3\xA9lan GRACE"), "\xC3\x89lan grace");  // élan -> Élan
  EXPECT_EQ(python_capitalize("\xC3\x9F"), "Ss");
  EXPECT_EQ(python_capitalize("1ST"), "1st");
  EXPECT_EQ(python_capitalize(""), "");
}

TEST(DatasetTextTest, PythonWordCountAndReplace) {
  EXPECT_EQ(count_python_words("The cat sat."), 3u);
  EXPECT_EQ(count_python_words("  leading and trailing  "), 5u);
  EXPECT_EQ(count_python_words(""), 1u);
  EXPECT_EQ(count_python_words("a\xC2\xA0"
                               "b\n\t c"),
            3u);                                       // NBSP is \s in Python
  EXPECT_EQ(replace_all("a   b", "  ", " "), "a  b");  // one left-to-right pass
  EXPECT_EQ(replace_all("x [title] y", " [title]", ". "), "x.  y");
  EXPECT_EQ(to_valid_utf8("a\xFF"
                          "b\xC3\xA9"),
            "a\xEF\xBF\xBD"
            "b\xC3\xA9");
}

}  // namespace
}  // namespace compass::plugin_support
