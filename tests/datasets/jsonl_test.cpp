#include "compass/datasets/jsonl_dataset.h"

#include "dataset_test_util.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace compass::datasets::jsonl {
namespace {

using namespace compass::testing;
namespace fs = std::filesystem;

const fs::path kFixture = fs::path(COMPASS_SOURCE_DIR) / "tests/fixtures/jsonl";

Config config(const std::string& file, const std::string& options, uint32_t shots = 0,
              uint64_t seed = 1234, uint64_t limit = 0) {
  return Config{{shots, seed, limit}, kFixture / file, parse_options(options)};
}

Config config_at(const fs::path& file, const std::string& options, uint32_t shots = 0) {
  return Config{{shots}, file, parse_options(options)};
}

const std::string kMc =
    R"({"kind": "multiple_choice", "prompt": "Q: {{question}}\nA:", "choices": "options",)"
    R"( "answer": "answer", "group": "subject"})";
// Single braces are text: "{literal}" names no field of gen.jsonl.
const std::string kGen =
    R"({"kind": "generate", "prompt": "Problem: {{ q.text }} {literal} ({{tag}})\nSolution:",)"
    R"( "target": "{{a}}"})";

TEST(JsonlDatasetTest, MultipleChoiceFromAListField) {
  const auto items = all_items(JsonlDataset(config("mc.jsonl", kMc)));
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].context, "Q: Capital of France?\nA:");
  EXPECT_EQ(items[0].kind, COMPASS_ITEM_MULTIPLE_CHOICE);
  EXPECT_EQ(items[0].choices, (std::vector<std::string>{" Paris", " Rome", " Madrid"}));
  EXPECT_TRUE(items[0].contexts.empty());
  EXPECT_EQ(items[0].id, "mc/0");
  EXPECT_EQ(items[0].group, "geo");
  EXPECT_EQ(items[3].group, "space");
  // Gold from an integer, a letter, a string of digits and a choice's text.
  EXPECT_EQ(items[0].gold, 0);
  EXPECT_EQ(items[1].gold, 1);
  EXPECT_EQ(items[2].gold, 1);
  EXPECT_EQ(items[3].gold, 1);
  EXPECT_EQ(items[1].doc_json,
            R"({"id": 2, "subject": "geo", "question": "Capital of Italy?", "options": ["Paris", )"
            R"("Rome", "Madrid"], "answer": "B"})");
}

TEST(JsonlDatasetTest, MultipleChoiceFromTemplatesAndDelimiter) {
  const auto items = all_items(JsonlDataset(config(
      "mc.jsonl",
      R"js({"kind": "multiple_choice", "prompt": "{{question}}", "choices": ["{{options.0}}",)js"
      R"js( "{{ options[1] }}", "{{options.2}} ({{subject}})"], "answer": "answer",)js"
      R"js( "target_delimiter": "\n"})js",
      0, 1234, 1)));
  ASSERT_EQ(items.size(), 1u);  // limit
  EXPECT_EQ(items[0].choices, (std::vector<std::string>{"\nParis", "\nRome", "\nMadrid (geo)"}));
  EXPECT_EQ(items[0].gold, 0);
  EXPECT_EQ(items[0].group, "");
  // Every line is checked, not only the delivered ones: line 2's answer
  // "B" is the second choice, and there is one.
  EXPECT_EQ(
      error_message([] {
        JsonlDataset data(config("mc.jsonl",
                                 R"({"kind": "multiple_choice", "prompt": "{{question}}",)"
                                 R"( "choices": ["<{{options.1}}>"], "answer": "answer"})",
                                 0, 1234, 1));
      }),
      (kFixture / "mc.jsonl").string() + ":2: option 'answer': gives 'B' but there are 1 choices");
}

// A choices template giving a list (PIQA's "{{[sol1, sol2]}}"), a fixed
// target (SciQ's doc_to_target: 3) and a template target rendering digits.
TEST(JsonlDatasetTest, ChoicesTemplateAndFixedOrTemplatedTarget) {
  const std::string base =
      R"({"kind": "multiple_choice", "prompt": "{{question}}", "choices": "{{ options + ['none'] }}",)";
  auto items = all_items(JsonlDataset(config("mc.jsonl", base + R"( "answer": 3})")));
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[1].choices, (std::vector<std::string>{" Paris", " Rome", " Madrid", " none"}));
  for (const auto& item : items) EXPECT_EQ(item.gold, 3);
  items = all_items(JsonlDataset(config("mc.jsonl", base + R"( "answer": "{{ id - 1 }}"})")));
  EXPECT_EQ(items[2].gold, 2);
  EXPECT_EQ(error_message([] {
              JsonlDataset data(config("mc.jsonl", R"({"kind": "multiple_choice",)"
                                                   R"( "prompt": "{{question}}", "choices":)"
                                                   R"( "options", "answer": 3})"));
            }),
            (kFixture / "mc.jsonl").string() +
                ":1: option 'answer': gives 3 but there are 3 "
                "choices");
}

