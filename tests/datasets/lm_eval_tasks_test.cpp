// PIQA, SciQ, Winogrande and HellaSwag as lm-evaluation-harness defines them
// (its task YAMLs, copied into tests/fixtures/lm_eval), on hand-made records
// in each benchmark's own format: the prompts, choices and gold Compass
// builds are lm-eval's, request by request.
//
// Two references: strings written here, derived by hand from the YAMLs
// (cited above each); and goldens.json in each fixture folder, the requests
// lm-eval's own code builds (scripts/goldens/make_lm_eval_task_goldens.py),
// 0-shot and 2-shot (few-shot examples drawn from the same file).
#include "compass/datasets/hellaswag.h"
#include "compass/datasets/jsonl_dataset.h"
#include "compass/datasets/lm_eval_task.h"
#include "compass/datasets/winogrande.h"

#include "dataset_test_util.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace compass::datasets::jsonl {
namespace {

using namespace compass::testing;
namespace fs = std::filesystem;

const fs::path kRoot = fs::path(COMPASS_SOURCE_DIR) / "tests/fixtures/lm_eval";

fs::path data(const std::string& task) {
  return kRoot / task / "validation.jsonl";
}

nlohmann::json goldens(const std::string& task) {
  std::ifstream in(kRoot / task / "goldens.json");
  std::stringstream text;
  text << in.rdbuf();
  return nlohmann::json::parse(text.str());
}

Config from_options(const std::string& task, const std::string& options, uint32_t shots) {
  return Config{{shots, 1234, 0}, data(task), parse_options(options)};
}

Config from_task_file(const std::string& task, const std::string& yaml, uint32_t shots) {
  const nlohmann::json options = {{"task_file", (kRoot / task / yaml).string()}};
  return from_options(task, options.dump(), shots);
}

// The items' requests against the goldens: every choice's context and
// continuation, and the gold, for each record.
template <typename Data>
void expect_goldens(const std::string& task, uint32_t shots, const Data& dataset,
                    const std::string& what) {
  const auto items = all_items(dataset);
  const nlohmann::json all = goldens(task);
  const nlohmann::json& expected = all.at("shots").at(std::to_string(shots));
  ASSERT_EQ(items.size(), expected.size()) << what;
  for (size_t i = 0; i < items.size(); ++i) {
    const sdk::Item& item = items[i];
    std::vector<std::string> contexts = item.contexts;
    if (contexts.empty()) contexts.assign(item.choices.size(), item.context);
    EXPECT_EQ(contexts, expected[i].at("contexts").get<std::vector<std::string>>())
        << what << ", " << shots << "-shot, record " << i;
    EXPECT_EQ(item.choices, expected[i].at("continuations").get<std::vector<std::string>>())
        << what << ", " << shots << "-shot, record " << i;
    EXPECT_EQ(item.gold, expected[i].at("gold").get<int64_t>())
        << what << ", " << shots << "-shot, record " << i;
    EXPECT_EQ(item.kind, COMPASS_ITEM_MULTIPLE_CHOICE);
  }
}

// The templates of piqa.yaml, pasted as they are into task options.
const std::string kPiqa = R"({"kind": "multiple_choice", "prompt": "Question: {{goal}}\nAnswer:",)"
                          R"( "choices": "{{[sol1, sol2]}}", "answer": "label"})";
// sciq.yaml's, with its fixed target.
const std::string kSciq =
    R"({"kind": "multiple_choice", "prompt": "{{support.lstrip()}}\nQuestion: {{question}}\nAnswer:",)"
    R"( "choices": "{{[distractor1, distractor2, distractor3, correct_answer]}}", "answer": 3})";
// winogrande_jinja.yaml's (preprocess_winogrande.py as templates).
const std::string kWinogrande =
    R"({"kind": "multiple_choice", "prompt": "{{ {'1': 0, '2': 1}[answer] }}",)"
    R"( "choices": "{{ [sentence[:sentence.index('_')] + option1,)"
    R"( sentence[:sentence.index('_')] + option2] }}",)"
    R"( "answer": "{{ sentence[sentence.index('_') + 1:].strip() }}"})";

// piqa.yaml: doc_to_text "Question: {{goal}}\nAnswer:", doc_to_choice
// "{{[sol1, sol2]}}", doc_to_target label; target_delimiter " ".
TEST(LmEvalTasksTest, Piqa) {
  const auto items = all_items(JsonlDataset(from_task_file("piqa", "piqa.yaml", 0)));
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].context,
            "Question: How do I ready a guinea pig cage for it's new occupants?\nAnswer:");
  EXPECT_EQ(items[0].choices[0],
            " Provide the guinea pig with a cage full of a few inches of bedding made of ripped "
            "paper strips, you will also need to supply it with a water bottle and a food dish.");
  EXPECT_EQ(items[1].context, "Question: dresser\nAnswer:");
  EXPECT_EQ(items[1].choices, (std::vector<std::string>{" replace drawer with bobby pin ",
                                                        " finish, woodgrain with  bobby pin "}));
  EXPECT_EQ(items[1].gold, 1);
  EXPECT_EQ(items[3].context, "Question:   Clean a keyboard\n\nAnswer:");  // no strip in piqa
  // Braces in the data are data.
  EXPECT_EQ(items[4].context, "Question: How to keep {goal} braces in a question?\nAnswer:");
  EXPECT_EQ(items[4].choices[0], " Write them: {x}.");
  for (const uint32_t shots : {0u, 2u}) {
    expect_goldens("piqa", shots, JsonlDataset(from_task_file("piqa", "piqa.yaml", shots)),
                   "piqa.yaml");
    expect_goldens("piqa", shots, JsonlDataset(from_options("piqa", kPiqa, shots)), "piqa options");
  }
}

