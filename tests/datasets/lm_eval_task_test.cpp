// Reading lm-evaluation-harness task files: the keys it maps, the ones it
// accepts without effect, and every refusal with the file, the line and
// the key.
#include "compass/datasets/lm_eval_task.h"
#include "compass/datasets/jsonl_dataset.h"

#include "dataset_test_util.h"

#include <gtest/gtest.h>

namespace compass::datasets::jsonl {
namespace {

using namespace compass::testing;
namespace fs = std::filesystem;

// The error reading `yaml` (as task.yaml in a scratch folder), the folder
// written as "<dir>".
std::string yaml_error(const std::string& yaml, const std::string& extra_name = "",
                       const std::string& extra = "") {
  const TempDir dir("lm_eval_task");
  if (!extra_name.empty()) dir.write(extra_name, extra);
  const fs::path file = dir.write("task.yaml", yaml);
  std::string message = error_message([&] { read_task_file(file); });
  for (size_t at = message.find(dir.root().string()); at != std::string::npos;
       at = message.find(dir.root().string())) {
    message.replace(at, dir.root().string().size(), "<dir>");
  }
  return message;
}

const std::string kMcHead =
    "task: t\noutput_type: multiple_choice\ndoc_to_text: \"Q: {{q}}\"\n"
    "doc_to_choice: \"{{[a, b]}}\"\ndoc_to_target: label\n";

TEST(LmEvalTaskFileTest, MapsKeysAndMetrics) {
  const TempDir dir("lm_eval_task");
  const fs::path file = dir.write(
      "gen.yaml",
      "task: qa\n"
      "dataset_path: some/hub_name\n"
      "dataset_name: null\n"
      "validation_split: validation\n"
      "output_type: generate_until\n"
      "description: \"Answer briefly.\\n\\n\"\n"
      "doc_to_text: \"Q: {{question}}\\nA:\"\n"
      "doc_to_target: \"{{answer}}\"\n"
      "target_delimiter: \" \"\n"
      "fewshot_delimiter: \"\\n###\\n\"\n"
      "num_fewshot: 3\n"
      "generation_kwargs:\n  until: [\"\\n\", \"Q:\"]\n  max_gen_toks: 32\n  do_sample: false\n"
      "  temperature: 0.0\n"
      "metric_list:\n"
      "  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n"
      "    ignore_case: true\n    regexes_to_ignore: [\",\"]\n"
      "metadata:\n  version: 2.0\n");
  const Options o = read_task_file(file);
  EXPECT_EQ(o.kind, Kind::kGenerate);
  EXPECT_EQ(o.stop, (std::vector<std::string>{"\n", "Q:"}));
  EXPECT_EQ(o.max_new_tokens, 32u);
  EXPECT_EQ(o.fewshot_delimiter, "\n###\n");
  EXPECT_EQ(o.num_shots, 3);
  EXPECT_EQ(o.scorer, "exact_match");
  EXPECT_EQ(o.scorer_options.dump(),
            R"({"ignore_case":true,"regexes_to_ignore":[","],"strip":false})");
  const fs::path records = dir.write("qa.jsonl",
                                     "{\"question\": \"2+2?\", \"answer\": \"4\"}\n"
                                     "{\"question\": \"3+3?\", \"answer\": \"6\"}\n");
  const auto items = all_items(JsonlDataset(Config{{1, 1234, 0}, records, o}));
  EXPECT_EQ(items[0].context, "Answer briefly.\n\nQ: 3+3?\nA: 6\n###\nQ: 2+2?\nA:");
  EXPECT_EQ(items[0].references, (std::vector<std::string>{"4"}));
  EXPECT_EQ(items[0].max_new_tokens, 32u);

  // A multiple-choice file without metric_list gets lm-eval's defaults
  // (acc, acc_norm); a fixed target; an include whose keys are overridden.
  dir.write("base.yaml", kMcHead + "num_fewshot: 1\n");
  const Options mc = read_task_file(
      dir.write("mc.yaml", "include: base.yaml\ndoc_to_target: 1\nnum_fewshot: 0\n"));
  EXPECT_EQ(mc.kind, Kind::kMultipleChoice);
  EXPECT_EQ(mc.scorer, "mcq_accuracy");
  EXPECT_TRUE(mc.scorer_options.is_null());
  EXPECT_EQ(mc.num_shots, 0);
  const fs::path mc_records = dir.write("mc.jsonl", "{\"q\": \"x\", \"a\": \"A\", \"b\": \"B\"}\n");
  const auto mc_items = all_items(JsonlDataset(Config{{0, 1234, 0}, mc_records, mc}));
  EXPECT_EQ(mc_items[0].context, "Q: x");
  EXPECT_EQ(mc_items[0].choices, (std::vector<std::string>{" A", " B"}));
  EXPECT_EQ(mc_items[0].gold, 1);

  // Rolling: the text is doc_to_target's (lm-eval ignores doc_to_text).
  const Options rolling = read_task_file(
      dir.write("wiki.yaml",
                "output_type: loglikelihood_rolling\ndoc_to_text: \"\"\n"
                "doc_to_target: \"{{page}}\"\nmetric_list:\n  - metric: word_perplexity\n"
                "  - metric: bits_per_byte\n    aggregation: bits_per_byte\n"
                "    higher_is_better: false\n"));
  EXPECT_EQ(rolling.kind, Kind::kRolling);
  EXPECT_EQ(rolling.scorer, "perplexity");
}

TEST(LmEvalTaskFileTest, RefusesWhatItCannotDo) {
  EXPECT_EQ(
      yaml_error(kMcHead + "doc_to_txt: x\n")
          .rfind("<dir>/task.yaml:6: doc_to_txt: unknown key in an lm-evaluation-harness task file "
                 "(did you mean 'doc_to_text'?); supported: task, output_type, doc_to_text, ",
                 0),
      0u);
  EXPECT_EQ(yaml_error(kMcHead + "filter_list:\n  - name: x\n"),
            "<dir>/task.yaml:6: filter_list: not supported: answer-extraction filters are not "
            "supported; choose a scorer that extracts answers (such as gsm8k_answer) with the "
            "task's scorer key");
  EXPECT_EQ(yaml_error(kMcHead + "process_results: !function utils.process_results\n")
                .rfind("<dir>/task.yaml:6: process_results: not supported: it is a Python scoring "
                       "function",
                       0),
            0u);
  EXPECT_EQ(yaml_error("output_type: multiple_choice\ndoc_to_text: !function utils.text\n"),
            "<dir>/task.yaml:2: doc_to_text: '!function utils.text' is Python code, which Compass "
            "does not run; write it as a Jinja template (docs/datasets.md shows Winogrande's "
            "functions as templates) or prepare the data in the jsonl file");
  EXPECT_EQ(yaml_error(kMcHead + "metric_list:\n  - metric: f1\n"),
            "<dir>/task.yaml:7: metric_list: metric 'f1' has no Compass scorer; supported: acc, "
            "acc_norm (mcq_accuracy), exact_match (exact_match), word_perplexity, "
            "byte_perplexity, bits_per_byte (perplexity)");
  EXPECT_EQ(yaml_error(kMcHead + "metric_list:\n  - metric: exact_match\n"),
            "<dir>/task.yaml:7: metric_list: metric 'exact_match' scores generate tasks, but "
            "output_type makes this one multiple_choice");
  EXPECT_EQ(yaml_error(kMcHead + "metric_list:\n  - metric: acc\n    aggregation: median\n"),
            "<dir>/task.yaml:8: metric_list.acc.aggregation: Compass aggregates acc as 'mean', "
            "not \"median\"");
  EXPECT_EQ(yaml_error("output_type: loglikelihood\ndoc_to_text: x\n"),
            "<dir>/task.yaml:1: output_type: 'loglikelihood' (one continuation's log-likelihood, "
            "as lambada) is not supported; supported: multiple_choice, generate_until, "
            "loglikelihood_rolling");
  EXPECT_EQ(yaml_error("output_type: generate_until\ndoc_to_text: q\ndoc_to_target: a\n"
                       "generation_kwargs:\n  do_sample: true\n"),
            "<dir>/task.yaml:5: generation_kwargs.do_sample: is not supported (supported: until, "
            "max_gen_toks, do_sample: false, temperature: 0); sampling is set by the [[task]]'s "
            "temperature, top_p, top_k and num_samples");
  EXPECT_EQ(yaml_error("output_type: multiple_choice\ndoc_to_text: \"Question: {goal}\"\n"
                       "doc_to_choice: \"{{[a, b]}}\"\ndoc_to_target: label\n"),
            "<dir>/task.yaml:2: doc_to_text: the template reads no field of the record, so every "
            "item would get the same text ('Question: {goal}'); single braces are literal text: "
            "write {{ goal }} for the field 'goal'");
  EXPECT_EQ(yaml_error("output_type: multiple_choice\ndoc_to_text: q\n"),
            "<dir>/task.yaml: doc_to_choice: is required for kind multiple_choice (a list field, "
            "a template giving a list, or a list of templates)");
  EXPECT_EQ(yaml_error("task: [a, b]\n"),
            "<dir>/task.yaml:1: task: a list of tasks is a group; give each task's own file in "
            "its own [[task]]");
  EXPECT_EQ(yaml_error("task: t\n  doc_to_text: x\n"),
            "<dir>/task.yaml:2:14: not valid YAML: illegal map value");
  EXPECT_EQ(yaml_error("- a\n- b\n"),
            "<dir>/task.yaml: an lm-evaluation-harness task file is a YAML mapping of keys (task, "
            "doc_to_text, ...)");
  EXPECT_EQ(yaml_error("include: base.yaml\n"), "task file '<dir>/base.yaml' not found");
  EXPECT_EQ(yaml_error("include: other.yaml\n", "other.yaml", "include: task.yaml\n"),
            "<dir>/other.yaml:1: include: includes '<dir>/task.yaml' again (an include cycle)");
  EXPECT_EQ(error_of([] { read_task_file("/nonexistent/task.yaml"); }).code(), COMPASS_NOT_FOUND);
}

// task_file beside the other options, through parse_options and describe.
// A fuzz finding: invalid UTF-8 in a value reached nlohmann's dump() in an
// error message, which threw type_error out of the plugin.
TEST(LmEvalTaskFileTest, InvalidUtf8IsRefusedNamingTheLine) {
  EXPECT_EQ(
      yaml_error(kMcHead + "description: \"caf\xe9\"\n"),
      "<dir>/task.yaml:6: not valid UTF-8 (byte " + std::to_string(kMcHead.size() + 17) + ")");
  EXPECT_EQ(yaml_error("task: t\ndoc_to_text: \xff\n"),
            "<dir>/task.yaml:2: not valid UTF-8 (byte 21)");
}

TEST(LmEvalTaskFileTest, ThroughTheOptions) {
  const TempDir dir("lm_eval_task");
  const fs::path file = dir.write("t.yaml", kMcHead + "num_fewshot: 5\n");
  const fs::path records = dir.write("d.jsonl",
                                     "{\"q\": \"x\", \"a\": \"A\", \"b\": \"B\", "
                                     "\"label\": 0, \"s\": \"g\"}\n");
  const nlohmann::json options = {{"task_file", file.string()}, {"group", "s"}};
  compass_dataset_config abi{};
  abi.struct_size = sizeof abi;
  const std::string path = records.string(), text = options.dump();
  abi.path = sdk::str(path);
  abi.options_json = sdk::str(text);
  const sdk::TaskInfo info = describe(abi);
  EXPECT_EQ(info.item_kinds, COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_MULTIPLE_CHOICE));
  EXPECT_EQ(info.scorer, "mcq_accuracy");
  EXPECT_EQ(info.num_shots, 5);
  const auto items = all_items(JsonlDataset(config_from_abi(abi)));
  EXPECT_EQ(items[0].group, "g");
  EXPECT_EQ(items[0].gold, 0);
}

}  // namespace
}  // namespace compass::datasets::jsonl
