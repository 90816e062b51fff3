#include "compass/datasets/mmlu.h"

#include "dataset_test_util.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace compass::datasets::mmlu {
namespace {

using namespace compass::testing;
namespace fs = std::filesystem;

// Fixture slice of the real MMLU: abstract_algebra and college_computer_science,
// full dev files and the first 10 test rows.
const fs::path kFixture = fs::path(COMPASS_SOURCE_DIR) / "tests/fixtures/mmlu";

Config config(std::vector<std::string> subjects = {}, uint32_t shots = 0, uint64_t limit = 0,
              fs::path root = kFixture) {
  Config c;
  c.root = std::move(root);
  c.num_shots = shots;
  c.limit = limit;
  c.options.subjects = std::move(subjects);
  return c;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A scratch MMLU folder with one subject "x" whose test file is `test_csv`.
TempDir mmlu_folder(const std::string& test_csv, const std::string& dev_csv = "") {
  TempDir dir("mmlu");
  dir.write("test/x_test.csv", test_csv);
  dir.write("dev/x_dev.csv", dev_csv);
  return dir;
}

TEST(MmluTest, ReadsRealRowsWithQuotesCommasAndNewlines) {
  const auto algebra = read_questions(kFixture / "test/abstract_algebra_test.csv");
  ASSERT_EQ(algebra.size(), 10u);
  EXPECT_EQ(algebra[2].choices, (std::array<std::string, 4>{"0", "1", "0,1", "0,4"}));
  EXPECT_EQ(algebra[2].answer, 3);
  const auto cs = read_questions(kFixture / "test/college_computer_science_test.csv");
  ASSERT_EQ(cs.size(), 10u);
  // Row 2 spans lines 3-8 (newlines inside the quoted question).
  EXPECT_EQ(cs[2].line, 3u);
  EXPECT_EQ(cs[3].line, 9u);
  EXPECT_EQ(cs[9].line, 21u);
  EXPECT_TRUE(contains(cs[2].question, "components:\ndisk seek time-25 msec\n"));
}

TEST(MmluTest, ZeroShotPromptMatchesLmEval) {
  const Mmlu data(config({"abstract_algebra"}));
  const auto items = all_items(data);
  ASSERT_EQ(items.size(), 10u);
  const sdk::Item& item = items[2];
  EXPECT_EQ(item.context,
            "The following are multiple choice questions (with answers) about abstract algebra.\n"
            "\n"
            "Find all zeros in the indicated finite field of the given polynomial with "
            "coefficients in that field. x^5 + 3x^3 + x^2 + 2x in Z_5\n"
            "A. 0\n"
            "B. 1\n"
            "C. 0,1\n"
            "D. 0,4\n"
            "Answer:");
  EXPECT_EQ(item.id, "abstract_algebra/test/2");
  EXPECT_EQ(item.group, "abstract_algebra");
  EXPECT_EQ(item.kind, COMPASS_ITEM_MULTIPLE_CHOICE);
  EXPECT_EQ(item.choices, (std::vector<std::string>{" A", " B", " C", " D"}));
  EXPECT_EQ(item.gold, 3);
  EXPECT_EQ(item.doc_json,
            R"({"subject":"abstract_algebra","question":"Find all zeros in the indicated finite )"
            R"(field of the given polynomial with coefficients in that field. x^5 + 3x^3 + x^2 + )"
            R"(2x in Z_5","choices":["0","1","0,1","0,4"],"answer":"D"})");
}

TEST(MmluTest, TwoShotPromptMatchesLmEval) {
  const Mmlu data(config({"abstract_algebra"}, 2));
  const auto items = all_items(data);
  ASSERT_EQ(items.size(), 10u);
  EXPECT_EQ(items[2].context,
            "The following are multiple choice questions (with answers) about abstract algebra.\n"
            "\n"
            "Find all c in Z_3 such that Z_3[x]/(x^2 + c) is a field.\n"
            "A. 0\n"
            "B. 1\n"
            "C. 2\n"
            "D. 3\n"
            "Answer: B\n"
            "\n"
            "Statement 1 | If aH is an element of a factor group, then |aH| divides |a|. "
            "Statement 2 | If H and K are subgroups of G then HK is a subgroup of G.\n"
            "A. True, True\n"
            "B. False, False\n"
            "C. True, False\n"
            "D. False, True\n"
            "Answer: B\n"
            "\n"
            "Find all zeros in the indicated finite field of the given polynomial with "
            "coefficients in that field. x^5 + 3x^3 + x^2 + 2x in Z_5\n"
            "A. 0\n"
            "B. 1\n"
            "C. 0,1\n"
            "D. 0,4\n"
            "Answer:");
}

