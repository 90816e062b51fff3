#include "compass/datasets/gsm8k.h"

#include "dataset_test_util.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace compass::datasets::gsm8k {
namespace {

using namespace compass::testing;
namespace fs = std::filesystem;

// Slices of the real GSM8K: test rows 1-4, 147 ("#### 2,125") and 490
// ("#### -10"); train rows 1-8.
const fs::path kFixture = fs::path(COMPASS_SOURCE_DIR) / "tests/fixtures/gsm8k";

Config config(uint32_t shots = 0, uint64_t seed = 1234, std::string split = "test",
              uint64_t limit = 0, fs::path root = kFixture) {
  return Config{{shots, seed, limit}, std::move(root), {std::move(split)}};
}

TEST(Gsm8kTest, ZeroShotGenerateItem) {
  const auto items = all_items(Gsm8k(config()));
  ASSERT_EQ(items.size(), 6u);
  const sdk::Item& item = items[1];
  EXPECT_EQ(item.context,
            "Question: A robe takes 2 bolts of blue fiber and half that much white fiber.  How "
            "many bolts in total does it take?\nAnswer:");
  EXPECT_EQ(item.id, "test/1");
  EXPECT_EQ(item.kind, COMPASS_ITEM_GENERATE);
  EXPECT_EQ(item.references, (std::vector<std::string>{"3"}));
  EXPECT_EQ(item.stop, (std::vector<std::string>{"Question:", "</s>", "<|im_end|>"}));
  EXPECT_EQ(item.max_new_tokens, 0u);
  EXPECT_TRUE(item.choices.empty());
  EXPECT_EQ(item.doc_json,
            R"({"question": "A robe takes 2 bolts of blue fiber and half that much white fiber.  )"
            R"(How many bolts in total does it take?", "answer": "It takes 2/2=<<2/2=1>>1 bolt of )"
            R"(white fiber\nSo the total amount of fabric is 2+1=<<2+1=3>>3 bolts of fabric\n#### )"
            R"(3"})");
}

TEST(Gsm8kTest, ReferencesAreTheFinalAnswerWithoutCommas) {
  const auto items = all_items(Gsm8k(config()));
  std::vector<std::string> references;
  for (const auto& item : items) references.push_back(item.references.at(0));
  EXPECT_EQ(references, (std::vector<std::string>{"18", "3", "70000", "540", "2125", "-10"}));
  EXPECT_EQ(final_answer("x\n#### 1,234 "), "1234");
  EXPECT_EQ(final_answer("a #### 1\n#### 2"), "2");
  EXPECT_EQ(final_answer("####5"), "5");
  EXPECT_EQ(final_answer("no marker"), "");
}

// Expected prompt computed with lm-eval's sampler: random.Random(1234),
// rnd.sample(train_docs, 1) per test document; the shot's target is its
// whole answer after " ".
TEST(Gsm8kTest, OneShotChainOfThoughtPrompt) {
  const auto items = all_items(Gsm8k(config(1, 1234)));
  ASSERT_EQ(items.size(), 6u);
  EXPECT_EQ(items[0].context,
            "Question: Ken created a care package to send to his brother, who was away at "
            "boarding school.  Ken placed a box on a scale, and then he poured into the box "
            "enough jelly beans to bring the weight to 2 pounds.  Then, he added enough brownies "
            "to cause the weight to triple.  Next, he added another 2 pounds of jelly beans.  And "
            "finally, he added enough gummy worms to double the weight once again.  What was the "
            "final weight of the box of goodies, in pounds?\n"
            "Answer: To the initial 2 pounds of jelly beans, he added enough brownies to cause the "
            "weight to triple, bringing the weight to 2*3=<<2*3=6>>6 pounds.\n"
            "Next, he added another 2 pounds of jelly beans, bringing the weight to "
            "6+2=<<6+2=8>>8 pounds.\n"
            "And finally, he added enough gummy worms to double the weight once again, to a final "
            "weight of 8*2=<<8*2=16>>16 pounds.\n"
            "#### 16\n"
            "\n"
            "Question: Janet\u2019s ducks lay 16 eggs per day. She eats three for breakfast every "
            "morning and bakes muffins for her friends every day with four. She sells the "
            "remainder at the farmers' market daily for $2 per fresh duck egg. How much in "
            "dollars does she make every day at the farmers' market?\n"
            "Answer:");
  EXPECT_EQ(items[1].context,
            "Question: Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes "
            "of babysitting. How much did she earn?\n"
            "Answer: Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\n"
            "Working 50 minutes, she earned 0.2 x 50 = $<<0.2*50=10>>10.\n"
            "#### 10\n"
            "\n"
            "Question: A robe takes 2 bolts of blue fiber and half that much white fiber.  How "
            "many bolts in total does it take?\n"
            "Answer:");
}