// sciq.yaml: doc_to_text "{{support.lstrip()}}\nQuestion: {{question}}\nAnswer:",
// doc_to_choice "{{[distractor1, distractor2, distractor3, correct_answer]}}",
// doc_to_target 3 (the correct answer is always the fourth choice).
TEST(LmEvalTasksTest, Sciq) {
  const auto items = all_items(JsonlDataset(from_task_file("sciq", "sciq.yaml", 0)));
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[1].context,
            "\nQuestion: What phenomenon makes global winds blow northeast to southwest or the "
            "reverse in the northern hemisphere and northwest to southeast or the reverse in the "
            "southern hemisphere?\nAnswer:");
  EXPECT_EQ(items[1].choices, (std::vector<std::string>{" muon effect", " centrifugal effect",
                                                        " tropical effect", " coriolis effect"}));
  EXPECT_EQ(items[2].context,
            "Summary Changes of state are examples of phase changes, or phase transitions.  \n"
            "Question: Changes from a less-ordered state to a more-ordered state (such as a liquid "
            "to a solid) are always what?\nAnswer:");
  for (const auto& item : items) EXPECT_EQ(item.gold, 3);
  for (const uint32_t shots : {0u, 2u}) {
    expect_goldens("sciq", shots, JsonlDataset(from_task_file("sciq", "sciq.yaml", shots)),
                   "sciq.yaml");
    expect_goldens("sciq", shots, JsonlDataset(from_options("sciq", kSciq, shots)), "sciq options");
  }
}