// Expected prompts from lm-eval's sampler: random.Random(1234), sample 3
// from the same file, drop the item, keep 2; shot target = gold choice.
TEST(JsonlDatasetTest, MultipleChoiceTwoShots) {
  const auto items = all_items(JsonlDataset(config("mc.jsonl", kMc, 2)));
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].context,
            "Q: Largest planet?\nA: Jupiter\n\nQ: 2 + 2 = ?\nA: 4\n\nQ: Capital of France?\nA:");
  EXPECT_EQ(items[1].context,
            "Q: Capital of France?\nA: Paris\n\nQ: 2 + 2 = ?\nA: 4\n\nQ: Capital of Italy?\nA:");
  EXPECT_EQ(items[3].context,
            "Q: Capital of Italy?\nA: Rome\n\nQ: Capital of France?\nA: Paris\n\nQ: Largest "
            "planet?\nA:");
}

// lm-eval puts the rendered description before everything (no delimiter).
TEST(JsonlDatasetTest, Description) {
  const auto items = all_items(JsonlDataset(
      config("mc.jsonl",
             R"({"kind": "multiple_choice", "prompt": "Q: {{question}}\nA:", "choices": "options",)"
             R"( "answer": "answer", "description": "About {{ subject }}:\n\n"})",
             1)));
  EXPECT_EQ(items[0].context,
            "About geo:\n\nQ: Largest planet?\nA: Jupiter\n\nQ: Capital of France?\nA:");
}

TEST(JsonlDatasetTest, GenerateRendersValuesLikePython) {
  const auto items = all_items(JsonlDataset(config("gen.jsonl", kGen)));
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].context, "Problem: What is 2+3? {literal} (True)\nSolution:");
  EXPECT_EQ(items[0].kind, COMPASS_ITEM_GENERATE);
  EXPECT_EQ(items[1].context, "Problem: Spell cat. {literal} (False)\nSolution:");
  EXPECT_EQ(items[2].context, "Problem: Half of 3? {literal} (None)\nSolution:");
  EXPECT_EQ(items[0].references, (std::vector<std::string>{"5"}));
  EXPECT_EQ(items[1].references, (std::vector<std::string>{"c-a-t"}));
  EXPECT_EQ(items[2].references, (std::vector<std::string>{"1.5"}));
  // A target rendering a Python list is several targets, as in lm-eval.
  EXPECT_EQ(items[3].references, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(items[0].stop, (std::vector<std::string>{"\n\n"}));  // [fewshot_delimiter]
  EXPECT_EQ(items[0].max_new_tokens, 0u);
  const auto stopped = all_items(JsonlDataset(
      config("gen.jsonl",
             R"({"kind": "generate", "prompt": "q.text", "target": "a", "stop": ["\n", "Q:"]})")));
  EXPECT_EQ(stopped[0].context, "What is 2+3?");  // a field name
  EXPECT_EQ(stopped[0].stop, (std::vector<std::string>{"\n", "Q:"}));
  EXPECT_EQ(stopped[3].references, (std::vector<std::string>{"1", "2"}));
}

TEST(JsonlDatasetTest, GenerateOneShotFromTheSameFile) {
  const auto items = all_items(JsonlDataset(config("gen.jsonl", kGen, 1)));
  EXPECT_EQ(items[0].context,
            "Problem: List two. {literal} (x)\nSolution: 1\n\n"
            "Problem: What is 2+3? {literal} (True)\nSolution:");
  EXPECT_EQ(items[1].context,
            "Problem: What is 2+3? {literal} (True)\nSolution: 5\n\n"
            "Problem: Spell cat. {literal} (False)\nSolution:");
}

// A separate few-shot file: sample(pool, 2) with random.Random(5), custom
// delimiters.
TEST(JsonlDatasetTest, FewshotPathAndDelimiters) {
  const std::string options =
      R"({"kind": "generate", "prompt": "Problem: {{q.text}} {literal} ({{tag}})\nSolution:",)"
      R"( "target": "{{a}}", "fewshot_path": "shots.jsonl", "target_delimiter": "=>",)"
      R"( "fewshot_delimiter": "###"})";
  const auto items = all_items(JsonlDataset(config("gen.jsonl", options, 2, 5)));
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].context,
            "Problem: What is 4+4? {literal} (s)\nSolution:=>8###"
            "Problem: What is 3+3? {literal} (s)\nSolution:=>6###"
            "Problem: What is 2+3? {literal} (True)\nSolution:");
  EXPECT_EQ(items[3].context,
            "Problem: What is 3+3? {literal} (s)\nSolution:=>6###"
            "Problem: What is 1+1? {literal} (s)\nSolution:=>2###"
            "Problem: List two. {literal} (x)\nSolution:");
  EXPECT_EQ(items[0].stop, (std::vector<std::string>{"###"}));
  EXPECT_NE(error_message([&] {
              JsonlDataset data(config("gen.jsonl", options, 4));
            }).find("shots.jsonl' has 3 records; use num_shots <= 3"),
            std::string::npos);
}