TEST(Gsm8kTest, FiveShotsCountAndSplitTrain) {
  const auto items = all_items(Gsm8k(config(5, 1234, "test", 2)));
  ASSERT_EQ(items.size(), 2u);  // limit
  for (const auto& item : items) {
    const auto count = [&](const std::string& needle) {
      size_t n = 0;
      for (size_t at = item.context.find(needle); at != std::string::npos;
           at = item.context.find(needle, at + 1)) {
        ++n;
      }
      return n;
    };
    EXPECT_EQ(count("Question: "), 6u);  // five shots and the item
    EXPECT_EQ(count("\n#### "), 5u);     // each shot's full answer
    EXPECT_EQ(count("\n\nQuestion: "), 5u);
  }
  // Evaluating train: shots come from train without the item itself.
  const auto train = all_items(Gsm8k(config(7, 3, "train")));
  ASSERT_EQ(train.size(), 8u);
  for (const auto& item : train) {
    const std::string own = item.context.substr(item.context.rfind("Question: "));
    EXPECT_EQ(item.context.find(own), item.context.size() - own.size()) << item.id;
  }
  EXPECT_NE(error_message([] {
              Gsm8k data(config(8, 3, "train"));
            }).find("has 8 records (one is the item itself); use num_shots <= 7"),
            std::string::npos);
  EXPECT_NE(error_message([] { Gsm8k data(config(9)); }).find("has 8 records; use num_shots <= 8"),
            std::string::npos);
}

TEST(Gsm8kTest, BadFilesNameFileAndLine) {
  const TempDir dir("gsm8k");
  const std::string test = (dir.root() / "test.jsonl").string();
  dir.write("test.jsonl",
            "{\"question\": \"q\", \"answer\": \"a\\n#### 1\"}\n{\"question\": \"q\"}\n");
  EXPECT_EQ(error_message([&] { Gsm8k data(config(0, 1, "test", 0, dir.root())); }),
            test + ":2: missing field 'answer'");
  dir.write("test.jsonl",
            "{\"question\": \"q\", \"answer\": \"a\\n#### 1\"}\n{\"question\": 'q'}\n");
  EXPECT_EQ(error_message([&] {
              Gsm8k data(config(0, 1, "test", 0, dir.root()));
            }).rfind(test + ":2: not valid JSON: ", 0),
            0u);
  dir.write("test.jsonl", "{\"question\": \"q\", \"answer\": \"no final answer\"}\n");
  EXPECT_EQ(error_message([&] { Gsm8k data(config(0, 1, "test", 0, dir.root())); }),
            test + ":1: field 'answer' has no final answer after '#### '");
  dir.write("test.jsonl", "");
  EXPECT_EQ(error_message([&] { Gsm8k data(config(0, 1, "test", 0, dir.root())); }),
            test + ": empty file (no JSON lines)");
  EXPECT_NE(error_message([] {
              parse_options(R"({"split": "dev"})");
            }).find("option 'split' must be \"test\" or \"train\""),
            std::string::npos);
}

}  // namespace
}  // namespace compass::datasets::gsm8k
