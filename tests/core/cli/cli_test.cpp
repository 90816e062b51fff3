// Runs the real compass executable on good and bad input and checks exit
// codes and messages: every bad input is one clear line and a non-zero exit,
// never a crash.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <compass/plugin.h>

#include <sys/wait.h>
#include "test_files.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using compass::testing::Slurp;
fs::path TempDir(const std::string& name) {
  return compass::testing::TempDir("cli", name);
}

struct Outcome {
  int exit_code = -1;
  bool signalled = false;
  std::string out, err;
};

Outcome RunCompass(const std::string& args) {
  static const fs::path tmp = TempDir("io");
  const fs::path out = tmp / "stdout", err = tmp / "stderr";
  const std::string cmd =
      std::string(COMPASS_EXE) + " " + args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(cmd.c_str());
  Outcome o;
  o.signalled = WIFSIGNALED(status) ||
                (WIFEXITED(status) && WEXITSTATUS(status) > 128 && WEXITSTATUS(status) != 130);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = Slurp(out);
  o.err = Slurp(err);
  return o;
}

size_t Lines(const std::string& s) {
  size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// A valid config over the MMLU fixture; `extra` is appended.
fs::path WriteConfig(const fs::path& dir, const std::string& model_section,
                     const std::string& extra = "") {
  fs::create_directories(dir / "model");
  const fs::path cfg = dir / "eval.toml";
  std::ofstream(cfg) << model_section << "\n[backend]\ndevices = [\"cpu\"]\n\n[[task]]\n"
                     << "dataset = \"mmlu\"\npath = \"" << COMPASS_SOURCE_DIR
                     << "/tests/fixtures/mmlu\"\nshots = 1\nlimit = 6\n"
                     << extra;
  return cfg;
}

const char kModel[] = "[model]\npath = \"model\"\ntokenizer = \"bytes\"\n";

TEST(Cli, VersionAndHelp) {
  auto o = RunCompass("--version");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_NE(o.out.find("plugin ABI"), std::string::npos);
  o = RunCompass("--help");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_NE(o.out.find("--backend"), std::string::npos);
  o = RunCompass("plugins --help");
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_NE(o.out.find("--json"), std::string::npos);
}

TEST(Cli, UnknownFlagIsUsageError) {
  auto o = RunCompass("--bakend x");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_FALSE(o.signalled);
}

// Output that never arrived (stdout on a full disk: /dev/full) is a
// failure, not a success.
TEST(Cli, OutputThatCannotBeWrittenIsAFailure) {
  const fs::path err = TempDir("full") / "stderr";
  const int status = std::system(
      (std::string(COMPASS_EXE) + " plugins --json >/dev/full 2>" + err.string()).c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_NE(Slurp(err).find("cannot write the standard output"), std::string::npos) << Slurp(err);
}

TEST(Cli, PluginsListsInTreePluginsAsJson) {
  auto o = RunCompass("plugins --json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  for (const char* name :
       {"\"hf_native\"", "\"paged_tp\"", "\"pipeline\"", "\"mmlu\"", "\"mcq_accuracy\""}) {
    EXPECT_NE(o.out.find(name), std::string::npos) << name;
  }
  // Backends say what they serve.
  const auto j = nlohmann::json::parse(o.out);
  for (const auto& p : j["plugins"]) {
    if (p["name"] == "hf_native") {
      EXPECT_EQ(p["serves"], nlohmann::json({"loglikelihood", "generate", "sample"}));
    }
  }
}

TEST(Cli, RunsAnEvaluationEndToEnd) {
  const auto dir = TempDir("run");
  const auto cfg = WriteConfig(dir, kModel);
  auto o =
      RunCompass("--plugin-dir " + std::string(COMPASS_TEST_PLUGIN_ROOT) + "/good --backend good" +
                 " --config " + cfg.string() + " --output " + (dir / "out").string());
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const std::string results = Slurp(dir / "out" / "results.json");
  EXPECT_NE(results.find("\"acc\""), std::string::npos);
  EXPECT_NE(results.find("\"items\": 12"), std::string::npos) << results;  // limit 6 per subject
}

TEST(Cli, BrokenTomlNamesLineAndColumn) {
  const auto dir = TempDir("broken");
  const auto cfg = WriteConfig(dir, kModel, "oops = = 3\n");
  auto o = RunCompass("--backend good --config " + cfg.string());
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_FALSE(o.signalled);
  EXPECT_EQ(Lines(o.err), 1u) << o.err;
  EXPECT_NE(o.err.find("eval.toml:13:"), std::string::npos) << o.err;
}

TEST(Cli, UnknownKeyHasHint) {
  const auto dir = TempDir("unknown");
  const auto cfg = WriteConfig(dir, std::string(kModel) + "dtpye = \"float32\"\n");
  auto o = RunCompass("--backend good --config " + cfg.string());
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(Lines(o.err), 1u) << o.err;
  EXPECT_NE(o.err.find("did you mean 'dtype'"), std::string::npos) << o.err;
}

TEST(Cli, MissingModelPathIsClear) {
  const auto dir = TempDir("nomodel");
  const auto cfg = WriteConfig(dir, "[model]\npath = \"no/such/model\"\ntokenizer = \"bytes\"\n");
  auto o = RunCompass("--backend good --config " + cfg.string());
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(Lines(o.err), 1u) << o.err;
  EXPECT_NE(o.err.find("model.path"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("no/such/model"), std::string::npos) << o.err;
}

TEST(Cli, CompareRefusesUnknownAndRepeatedBackendsBeforeRunningAny) {
  const auto dir = TempDir("compare_bad");
  const auto cfg = WriteConfig(dir, kModel);
  const std::string plugins = "--plugin-dir " + std::string(COMPASS_TEST_PLUGIN_ROOT) + "/good ";
  auto o = RunCompass(plugins + "compare --backends good,good --config " + cfg.string() +
                      " --output " + (dir / "twice").string());
  EXPECT_EQ(o.exit_code, 2) << o.err;
  EXPECT_NE(o.err.find("backend 'good' is listed twice"), std::string::npos) << o.err;
  o = RunCompass(plugins + "compare --backends good,goood --config " + cfg.string() +
                 " --output " + (dir / "unknown").string());
  EXPECT_EQ(o.exit_code, 3) << o.err;
  EXPECT_NE(o.err.find("goood"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("did you mean 'good'?"), std::string::npos) << o.err;
  // Nothing ran: the first backend is not started when a later one is bad.
  EXPECT_FALSE(fs::exists(dir / "unknown" / "results.sqlite"));
}

TEST(Cli, MissingConfigFileIsClear) {
  auto o = RunCompass("--backend good --config /no/such/eval.toml");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(Lines(o.err), 1u) << o.err;
  EXPECT_NE(o.err.find("/no/such/eval.toml"), std::string::npos) << o.err;
}

TEST(Cli, TextFileNamedLibFooSoIsRefusedNotFatal) {
  const auto dir = TempDir("textso");
  std::ofstream(dir / "libfoo.so") << "not a library\n";
  auto o = RunCompass("plugins --plugin-dir " + dir.string());
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("libfoo.so: not a loadable shared library"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("mmlu"), std::string::npos);  // the others still load

  const auto cfg = WriteConfig(dir, kModel);
  o = RunCompass("--plugin-dir " + dir.string() + " --backend foo --config " + cfg.string());
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_FALSE(o.signalled);
  EXPECT_EQ(Lines(o.err), 1u) << o.err;
  EXPECT_NE(o.err.find("no backend plugin named 'foo'"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("libfoo.so"), std::string::npos) << o.err;
}

TEST(Cli, PluginBuiltForNextMajorIsRefusedWithBothVersions) {
  const auto dir = TempDir("major");
  const auto cfg = WriteConfig(dir, kModel);
  auto o = RunCompass("--plugin-dir " + std::string(COMPASS_TEST_PLUGIN_ROOT) +
                      "/major_next --backend future --config " + cfg.string());
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(Lines(o.err), 1u) << o.err;
  EXPECT_NE(o.err.find("libtest_next_major.so"), std::string::npos) << o.err;
  // The fixture is this SDK's header with the next major: 3.<minor>.
  const std::string minor = std::to_string(COMPASS_ABI_MINOR);
  EXPECT_NE(o.err.find("built for plugin ABI 3." + minor), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("speaks ABI 2." + minor), std::string::npos) << o.err;
}

TEST(Cli, ABackendRefusingItsModelNamesTheBackendAndTheFile) {
  const auto dir = TempDir("badmodel");
  const auto cfg = WriteConfig(dir, kModel);
  auto o = RunCompass("--backend pipeline --config " + cfg.string());
  EXPECT_NE(o.exit_code, 0);
  EXPECT_FALSE(o.signalled);
  EXPECT_NE(o.err.find("backend 'pipeline' create"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find((dir / "model").string()), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("not valid JSON"), std::string::npos) << o.err;
}

TEST(Cli, SetOverridesAndLogFile) {
  const auto dir = TempDir("set");
  const auto cfg = WriteConfig(dir, kModel);
  const auto log = dir / "compass.log";
  auto o =
      RunCompass("--plugin-dir " + std::string(COMPASS_TEST_PLUGIN_ROOT) + "/good --backend good" +
                 " --config " + cfg.string() + " --set task.0.limit=3 -q --log-file " +
                 log.string() + " --output " + (dir / "out").string());
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(o.err, "");  // -q: nothing below warnings
  // limit applies per subject: 3 of each of the fixture's 2 subjects.
  EXPECT_NE(Slurp(dir / "out" / "results.json").find("\"items\": 6"), std::string::npos);
  EXPECT_NE(Slurp(log).find("6 items"), std::string::npos);
}

TEST(Cli, DeviceThatDoesNotExistIsRefusedBeforeLoading) {
  const auto dir = TempDir("nodevice");
  const auto cfg = WriteConfig(dir, kModel);
  auto o = RunCompass("--plugin-dir " + std::string(COMPASS_TEST_PLUGIN_ROOT) +
                      "/good --backend good --config " + cfg.string() +
                      " --set 'backend.devices=[\"cuda:99\"]'");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(Lines(o.err), 1u) << o.err;
  EXPECT_NE(o.err.find("device 'cuda:99' does not exist"), std::string::npos) << o.err;
}

TEST(Cli, PlanNeedsOnlyConfigJsonAndNoTask) {
  // A user checks whether a model fits before downloading it: the folder
  // holds config.json alone, and the config has no [[task]].
  const auto dir = TempDir("planonly");
  fs::create_directories(dir / "llama2-13b");
  fs::copy_file(fs::path(COMPASS_SOURCE_DIR) / "tests/fixtures/configs/llama2-13b/config.json",
                dir / "llama2-13b" / "config.json", fs::copy_options::overwrite_existing);
  std::ofstream(dir / "plan.toml") << "[model]\npath = \"llama2-13b\"\ndtype = \"bf16\"\n";
  auto o = RunCompass("plan --backend hf_native --config " + (dir / "plan.toml").string() +
                      " --devices 4xA40-48GB");
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("dtype bfloat16"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("context window 4096"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("FITS"), std::string::npos) << o.out;
  // bf16 on GPUs without it: the plan says float16 would be used, and why.
  o = RunCompass("plan --backend hf_native --config " + (dir / "plan.toml").string() +
                 " --devices 4xT4-16GB-nobf16 --set model.allow_dtype_fallback=true");
  EXPECT_NE(o.out.find("dtype float16"), std::string::npos) << o.out << o.err;
  EXPECT_NE(o.out.find("computing in float16"), std::string::npos) << o.out;
  // A run of the same config says what is missing.
  o = RunCompass("--backend hf_native --config " + (dir / "plan.toml").string());
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("no [[task]] table"), std::string::npos) << o.err;
}

TEST(Cli, PlanValidatesTheTasksItIsGiven) {
  // A misspelt MMLU subject is refused by the plan as by the run.
  const auto dir = TempDir("plantasks");
  const auto cfg = WriteConfig(dir, kModel, "subjects = [\"anatomyy\"]\n");
  auto o = RunCompass("plan --backend hf_native --config " + cfg.string());
  EXPECT_EQ(o.exit_code, 2) << o.out;
  EXPECT_NE(o.err.find("anatomyy"), std::string::npos) << o.err;
  EXPECT_EQ(o.out.find("FITS"), std::string::npos) << o.out;
}

TEST(Cli, TokenizeShowsIdsAndPieces) {
  auto o = RunCompass(std::string("tokenize --json --model ") + COMPASS_SOURCE_DIR +
                      "/tests/fixtures/tokenizers/llama2 \"I believe the meaning of life is\"");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  // The published Llama-2 reference (without BOS).
  const std::string compact = [&] {
    std::string s;
    for (char c : o.out) {
      if (c != ' ' && c != '\n') s += c;
    }
    return s;
  }();
  EXPECT_NE(compact.find("\"ids\":[306,4658,278,6593,310,2834,338]"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("\u2581believe"), std::string::npos);
  o = RunCompass("tokenize --model /no/such/model hello");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(Lines(o.err), 1u) << o.err;
  EXPECT_NE(o.err.find("tokenizer.json"), std::string::npos);
}

TEST(Cli, PlanAndTokenizeReadAGgufFile) {
  // model.path names one .gguf file: the plan reads its header alone (the
  // context window is llama.context_length), tokenize its tokenizer.
  const auto dir = TempDir("gguf");
  const fs::path gguf = fs::path(COMPASS_SOURCE_DIR) / "tests/fixtures/gguf/tiny_llama.gguf";
  std::ofstream(dir / "plan.toml") << "[model]\npath = \"" << gguf.string() << "\"\n";
  auto o = RunCompass("plan --backend hf_native --config " + (dir / "plan.toml").string());
  EXPECT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("context window 128 tokens"), std::string::npos) << o.out;
  EXPECT_NE(o.out.find("FITS"), std::string::npos) << o.out;

  std::ifstream goldens_file(fs::path(COMPASS_SOURCE_DIR) /
                             "tests/fixtures/gguf/tiny_model_goldens.json");
  const auto goldens = nlohmann::json::parse(goldens_file);
  const auto& golden = goldens["models"]["llama"]["tokenizer"][0];
  o = RunCompass("tokenize --json --model " + gguf.string() + " \"" +
                 golden["text"].get<std::string>() + "\"");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_EQ(nlohmann::json::parse(o.out)["ids"], golden["ids"]) << o.out;
}

TEST(Cli, ABrokenGgufFileIsOneClearLine) {
  const auto dir = TempDir("badgguf");
  const fs::path good = fs::path(COMPASS_SOURCE_DIR) / "tests/fixtures/gguf/tiny_llama.gguf";
  const std::string bytes = Slurp(good);
  struct Case {
    std::string name, content, fragment;
  };
  const std::vector<Case> cases = {
      {"magic.gguf", "PK\x03\x04" + bytes.substr(4), "not a GGUF file"},
      {"truncated.gguf", bytes.substr(0, bytes.size() / 2), "runs past the end of the file"},
  };
  for (const Case& c : cases) {
    std::ofstream(dir / c.name, std::ios::binary) << c.content;
    std::ofstream(dir / "eval.toml") << "[model]\npath = \"" << c.name << "\"\n";
    auto o = RunCompass("plan --backend hf_native --config " + (dir / "eval.toml").string());
    EXPECT_EQ(o.exit_code, 2) << c.name << ": " << o.err;
    EXPECT_FALSE(o.signalled);
    EXPECT_EQ(Lines(o.err), 1u) << o.err;
    EXPECT_NE(o.err.find((dir / c.name).string()), std::string::npos) << o.err;
    EXPECT_NE(o.err.find(c.fragment), std::string::npos) << o.err;
  }
}

}  // namespace