TEST(JsonlDatasetTest, Rolling) {
  const auto items = all_items(JsonlDataset(
      config("rolling.jsonl", R"({"kind": "rolling", "prompt": "{{title}}\n\n{{body}}"})")));
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].kind, COMPASS_ITEM_ROLLING);
  EXPECT_EQ(items[0].context, "Fox\n\nThe quick brown fox jumps over the lazy dog.");
  EXPECT_EQ(items[1].context, "Caf\xC3\xA9\n\nUn caf\xC3\xA9, s'il vous pla\xC3\xAEt.");
  EXPECT_TRUE(items[0].choices.empty());
  EXPECT_TRUE(items[0].references.empty());
  EXPECT_NE(error_message([] {
              JsonlDataset data(
                  config("rolling.jsonl", R"({"kind": "rolling", "prompt": "{{body}}"})", 1));
            }).find("takes no few-shot examples"),
            std::string::npos);
}

TEST(JsonlDatasetTest, OptionErrorsNameTheKey) {
  EXPECT_NE(
      error_message([] { parse_options(R"({"prompt": "x"})"); }).find("option 'kind' is required"),
      std::string::npos);
  EXPECT_NE(error_message([] {
              parse_options(R"({"kind": "mc", "prompt": "x"})");
            }).find("option 'kind' must be multiple_choice, generate or rolling"),
            std::string::npos);
  EXPECT_EQ(error_message([] { parse_options(R"({"kind": "generate", "prompt": "x"})"); }),
            "option 'target': is required for kind generate (the reference answer: a field or a "
            "template)");
  EXPECT_NE(error_message([] {
              parse_options(R"({"kind": "multiple_choice", "prompt": "x", "answer": "a"})");
            }).find("option 'choices': is required"),
            std::string::npos);
  EXPECT_EQ(
      error_message([] {
        parse_options(R"({"kind": "multiple_choice", "prompt": "x", "choices": 3, "answer": "a"})");
      }),
      "option 'choices': must be a field name, a template or a list of templates, got 3");
  EXPECT_EQ(
      error_message([] { parse_options(R"({"kind": "rolling", "prompt": "x", "target": "y"})"); }),
      "option 'target': applies to kind generate, not rolling");
  EXPECT_EQ(error_message([] { parse_options(R"({"kind": "rolling", "prompt": "Q: {{ q"})"); }),
            "option 'prompt': template error: tag '{{' is never closed with '}}' at column 4");
  EXPECT_EQ(error_message([] {
              parse_options(R"({"kind": "generate", "prompt": "p", "target": "t", "task_file":)"
                            R"( "x.yaml"})");
            }),
            "jsonl: option 'kind' cannot be set beside task_file, which defines it; change the "
            "task file, or leave task_file out and give the task's options");
}

// A template that substitutes nothing gives every item the same prompt: an
// error before any data is read, with the fix when it is the old
// single-brace syntax.
TEST(JsonlDatasetTest, ConstantTemplatesAreErrors) {
  EXPECT_EQ(error_message([] {
              parse_options(R"({"kind": "rolling", "prompt": "Question: {goal}\nAnswer:"})");
            }),
            "option 'prompt': the template reads no field of the record, so every item would get "
            "the same text ('Question: {goal}\\nAnswer:'); single braces are literal text: write "
            "{{ goal }} for the field 'goal'");
  EXPECT_EQ(error_message([] {
              parse_options(R"({"kind": "generate", "prompt": "{{ 'Answer:' }}", "target": "a"})");
            }),
            "option 'prompt': the template reads no field of the record, so every item would get "
            "the same text (\"{{ 'Answer:' }}\"); write each field as {{ name }}");
  EXPECT_EQ(error_message([] {
              parse_options(R"({"kind": "multiple_choice", "prompt": "q", "choices":)"
                            R"( "{[sol1, sol2]}", "answer": "label"})");
            }),
            "option 'choices': the template reads no field of the record, so every item would get "
            "the same choices ('{[sol1, sol2]}'); single braces are literal text: write "
            "{{[sol1, sol2]}} to evaluate it");
  // Constant choices in a list are fine (lm-eval's boolq: ["no", "yes"]).
  EXPECT_NO_THROW(parse_options(R"({"kind": "multiple_choice", "prompt": "q", "choices":)"
                                R"( ["no", "yes"], "answer": "label"})"));
}

// The error loading a scratch file holding `text` with `options`, the
// file's path written as "<file>".
std::string data_error(const std::string& text, const std::string& options) {
  const TempDir dir("jsonl");
  const std::string file = dir.write("data.jsonl", text).string();
  std::string message = error_message([&] { JsonlDataset data(config_at(file, options)); });
  if (message.rfind(file, 0) == 0) message.replace(0, file.size(), "<file>");
  return message;
}

TEST(JsonlDatasetTest, DataErrorsNameFileLineAndKey) {
  const std::string gen =
      R"({"kind": "generate", "prompt": "Q: {{question}}", "target": "{{answer}}"})";
  EXPECT_EQ(
      data_error("{\"question\": \"a\", \"answer\": \"b\"}\n{\"question\": \"a\", \"answer\": }\n",
                 gen)
          .rfind("<file>:2: not valid JSON: column ", 0),
      0u);
  EXPECT_EQ(data_error("{\"question\": \"a\", \"answer\": \"b\"}\n\n{\"answer\": \"b\"}\n", gen),
            "<file>:3: option 'prompt': 'question' is undefined at column 6 (the record's "
            "fields: answer)");
  EXPECT_EQ(data_error("{\"question\": \"a\"}\n", gen),
            "<file>:1: option 'target': 'answer' is undefined at column 3 (the record's fields: "
            "question)");
  EXPECT_EQ(data_error("", gen), "<file>: empty file (no JSON lines)");
  // The old single-brace syntax next to a real placeholder.
  EXPECT_EQ(data_error("{\"question\": \"a\", \"answer\": \"b\"}\n",
                       R"({"kind": "generate", "prompt": "Q: {{question}} {answer}",)"
                       R"( "target": "{{answer}}"})"),
            "<file>:1: option 'prompt': '{answer}' is literal text (single braces); write {{ "
            "answer }} to use the field 'answer'");
  EXPECT_EQ(data_error("{\"question\": \"a\", \"answer\": \"b\"}\n",
                       R"({"kind": "generate", "prompt": "{{question | title}}", "target": "x"})"),
            "<file>:1: option 'prompt': filter 'title' is not supported (supported: default, abs, "
            "capitalize, count, first, float, int, join, last, length, list, lower, "
            "regex_replace, replace, reverse, string, sum, trim, upper, map) at column 14");
  const std::string mc =
      R"({"kind": "multiple_choice", "prompt": "q", "choices": "options", "answer": "gold"})";
  EXPECT_EQ(data_error("{\"q\": \"a\", \"options\": [\"x\", \"y\"]}\n", mc),
            "<file>:1: option 'answer': missing field 'gold' (the record's fields: q, options; "
            "write a template with {{ }} for text)");
  EXPECT_EQ(data_error("{\"q\": \"a\", \"options\": [\"x\", \"y\"], \"gold\": 2}\n", mc),
            "<file>:1: option 'answer': gives 2 but there are 2 choices");
  EXPECT_EQ(data_error("{\"q\": \"a\", \"options\": [\"x\", \"y\"], \"gold\": \"zz\"}\n", mc),
            "<file>:1: option 'answer': gives 'zz', which is neither an index, one of the choices "
            "nor a letter A-Z");
  EXPECT_EQ(data_error("{\"q\": \"a\", \"options\": \"x\", \"gold\": 0}\n", mc),
            "<file>:1: option 'choices': field 'options' must be a list, got str");
  const auto missing = error_message([] {
    JsonlDataset data(config("nowhere.jsonl", R"({"kind": "rolling", "prompt": "{{t}}"})"));
  });
  EXPECT_NE(missing.find("file not found"), std::string::npos);
}

// What the host learns before reading any data.
TEST(JsonlDatasetTest, DescribeGivesKindAndScorer) {
  const auto info = [](const std::string& options) {
    compass_dataset_config abi{};
    abi.struct_size = sizeof abi;
    const std::string path = (kFixture / "mc.jsonl").string();
    abi.path = sdk::str(path);
    abi.options_json = sdk::str(options);
    return describe(abi);
  };
  sdk::TaskInfo mc = info(kMc);
  EXPECT_EQ(mc.item_kinds, COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_MULTIPLE_CHOICE));
  EXPECT_EQ(mc.scorer, "mcq_accuracy");
  EXPECT_EQ(mc.num_shots, -1);
  const sdk::TaskInfo gen = info(kGen);
  EXPECT_EQ(gen.item_kinds, COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_GENERATE));
  EXPECT_EQ(gen.scorer, "exact_match");
  EXPECT_EQ(gen.scorer_options_json, "");
  EXPECT_EQ(info(R"({"kind": "rolling", "prompt": "{{q}}"})").scorer, "perplexity");
}

}  // namespace
}  // namespace compass::datasets::jsonl
