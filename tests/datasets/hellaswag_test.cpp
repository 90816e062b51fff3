#include "compass/datasets/hellaswag.h"

#include "dataset_test_util.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace compass::datasets::hellaswag {
namespace {

using namespace compass::testing;
namespace fs = std::filesystem;

// Hand-made records in the HellaSwag jsonl format exercising [title],
// [header], [step], [substeps], double and triple spaces, an unclosed '[',
// a label given as a string, an empty ctx_b, capitalize() lower-casing the
// rest of ctx_b, and a non-ASCII first letter.
const fs::path kFixture = fs::path(COMPASS_SOURCE_DIR) / "tests/fixtures/hellaswag/hellaswag.jsonl";

Config config(uint32_t shots = 0, uint64_t seed = 1234, uint64_t limit = 0,
              fs::path file = kFixture) {
  return Config{{shots, seed, limit}, std::move(file)};
}

// Expected values from lm-eval's utils.preprocess run in Python.
TEST(HellaswagTest, PreprocessCases) {
  EXPECT_EQ(preprocess("  A man [title] Then he goes. "), "A man. Then he goes.");
  EXPECT_EQ(preprocess("[header] How to x [title] Do y. [step] Z."), " How to x. Do y. Z.");
  EXPECT_EQ(preprocess("a [b] c [d"), "a c [d");
  EXPECT_EQ(preprocess("a [b\nc] d"), "a [b\nc] d");  // '.' does not match a line break
  EXPECT_EQ(preprocess("x[[y]]z"), "x]z");            // non-greedy from the first '['
  EXPECT_EQ(preprocess("Cut the   newspaper"), "Cut the  newspaper");
  EXPECT_EQ(preprocess("[substeps] Blow up"), " Blow up");  // stripped before, not after
}

TEST(HellaswagTest, ZeroShotQueriesChoicesAndGold) {
  const auto items = all_items(Hellaswag(config()));
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].context, "Roof shingle removal: A man is sitting on a roof. He");
  EXPECT_EQ(items[0].choices,
            (std::vector<std::string>{" is using wrap to wrap a pair of skis.",
                                      " is ripping level tiles off.", " is holding a rubik's cube.",
                                      " starts pulling up roofing on a roof."}));
  EXPECT_EQ(items[0].gold, 3);
  EXPECT_EQ(items[0].kind, COMPASS_ITEM_MULTIPLE_CHOICE);
  EXPECT_EQ(items[0].id, "0");

  EXPECT_EQ(items[1].context,
            "Arts and Entertainment: How to make a pinata. Gather your supplies. You will need "
            "newspaper, flour and water. You can use a balloon as the base.");
  EXPECT_EQ(items[1].choices, (std::vector<std::string>{
                                  "  Blow up the balloon and tie it off.",
                                  " Let the strips dry overnight. Paint the pinata. Use "
                                  "bright colors.",
                                  " Cut the  newspaper into [strips.", "  Eat the flour. Done."}));
  EXPECT_EQ(items[1].gold, 1);

  EXPECT_EQ(items[2].context,
            "Playing bagpipes: A man in a kilt stands on a stage. The man then starts playing");
  EXPECT_EQ(items[2].gold, 0);  // label "0" given as a string
  EXPECT_EQ(items[3].context, "Health: How to treat a cut. Clean the wound.");
  EXPECT_EQ(items[3].choices[2], "  Wash your hands first. Apply a bandage.");
  EXPECT_EQ(items[4].context,
            "Ballet: Dancers line up on the stage. \xC3\x89lan and grace fill the room as they");
  EXPECT_EQ(items[4].doc_json.rfind(R"({"ind": 412, "activity_label": "Ballet")", 0), 0u);
}

// Expected prompts from lm-eval's sampler over the same file:
// random.Random(1234), rnd.sample(docs, 3) per document, the document
// itself dropped, the first 2 kept.
TEST(HellaswagTest, TwoShotPromptsExcludeTheItem) {
  const auto items = all_items(Hellaswag(config(2, 1234)));
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].context,
            "Health: How to treat a cut. Clean the wound.  Wash your hands first. Apply a "
            "bandage.\n"
            "\n"
            "Ballet: Dancers line up on the stage. \xC3\x89lan and grace fill the room as they "
            "spin across the floor.\n"
            "\n"
            "Roof shingle removal: A man is sitting on a roof. He");
  EXPECT_EQ(items[3].context,
            "Arts and Entertainment: How to make a pinata. Gather your supplies. You will need "
            "newspaper, flour and water. You can use a balloon as the base. Let the strips dry "
            "overnight. Paint the pinata. Use bright colors.\n"
            "\n"
            "Roof shingle removal: A man is sitting on a roof. He starts pulling up roofing on a "
            "roof.\n"
            "\n"
            "Health: How to treat a cut. Clean the wound.");
  EXPECT_EQ(items[4].context,
            "Roof shingle removal: A man is sitting on a roof. He starts pulling up roofing on a "
            "roof.\n"
            "\n"
            "Playing bagpipes: A man in a kilt stands on a stage. The man then starts playing the "
            "bagpipes while people watch.\n"
            "\n"
            "Ballet: Dancers line up on the stage. \xC3\x89lan and grace fill the room as they");
  EXPECT_EQ(all_items(Hellaswag(config(2, 1234, 2))).size(), 2u);
  EXPECT_NE(error_message([] {
              Hellaswag data(config(5));
            }).find("has 5 records (one is the item itself); use num_shots <= 4"),
            std::string::npos);
}

TEST(HellaswagTest, BadFilesNameFileAndLine) {
  const TempDir dir("hellaswag");
  const fs::path file = dir.root() / "hellaswag.jsonl";
  const auto write = [&](const std::string& text) { dir.write("hellaswag.jsonl", text); };
  const std::string good =
      R"({"activity_label": "A", "ctx_a": "b", "ctx_b": "c", "endings": ["d", "e"], "label": 1})";
  write(good + "\n" + R"({"activity_label": "A", "ctx_a": "b", "endings": ["d"], "label": 0})");
  EXPECT_EQ(error_message([&] { Hellaswag data(config(0, 1, 0, file)); }),
            file.string() + ":2: missing field 'ctx_b'");
  write(good + "\n\n" +
        R"({"activity_label": "A", "ctx_a": "b", "ctx_b": "", "endings": ["d"], "label": 1})");
  EXPECT_EQ(error_message([&] { Hellaswag data(config(0, 1, 0, file)); }),
            file.string() + ":3: field 'label' must be an ending index 0..0, got 1");
  write(R"({"activity_label": "A", "ctx_a": "b", "ctx_b": "", "endings": ["d"], "label": ""})");
  EXPECT_EQ(error_message([&] { Hellaswag data(config(0, 1, 0, file)); }),
            file.string() + ":1: field 'label' must be an ending index 0..0, got \"\"");
  write(good + "\nnot json\n");
  EXPECT_EQ(error_message([&] {
              Hellaswag data(config(0, 1, 0, file));
            }).rfind(file.string() + ":2: not valid JSON: ", 0),
            0u);
  write("\n");
  EXPECT_EQ(error_message([&] { Hellaswag data(config(0, 1, 0, file)); }),
            file.string() + ": empty file (no JSON lines)");
}

}  // namespace
}  // namespace compass::datasets::hellaswag
