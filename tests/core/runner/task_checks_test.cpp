// Task definitions checked before the run, end to end through the compass
// executable with a test backend that records whether load() was called:
// a scorer that does not fit the task's items, a template that substitutes
// no field and an unknown key in an lm-evaluation-harness task file stop
// the run (exit 2) before any weight is loaded; the scorer a task gets
// without naming one follows its kind; a task file's num_fewshot, a
// partial evaluation's per-choice contexts and a path relative to the
// config reach the backend.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "test_files.h"

namespace compass {
namespace {

namespace fs = std::filesystem;
using compass::testing::Slurp;

const std::string kFixtures = std::string(COMPASS_SOURCE_DIR) + "/tests/fixtures";

struct Outcome {
  int exit_code = -1;
  std::string err;
  bool loaded = false;  // the backend's load() ran
};

class TaskChecks : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = compass::testing::TempDir(
        "task_checks", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_ / "model");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs compass on a config of `tasks` ([[task]] tables) with the slow
  // backend.
  Outcome Run(const std::string& tasks) {
    const fs::path cfg = dir_ / "eval.toml";
    std::ofstream(cfg) << "[model]\npath = \"model\"\ntokenizer = \"bytes\"\n\n[backend.slow]\n"
                       << "log_file = \"" << (dir_ / "requests.log").string() << "\"\n"
                       << "load_file = \"" << (dir_ / "loaded").string() << "\"\n\n"
                       << tasks;
    const std::string cmd = std::string(COMPASS_EXE) + " --plugin-dir " + COMPASS_SLOW_PLUGIN_DIR +
                            " --backend slow --config " + cfg.string() + " --output " +
                            (dir_ / "run").string() + " -q >/dev/null 2>" +
                            (dir_ / "stderr").string();
    const int status = std::system(cmd.c_str());
    Outcome o;
    o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    o.err = Slurp(dir_ / "stderr");
    o.loaded = fs::exists(dir_ / "loaded");
    return o;
  }

  nlohmann::json Results() const {
    return nlohmann::json::parse(Slurp(dir_ / "run" / "results.json"));
  }