TEST(MmluTest, TwoShotPromptWithMultiLineShot) {
  const Mmlu data(config({"college_computer_science"}, 2));
  const auto items = all_items(data);
  ASSERT_EQ(items.size(), 10u);
  EXPECT_EQ(items[4].context,
            "The following are multiple choice questions (with answers) about college computer "
            "science.\n"
            "\n"
            "Which of the following regular expressions is equivalent to (describes the same set "
            "of strings as) (a* + b)*(c + d)?\n"
            "A. a*(c + d)+ b(c + d)\n"
            "B. a*(c + d)* + b(c + d)*\n"
            "C. a*(c + d)+ b*(c + d)\n"
            "D. (a + b)*c +(a + b)*d\n"
            "Answer: D\n"
            "\n"
            "A certain pipelined RISC machine has 8 general-purpose registers R0, R1, . . . , R7 "
            "and supports the following operations.\n"
            "ADD Rs1, Rs2, Rd Add Rs1 to Rs2 and put the sum in Rd\n"
            "MUL Rs1, Rs2, Rd Multiply Rs1 by Rs2 and put the product in Rd\n"
            "An operation normally takes one cycle; however, an operation takes two cycles if it "
            "produces a result required by the immediately following operation in an operation "
            "sequence. Consider the expression AB + ABC + BC, where variables A, B, C are located "
            "in registers R0, R1, R2. If the contents of these three registers must not be "
            "modified, what is the minimum number of clock cycles required for an operation "
            "sequence that computes the value of AB + ABC + BC?\n"
            "A. 5\n"
            "B. 6\n"
            "C. 7\n"
            "D. 8\n"
            "Answer: B\n"
            "\n"
            "Any set of Boolean operators that is sufficient to represent all Boolean expressions "
            "is said to be complete. Which of the following is NOT complete?\n"
            "A. {AND, NOT}\n"
            "B. {NOT, OR}\n"
            "C. {AND, OR}\n"
            "D. {NAND}\n"
            "Answer:");
  EXPECT_EQ(items[4].gold, 2);
  EXPECT_EQ(items[4].id, "college_computer_science/test/4");
}

TEST(MmluTest, DefaultSubjectsAreAllOfTestSorted) {
  const Mmlu data(config());
  EXPECT_EQ(data.subjects(),
            (std::vector<std::string>{"abstract_algebra", "college_computer_science"}));
  const auto items = all_items(data);
  ASSERT_EQ(items.size(), 20u);
  EXPECT_EQ(data.size(), 20u);
  EXPECT_EQ(items[0].id, "abstract_algebra/test/0");
  EXPECT_EQ(items[9].id, "abstract_algebra/test/9");
  EXPECT_EQ(items[10].id, "college_computer_science/test/0");
  EXPECT_EQ(items[10].group, "college_computer_science");
}

TEST(MmluTest, SubjectsOptionSelectsAndSorts) {
  const Mmlu data(config({"college_computer_science", "abstract_algebra"}));
  EXPECT_EQ(data.subjects(),
            (std::vector<std::string>{"abstract_algebra", "college_computer_science"}));
  const Mmlu one(config({"college_computer_science"}));
  const auto items = all_items(one);
  ASSERT_EQ(items.size(), 10u);
  EXPECT_EQ(items.front().id, "college_computer_science/test/0");
}

TEST(MmluTest, UnknownSubjectSuggestsAndLists) {
  const auto e = error_of([] { Mmlu data(config({"abstract_algebr"})); });
  EXPECT_EQ(e.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e.what(), "unknown MMLU subject 'abstract_algebr'")) << e.what();
  EXPECT_TRUE(contains(e.what(), "did you mean 'abstract_algebra'?")) << e.what();
  EXPECT_TRUE(contains(e.what(), "available subjects: abstract_algebra, college_computer_science"))
      << e.what();
  const auto twice = error_of([] { Mmlu data(config({"abstract_algebra", "abstract_algebra"})); });
  EXPECT_EQ(twice.code(), COMPASS_INVALID_ARGUMENT);
}

