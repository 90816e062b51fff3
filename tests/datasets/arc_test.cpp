#include "compass/datasets/arc.h"

#include "dataset_test_util.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace compass::datasets::arc {
namespace {

using namespace compass::testing;
namespace fs = std::filesystem;

// Slices of the real ARC files: Easy-Test rows 1-5, 15 (labels 1-4) and 501
// (five choices A-E); Easy-Dev rows 1-8 and 90 (labels 1-4); Challenge-Test
// rows 1-3 and 45 (labels 1-4); Challenge-Dev rows 1-6.
const fs::path kFixture = fs::path(COMPASS_SOURCE_DIR) / "tests/fixtures/arc";

Config config(std::string subset, std::string split = "Test", uint32_t shots = 0,
              uint64_t seed = 1234, uint64_t limit = 0, fs::path root = kFixture) {
  return Config{{shots, seed, limit}, std::move(root), {std::move(subset), std::move(split)}};
}

// A scratch ARC folder whose Easy-Test file is `test` (and Easy-Dev `dev`).
TempDir arc_folder(const std::string& test, const std::string& dev = "") {
  TempDir dir("arc");
  dir.write("ARC-Easy-Test.jsonl", test);
  dir.write("ARC-Easy-Dev.jsonl", dev);
  return dir;
}

TEST(ArcTest, ZeroShotPromptChoicesAndGold) {
  const Arc data(config("Easy"));
  const auto items = all_items(data);
  ASSERT_EQ(items.size(), 7u);
  const sdk::Item& item = items[0];
  EXPECT_EQ(item.context,
            "Question: Which statement best explains why photosynthesis is the foundation of most "
            "food webs?\nAnswer:");
  EXPECT_EQ(item.id, "ARC-Easy-Test/0");
  EXPECT_EQ(item.kind, COMPASS_ITEM_MULTIPLE_CHOICE);
  EXPECT_EQ(item.choices, (std::vector<std::string>{
                              " Sunlight is the source of energy for nearly all ecosystems.",
                              " Most ecosystems are found on land instead of in water.",
                              " Carbon dioxide is more available than other gases.",
                              " The producers in all ecosystems are plants."}));
  EXPECT_EQ(item.gold, 0);
  EXPECT_EQ(items[1].gold, 1);  // answerKey B
  EXPECT_EQ(items[2].gold, 3);  // answerKey D
  EXPECT_EQ(item.doc_json.rfind(R"({"id":"Mercury_417466","question":{"stem":"Which)", 0), 0u);
}

TEST(ArcTest, NumericLabelsAndFiveChoices) {
  const auto items = all_items(Arc(config("Easy")));
  // NYSEDREGENTS_2015_8_28: labels 1-4, answerKey "2".
  EXPECT_EQ(items[5].context,
            "Question: All living and nonliving material is composed of\nAnswer:");
  EXPECT_EQ(items[5].choices, (std::vector<std::string>{" air", " elements", " water", " soil"}));
  EXPECT_EQ(items[5].gold, 1);
  // TIMSS_2003_4_pg35: labels A-E, answerKey "B".
  EXPECT_EQ(items[6].choices.size(), 5u);
  EXPECT_EQ(items[6].choices[4], " water vapor");
  EXPECT_EQ(items[6].gold, 1);

  const auto challenge = all_items(Arc(config("Challenge")));
  ASSERT_EQ(challenge.size(), 4u);
  EXPECT_EQ(challenge[3].gold, 1);  // NYSEDREGENTS_2008_8_34, answerKey "2"
  EXPECT_EQ(challenge[3].choices[1], " Kinetic energy increases and potential energy decreases.");
}

// Expected prompts computed with lm-eval's sampler: random.Random(1234),
// rnd.sample(dev_docs, 2) for each test document in order.
TEST(ArcTest, TwoShotPromptFromDevWithSeed) {
  const auto items = all_items(Arc(config("Easy", "Test", 2, 1234)));
  ASSERT_EQ(items.size(), 7u);
  EXPECT_EQ(items[0].context,
            "Question: Which two traits would best distinguish a bird from other vertebrates?\n"
            "Answer: feathers and wings\n"
            "\n"
            "Question: A student hypothesizes that algae are producers. Which question will best "
            "help the student determine if this is correct?\n"
            "Answer: Do algae use sunlight to make food?\n"
            "\n"
            "Question: Which statement best explains why photosynthesis is the foundation of most "
            "food webs?\n"
            "Answer:");
  EXPECT_EQ(items[1].context,
            "Question: Which technology was developed most recently?\n"
            "Answer: cellular telephone\n"
            "\n"
            "Question: A student hypothesizes that algae are producers. Which question will best "
            "help the student determine if this is correct?\n"
            "Answer: Do algae use sunlight to make food?\n"
            "\n"
            "Question: Which piece of safety equipment is used to keep mold spores from entering "
            "the respiratory system?\n"
            "Answer:");
  // Deterministic: a second pass draws the same shots.
  EXPECT_EQ(all_items(Arc(config("Easy", "Test", 2, 1234)))[1].context, items[1].context);
  // Another seed draws other shots.
  EXPECT_NE(all_items(Arc(config("Easy", "Test", 2, 99)))[0].context, items[0].context);
}

// Evaluating Dev with shots from Dev: sample 3, drop the item, keep 3.
TEST(ArcTest, DevSplitNeverUsesTheItemAsItsOwnShot) {
  const auto items = all_items(Arc(config("Easy", "Dev", 3, 7)));
  ASSERT_EQ(items.size(), 9u);
  EXPECT_EQ(items[0].context,
            "Question: A substance with a mass of 10 g is heated to produce two new substances. "
            "The mass of the first new substance is 9.3 g and the mass of the second new "
            "substance is 0.7 g. Which of the following is best demonstrated by this example?\n"
            "Answer: law of conservation of mass\n"
            "\n"
            "Question: Soccer players use their muscle systems to kick a ball into a goal. What "
            "organ system coordinates the muscles?\n"
            "Answer: The nervous system\n"
            "\n"
            "Question: Planets in the solar system are in constant motion. What factor has the "
            "greatest effect on the orbits of the planets?\n"
            "Answer: gravitational pull of the Sun\n"
            "\n"
            "Question: Which technology was developed most recently?\n"
            "Answer:");
  for (const auto& item : items) {
    const std::string own = item.context.substr(item.context.rfind("Question: "));
    EXPECT_EQ(item.context.find(own), item.context.size() - own.size()) << item.id;
  }
  const auto config8 = config("Easy", "Dev", 8);
  EXPECT_NO_THROW(Arc{config8});
  const auto error = error_of([] { Arc data(config("Easy", "Dev", 9)); });
  EXPECT_EQ(error.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error.what())
                .find("has 9 records (one is the item itself); use "
                      "num_shots <= 8"),
            std::string::npos)
      << error.what();
}

TEST(ArcTest, LimitAndOptions) {
  EXPECT_EQ(all_items(Arc(config("Easy", "Test", 0, 1234, 3))).size(), 3u);
  EXPECT_EQ(parse_options(R"({"subset": "Challenge"})").split, "Test");
  EXPECT_EQ(parse_options(R"({"subset": "Challenge", "split": "Dev"})").split, "Dev");
  EXPECT_EQ(error_of([] { parse_options("{}"); }).code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(std::string(error_of([] { parse_options(R"({"subset": "easy"})"); }).what())
                .find("option 'subset' must be \"Easy\" or \"Challenge\""),
            std::string::npos);
  EXPECT_EQ(error_of([] { parse_options(R"({"subset": "Easy", "split": "Train"})"); }).code(),
            COMPASS_INVALID_ARGUMENT);
}

TEST(ArcTest, BadFilesNameFileAndLine) {
  const std::string good =
      R"({"id":"x","question":{"stem":"S?","choices":[{"text":"a","label":"A"},{"text":"b","label":"B"}]},"answerKey":"B"})";
  {
    const TempDir arc = arc_folder(good + "\n{\"id\": \n");
    const auto e = error_of([&] { Arc data(config("Easy", "Test", 0, 1, 0, arc.root())); });
    EXPECT_EQ(e.code(), COMPASS_DATA_LOSS);
    const std::string file = (arc.root() / "ARC-Easy-Test.jsonl").string();
    EXPECT_EQ(std::string(e.what()).rfind(file + ":2: not valid JSON: ", 0), 0u) << e.what();
  }
  {
    const TempDir arc =
        arc_folder(good + "\n" +
                   R"({"id":"y","question":{"stem":"S?","choices":[{"text":"a","label":"A"}]}})");
    const auto e = error_of([&] { Arc data(config("Easy", "Test", 0, 1, 0, arc.root())); });
    EXPECT_EQ(std::string(e.what()),
              (arc.root() / "ARC-Easy-Test.jsonl").string() + ":2: missing field 'answerKey'");
  }
  {
    const TempDir arc = arc_folder(
        R"({"question":{"stem":"S?","choices":[{"text":"a","label":"A"}]},"answerKey":"C"})");
    const auto e = error_of([&] { Arc data(config("Easy", "Test", 0, 1, 0, arc.root())); });
    EXPECT_EQ(std::string(e.what()), (arc.root() / "ARC-Easy-Test.jsonl").string() +
                                         ":1: answerKey 'C' is not one of the choice labels A");
  }
  {
    const TempDir arc = arc_folder(R"({"question":{"choices":[]},"answerKey":"A"})");
    const auto e = error_of([&] { Arc data(config("Easy", "Test", 0, 1, 0, arc.root())); });
    EXPECT_EQ(std::string(e.what()),
              (arc.root() / "ARC-Easy-Test.jsonl").string() + ":1: missing field 'question.stem'");
  }
  {
    const TempDir arc = arc_folder("");
    const auto e = error_of([&] { Arc data(config("Easy", "Test", 0, 1, 0, arc.root())); });
    EXPECT_EQ(e.code(), COMPASS_DATA_LOSS);
    EXPECT_EQ(std::string(e.what()),
              (arc.root() / "ARC-Easy-Test.jsonl").string() + ": empty file (no JSON lines)");
  }
  const auto missing =
      error_of([] { Arc data(config("Easy", "Test", 0, 1, 0, kFixture / "nowhere")); });
  EXPECT_EQ(missing.code(), COMPASS_NOT_FOUND);
}

}  // namespace
}  // namespace compass::datasets::arc