  fs::path dir_;
};

const std::string kPiqaTask = "[[task]]\nname = \"piqa\"\ndataset = \"jsonl\"\npath = \"" +
                              kFixtures +
                              "/lm_eval/piqa/validation.jsonl\"\nkind = \"multiple_choice\"\n"
                              "prompt = \"Question: {{goal}}\\nAnswer:\"\n"
                              "choices = \"{{[sol1, sol2]}}\"\nanswer = \"label\"\n";

TEST_F(TaskChecks, ScorerThatDoesNotFitTheItemsStopsTheRunBeforeLoad) {
  const Outcome o = Run(kPiqaTask + "scorer = \"exact_match\"\n");
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_FALSE(o.loaded);
  EXPECT_NE(o.err.find("eval.toml:17:10: task[0].scorer: scorer 'exact_match' scores generate "
                       "items, but task 'piqa' (dataset 'jsonl') gives multiple_choice items; use "
                       "scorer = \"mcq_accuracy\""),
            std::string::npos)
      << o.err;
  EXPECT_FALSE(fs::exists(dir_ / "requests.log"));
}

TEST_F(TaskChecks, ScorerFollowsTheKindWhenNoneIsNamed) {
  const Outcome o = Run(kPiqaTask);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_TRUE(o.loaded);
  const nlohmann::json r = Results();
  EXPECT_EQ(r["tasks"][0]["scorer"], "mcq_accuracy");
  EXPECT_EQ(r["tasks"][0]["items"], 5);
  EXPECT_TRUE(r["tasks"][0]["metrics"].contains("acc_norm"));
}

TEST_F(TaskChecks, TemplateWithoutAFieldStopsTheRunBeforeLoad) {
  std::string task = kPiqaTask;
  task.replace(task.find("{{goal}}"), 8, "{goal}");
  const Outcome o = Run(task);
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_FALSE(o.loaded);
  EXPECT_NE(o.err.find("option 'prompt': the template reads no field of the record, so every "
                       "item would get the same text ('Question: {goal}\\nAnswer:'); single "
                       "braces are literal text: write {{ goal }} for the field 'goal'"),
            std::string::npos)
      << o.err;
}

TEST_F(TaskChecks, UnknownTaskFileKeyStopsTheRunBeforeLoad) {
  fs::create_directories(dir_ / "tasks");
  std::ofstream(dir_ / "tasks" / "piqa.yaml")
      << Slurp(kFixtures + "/lm_eval/piqa/piqa.yaml") << "num_fewshots: 2\n";
  const Outcome o = Run("[[task]]\ndataset = \"jsonl\"\npath = \"" + kFixtures +
                        "/lm_eval/piqa/validation.jsonl\"\ntask_file = \"tasks/piqa.yaml\"\n");
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_FALSE(o.loaded);
  EXPECT_NE(o.err.find((dir_ / "tasks" / "piqa.yaml").string() +
                       ":22: num_fewshots: unknown key in an lm-evaluation-harness task file (did "
                       "you mean 'num_fewshot'?)"),
            std::string::npos)
      << o.err;
}

// The task file's num_fewshot sets the shots when the task gives none; its
// path is taken from the config's folder.
TEST_F(TaskChecks, TaskFileRunsWithItsFewShotsAndScorer) {
  fs::create_directories(dir_ / "tasks");
  std::ofstream(dir_ / "tasks" / "sciq.yaml")
      << Slurp(kFixtures + "/lm_eval/sciq/sciq.yaml") << "num_fewshot: 2\n";
  const std::string task = "[[task]]\ndataset = \"jsonl\"\npath = \"" + kFixtures +
                           "/lm_eval/sciq/validation.jsonl\"\ntask_file = \"tasks/sciq.yaml\"\n";
  const Outcome o = Run(task);
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(Results()["tasks"][0]["scorer"], "mcq_accuracy");
  // The 2-shot contexts of lm-eval's own goldens.
  const nlohmann::json goldens =
      nlohmann::json::parse(Slurp(kFixtures + "/lm_eval/sciq/goldens.json"));
  std::ifstream samples(dir_ / "run" / "samples.jsonl");
  std::string line;
  size_t i = 0;
  while (std::getline(samples, line)) {
    const nlohmann::json s = nlohmann::json::parse(line);
    EXPECT_EQ(s["prompt"], goldens["shots"]["2"][i]["contexts"][0]) << "record " << i;
    ++i;
  }
  EXPECT_EQ(i, 4u);
  // shots = 0 in the task wins over num_fewshot.
  fs::remove_all(dir_ / "run");
  ASSERT_EQ(Run(task + "shots = 0\n").exit_code, 0);
  std::ifstream again(dir_ / "run" / "samples.jsonl");
  std::getline(again, line);
  EXPECT_EQ(nlohmann::json::parse(line)["prompt"], goldens["shots"]["0"][0]["contexts"][0]);
}

// Winogrande: each choice is scored after its own context; the backend
// receives different contexts and the same continuation.
TEST_F(TaskChecks, PartialEvaluationSendsOneContextPerChoice) {
  const Outcome o = Run("[[task]]\ndataset = \"winogrande\"\npath = \"" + kFixtures +
                        "/lm_eval/winogrande/validation.jsonl\"\n");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const nlohmann::json r = Results();
  EXPECT_EQ(r["tasks"][0]["scorer"], "mcq_accuracy");
  EXPECT_EQ(r["tasks"][0]["requests"], 10);
  std::ifstream samples(dir_ / "run" / "samples.jsonl");
  std::string line;
  std::getline(samples, line);
  const nlohmann::json s = nlohmann::json::parse(line);
  EXPECT_EQ(s["contexts"][0], "Sarah was a much better surgeon than Maria so Sarah");
  EXPECT_EQ(s["contexts"][1], "Sarah was a much better surgeon than Maria so Maria");
  EXPECT_EQ(s["choices"][0], " always got the harder cases.");
  EXPECT_EQ(s["reference"], "Sarah was a much better surgeon than Maria so Sarah");
  // The byte tokenizer: the log's context ids spell the two contexts.
  const std::string log = Slurp(dir_ / "requests.log");
  std::string sarah;
  for (const char c : std::string("so Sarah")) sarah += std::to_string(int(c)) + " ";
  EXPECT_NE(log.find(sarah + "|"), std::string::npos);
}

}  // namespace
}  // namespace compass