TEST(MmluTest, LimitAppliesPerSubjectAsLmEvaluationHarness) {
  // --limit 3 on a group: the first 3 items of every subject, not the
  // first 3 of the file order (which would all be abstract algebra).
  const Mmlu data(config({}, 0, 3));
  const auto items = all_items(data);
  ASSERT_EQ(items.size(), 6u);
  EXPECT_EQ(data.size(), 6u);
  EXPECT_EQ(items[0].id, "abstract_algebra/test/0");
  EXPECT_EQ(items[2].id, "abstract_algebra/test/2");
  EXPECT_EQ(items[3].id, "college_computer_science/test/0");
  EXPECT_EQ(items.back().id, "college_computer_science/test/2");
  EXPECT_EQ(all_items(Mmlu(config({}, 0, 1000))).size(), 20u);
}

TEST(MmluTest, SinkCanStopEarly) {
  const Mmlu data(config());
  int seen = 0;
  data.for_each_item([&](const sdk::Item&) { return ++seen < 3; });
  EXPECT_EQ(seen, 3);
}

TEST(MmluTest, TooManyShotsIsAnError) {
  const auto e = error_of([] { Mmlu data(config({"abstract_algebra"}, 6)); });
  EXPECT_EQ(e.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e.what(), "num_shots = 6")) << e.what();
  EXPECT_TRUE(contains(e.what(), "abstract_algebra_dev.csv' has 5 rows")) << e.what();
  EXPECT_NO_THROW(Mmlu data(config({"abstract_algebra"}, 5)));
}

TEST(MmluTest, DevSplitLeavesTheItemOutOfItsShots) {
  Config c = config({"abstract_algebra"}, 2);
  c.options.split = "dev";
  const Mmlu data(c);
  const auto items = all_items(data);
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].id, "abstract_algebra/dev/0");
  const auto dev = read_questions(kFixture / "dev/abstract_algebra_dev.csv");
  EXPECT_EQ(items[0].context, build_context("abstract_algebra", {&dev[1], &dev[2]}, dev[0]));
  EXPECT_EQ(items[1].context, build_context("abstract_algebra", {&dev[0], &dev[2]}, dev[1]));
  EXPECT_EQ(items[3].context, build_context("abstract_algebra", {&dev[0], &dev[1]}, dev[3]));

  c.num_shots = 5;
  const auto e = error_of([&] { Mmlu bad(c); });
  EXPECT_EQ(e.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_TRUE(contains(e.what(), "one is the item itself")) << e.what();
}

TEST(MmluTest, MissingSplitFileIsNamed) {
  Config c = config({"abstract_algebra"});
  c.options.split = "val";
  const auto e = error_of([&] { Mmlu data(c); });
  EXPECT_EQ(e.code(), COMPASS_NOT_FOUND);
  EXPECT_TRUE(contains(e.what(), "val/abstract_algebra_val.csv")) << e.what();

  const auto no_folder = error_of([] { Mmlu data(config({}, 0, 0, kFixture / "dev")); });
  EXPECT_EQ(no_folder.code(), COMPASS_NOT_FOUND);
  EXPECT_TRUE(contains(no_folder.what(), "holding dev/ and test/")) << no_folder.what();
}

TEST(MmluTest, MalformedRowNamesFileAndLine) {
  const TempDir tmp = mmlu_folder(
      "good,1,2,3,4,A\n"
      "\"multi\nline\",1,2,3,4,B\n"
      "short,1,2,3,C\n");
  const auto e = error_of([&] { Mmlu data(config({}, 0, 0, tmp.root())); });
  EXPECT_EQ(e.code(), COMPASS_DATA_LOSS);
  EXPECT_TRUE(contains(e.what(),
                       "x_test.csv:4: expected 6 fields (question,A,B,C,D,answer), "
                       "found 5"))
      << e.what();
}

TEST(MmluTest, BadAnswerLetterNamesFileAndLine) {
  const TempDir tmp = mmlu_folder("good,1,2,3,4,A\r\nbad,1,2,3,4,E\r\n");
  const auto e = error_of([&] { Mmlu data(config({}, 0, 0, tmp.root())); });
  EXPECT_EQ(e.code(), COMPASS_DATA_LOSS);
  EXPECT_TRUE(contains(e.what(), "x_test.csv:2: answer must be one of A, B, C, D, found 'E'"))
      << e.what();
  const TempDir lower = mmlu_folder("q,1,2,3,4,b\n");
  EXPECT_THROW(Mmlu data(config({}, 0, 0, lower.root())), sdk::Error);
}