// winogrande/default.yaml with preprocess_winogrande.py: one context per
// choice, sentence[:idx] + option; one continuation, " " +
// sentence[idx + 1:].strip(); gold {"1": 0, "2": 1}[answer].
TEST(LmEvalTasksTest, WinograndePartialEvaluation) {
  const auto items = all_items(JsonlDataset(from_options("winogrande", kWinogrande, 0)));
  ASSERT_EQ(items.size(), 5u);
  EXPECT_EQ(items[0].contexts,
            (std::vector<std::string>{"Sarah was a much better surgeon than Maria so Sarah",
                                      "Sarah was a much better surgeon than Maria so Maria"}));
  EXPECT_EQ(items[0].choices, (std::vector<std::string>(2, " always got the harder cases.")));
  EXPECT_EQ(items[0].context, "");
  EXPECT_EQ(items[0].gold, 0);
  EXPECT_EQ(items[1].gold, 1);
  // With shots: each shot is its gold context, " ", its continuation, "\n\n";
  // the contexts share them.
  const auto shot = all_items(JsonlDataset(from_options("winogrande", kWinogrande, 1)));
  EXPECT_EQ(shot[0].contexts[1].substr(shot[0].context.size()),
            "Sarah was a much better surgeon than Maria so Maria");
  EXPECT_EQ(shot[0].context.substr(shot[0].context.size() - 2), "\n\n");
  for (const uint32_t shots : {0u, 2u}) {
    expect_goldens("winogrande", shots,
                   JsonlDataset(from_task_file("winogrande", "winogrande_jinja.yaml", shots)),
                   "winogrande_jinja.yaml");
    expect_goldens("winogrande", shots,
                   JsonlDataset(from_options("winogrande", kWinogrande, shots)),
                   "winogrande options");
    expect_goldens(
        "winogrande", shots,
        JsonlDataset(Config{{shots, 1234, 0}, data("winogrande"), winogrande::options()}),
        "winogrande preset");
  }
  // lm-eval's own file names Python functions: refused, saying so.
  EXPECT_EQ(error_message([] { from_task_file("winogrande", "default.yaml", 0); }),
            (kRoot / "winogrande/default.yaml").string() +
                ":7: doc_to_text: '!function preprocess_winogrande.doc_to_text' is Python code, "
                "which Compass does not run; write it as a Jinja template (docs/datasets.md shows "
                "Winogrande's functions as templates) or prepare the data in the jsonl file");
}

// hellaswag.yaml with utils.process_docs: query = preprocess(activity_label
// + ": " + ctx_a + " " + ctx_b.capitalize()), choices = preprocess(ending),
// gold = int(label); doc_to_text "{{query}}", doc_to_choice "choices".
TEST(LmEvalTasksTest, Hellaswag) {
  const auto items =
      all_items(JsonlDataset(from_task_file("hellaswag", "hellaswag_jinja.yaml", 0)));
  ASSERT_EQ(items.size(), 4u);
  EXPECT_EQ(items[0].context, "Roof shingle removal: A man is sitting on a roof. He");
  EXPECT_EQ(items[0].gold, 3);
  EXPECT_EQ(items[2].context,
            "Home and Garden: How to clean a sunroof. Open the sunroof. Slide it back");
  EXPECT_EQ(items[2].choices,
            (std::vector<std::string>{"  Wipe the seal with a damp cloth. Let it dry.",
                                      " Pour bleach on the roof. Wait.", " Close it again.",
                                      " Paint the glass black."}));
  EXPECT_EQ(items[3].context,
            "Personal Care and Style:. How to braid hair. Divide the hair into three sections");
  for (const uint32_t shots : {0u, 2u}) {
    expect_goldens("hellaswag", shots,
                   JsonlDataset(from_task_file("hellaswag", "hellaswag_jinja.yaml", shots)),
                   "hellaswag_jinja.yaml");
    // The hellaswag dataset, which implements process_docs, agrees.
    expect_goldens("hellaswag", shots,
                   hellaswag::Hellaswag(hellaswag::Config{{shots, 1234, 0}, data("hellaswag")}),
                   "hellaswag dataset");
  }
  EXPECT_EQ(error_message([] { from_task_file("hellaswag", "hellaswag.yaml", 0); }),
            (kRoot / "hellaswag/hellaswag.yaml").string() +
                ":10: process_docs: not supported: it is a Python function that rewrites the "
                "documents; write its result into the jsonl file, or use the Compass dataset "
                "that does it (dataset = \"hellaswag\")");
}

}  // namespace
}  // namespace compass::datasets::jsonl