TEST(MmluTest, MalformedDevFileIsCheckedWhenShotsAreUsed) {
  const TempDir tmp = mmlu_folder("q,1,2,3,4,A\n", "s,1,2,3,4,A\n\"open,1,2,3,4,A\n");
  EXPECT_NO_THROW(Mmlu data(config({}, 0, 0, tmp.root())));
  const auto e = error_of([&] { Mmlu data(config({}, 1, 0, tmp.root())); });
  EXPECT_EQ(e.code(), COMPASS_DATA_LOSS);
  EXPECT_TRUE(contains(e.what(), "x_dev.csv:2: unterminated quoted field 1")) << e.what();
}

TEST(MmluTest, EmptySubjectFileIsNamed) {
  const TempDir tmp = mmlu_folder("");
  const auto e = error_of([&] { Mmlu data(config({}, 0, 0, tmp.root())); });
  EXPECT_EQ(e.code(), COMPASS_DATA_LOSS);
  EXPECT_TRUE(contains(e.what(), "x_test.csv: no rows")) << e.what();
}

TEST(MmluTest, QuestionIsStrippedLikePython) {
  // Real case: sociology_test.csv row 69 ends with U+0085 (NEL).
  const TempDir tmp = mmlu_folder(" \tRole-learning theory suggests that\xC2\x85,a,b,c,d,A\n");
  const auto items = all_items(Mmlu(config({}, 0, 0, tmp.root())));
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].context,
            "The following are multiple choice questions (with answers) about x.\n\n"
            "Role-learning theory suggests that\nA. a\nB. b\nC. c\nD. d\nAnswer:");
  // doc_json keeps the question as in the file.
  EXPECT_TRUE(contains(items[0].doc_json, "\"question\":\" \\tRole-learning theory suggests that"))
      << items[0].doc_json;
}

TEST(MmluTest, OptionsParsing) {
  const Options defaults = parse_options("{}");
  EXPECT_TRUE(defaults.subjects.empty());
  EXPECT_EQ(defaults.split, "test");
  const Options o = parse_options(R"({"subjects": ["anatomy", "virology"], "split": "val"})");
  EXPECT_EQ(o.subjects, (std::vector<std::string>{"anatomy", "virology"}));
  EXPECT_EQ(o.split, "val");
  EXPECT_EQ(error_of([] { parse_options(R"({"split": "train"})"); }).code(),
            COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(error_of([] { parse_options(R"({"subjects": []})"); }).code(),
            COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(error_of([] { parse_options(R"({"subjects": "anatomy"})"); }).code(),
            COMPASS_INVALID_ARGUMENT);

  const auto specs = option_specs();
  ASSERT_EQ(specs.size, 2u);
  EXPECT_EQ(sdk::view(sdk::option_at(specs, 0).key), "subjects");
  EXPECT_EQ(sdk::option_at(specs, 0).type, static_cast<uint32_t>(COMPASS_OPT_STRING_LIST));
  EXPECT_EQ(sdk::view(sdk::option_at(specs, 1).key), "split");
  EXPECT_EQ(sdk::view(sdk::option_at(specs, 1).choices), "test|val|dev");
}

TEST(MmluTest, ConfigFromAbi) {
  const std::string path = kFixture.string();
  const std::string options = R"({"subjects": ["abstract_algebra"]})";
  compass_dataset_config abi{};
  abi.struct_size = sizeof(abi);
  abi.path = sdk::str(path);
  abi.num_shots = 3;
  abi.limit = 7;
  abi.options_json = sdk::str(options);
  const Config c = config_from_abi(abi);
  EXPECT_EQ(c.root, kFixture);
  EXPECT_EQ(c.num_shots, 3u);
  EXPECT_EQ(c.limit, 7u);
  EXPECT_EQ(c.options.subjects, (std::vector<std::string>{"abstract_algebra"}));
  abi.path = sdk::str("");
  EXPECT_EQ(error_of([&] { config_from_abi(abi); }).code(), COMPASS_INVALID_ARGUMENT);
}

}  // namespace
}  // namespace compass::datasets::mmlu
