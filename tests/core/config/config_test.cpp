#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace compass {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A temporary folder with a model folder, a dataset folder and a dataset file.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    dir_ = fs::temp_directory_path() /
           ("compass_config_test_" + std::to_string(stamp) + "_" + std::to_string(counter++));
    fs::create_directories(dir_ / "models" / "tiny");
    fs::create_directories(dir_ / "data" / "mmlu");
    std::ofstream(dir_ / "data" / "gsm8k.jsonl") << "{}\n";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  StatusOr<EvalConfig> Parse(const std::string& text,
                             const std::vector<std::string>& overrides = {}) {
    return ParseConfig(text, "eval.toml", dir_.string(), overrides);
  }

  // model + one task, for tests that change one thing.
  static std::string Minimal(const std::string& model_extra = "", const std::string& rest = "") {
    return "[model]\npath = \"models/tiny\"\n" + model_extra +
           "\n[[task]]\ndataset = \"mmlu\"\npath = \"data/mmlu\"\n" + rest;
  }

  fs::path dir_;
};

TEST(SourcePosTest, ToString) {
  EXPECT_EQ((SourcePos{"eval.toml", 12, 5}.ToString()), "eval.toml:12:5");
  EXPECT_EQ((SourcePos{"eval.toml", 0, 0}.ToString()), "eval.toml");
}

TEST_F(ConfigTest, FullConfigParses) {
  const std::string text = R"([model]
path = "models/tiny"
dtype = "bf16"
allow_dtype_fallback = true
tokenizer = "bytes"

[backend]
devices = ["cuda:0", "cuda:1", "cpu:3", "cpu"]
batch_size = 16

[backend.hf_native]
device_map = "auto"
max_memory = { "cuda:0" = "40GiB" }

[[task]]
dataset = "mmlu"
path = "data/mmlu"
shots = 5
scorer = "mcq_accuracy"
limit = 100
seed = 7
subjects = ["anatomy"]
scorer_options = { strict = true }

[[task]]
name = "gsm"
dataset = "gsm8k"
path = "data/gsm8k.jsonl"
max_new_tokens = 128

[run]
output = "runs/out"
seed = 99
limit = 50
)";
  StatusOr<EvalConfig> parsed = Parse(text);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const EvalConfig& c = *parsed;
  EXPECT_EQ(c.model.path, (dir_ / "models" / "tiny").string());
  EXPECT_EQ(c.model.dtype, "bfloat16");
  EXPECT_TRUE(c.model.allow_dtype_fallback);
  EXPECT_EQ(c.model.tokenizer, "bytes");
  EXPECT_EQ(c.model.where.ToString(), "eval.toml:1:1");

  EXPECT_EQ(c.backend.devices, (std::vector<std::string>{"cuda:0", "cuda:1", "cpu:3", "cpu"}));
  EXPECT_EQ(c.backend.batch_size, 16u);
  ASSERT_EQ(c.backend.plugin_tables.size(), 1u);
  const toml::table& hf = c.backend.plugin_tables.at("hf_native");
  EXPECT_EQ(hf["device_map"].value<std::string>(), "auto");
  EXPECT_EQ(hf["max_memory"]["cuda:0"].value<std::string>(), "40GiB");
  EXPECT_EQ(hf.source().begin.line, 11u);  // positions survive the move
  EXPECT_EQ(hf.get("device_map")->source().begin.line, 12u);

  ASSERT_EQ(c.tasks.size(), 2u);
  const TaskConfig& mmlu = c.tasks[0];
  EXPECT_EQ(mmlu.name, "mmlu");
  EXPECT_EQ(mmlu.dataset, "mmlu");
  EXPECT_EQ(mmlu.path, (dir_ / "data" / "mmlu").string());
  EXPECT_EQ(mmlu.shots, 5u);
  EXPECT_EQ(mmlu.scorer, "mcq_accuracy");
  EXPECT_EQ(mmlu.limit, 100u);
  EXPECT_EQ(mmlu.seed, 7u);
  EXPECT_EQ(mmlu.max_new_tokens, 256u);
  EXPECT_EQ(mmlu.scorer_options["strict"].value<bool>(), true);
  EXPECT_EQ(mmlu.dataset_options.size(), 1u);
  ASSERT_NE(mmlu.dataset_options.get("subjects"), nullptr);
  EXPECT_EQ(mmlu.dataset_options["subjects"][0].value<std::string>(), "anatomy");
  EXPECT_EQ(mmlu.dataset_options.get("subjects")->source().begin.line, 22u);
  EXPECT_EQ(mmlu.where.ToString(), "eval.toml:15:1");
  EXPECT_TRUE(mmlu.shots_set);
  EXPECT_EQ(mmlu.scorer_where.ToString(), "eval.toml:19:10");
  EXPECT_EQ(c.base_dir, dir_.string());

  const TaskConfig& gsm = c.tasks[1];
  EXPECT_EQ(gsm.name, "gsm");
  EXPECT_EQ(gsm.dataset, "gsm8k");
  EXPECT_EQ(gsm.path, (dir_ / "data" / "gsm8k.jsonl").string());
  EXPECT_EQ(gsm.max_new_tokens, 128u);
  EXPECT_EQ(gsm.seed, 99u);  // from run.seed
  EXPECT_TRUE(gsm.dataset_options.empty());
  EXPECT_FALSE(gsm.shots_set);  // the dataset may set it
  EXPECT_EQ(gsm.scorer_where.line, 0);

  EXPECT_EQ(c.run.output, (dir_ / "runs" / "out").string());
  EXPECT_EQ(c.run.seed, 99u);
  EXPECT_EQ(c.run.limit, 50u);

  // root is the whole document, with positions.
  EXPECT_EQ(c.root["model"]["dtype"].value<std::string>(), "bf16");
  EXPECT_EQ(c.root["backend"]["hf_native"]["device_map"].node()->source().begin.line, 12u);
}

TEST_F(ConfigTest, DefaultsAndAliases) {
  StatusOr<EvalConfig> parsed = Parse(Minimal());
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->model.dtype, "float32");
  EXPECT_FALSE(parsed->model.allow_dtype_fallback);
  EXPECT_EQ(parsed->model.tokenizer, "auto");
  EXPECT_EQ(parsed->backend.devices, std::vector<std::string>{"cpu"});
  EXPECT_EQ(parsed->backend.batch_size, 0u);
  EXPECT_EQ(parsed->tasks[0].shots, 0u);
  EXPECT_EQ(parsed->tasks[0].seed, 1234u);
  EXPECT_EQ(parsed->run.output, "");

  for (const auto& [alias, canonical] :
       std::vector<std::pair<std::string, std::string>>{{"fp32", "float32"},
                                                        {"f32", "float32"},
                                                        {"fp16", "float16"},
                                                        {"f16", "float16"},
                                                        {"half", "float16"},
                                                        {"bf16", "bfloat16"},
                                                        {"float16", "float16"}}) {
    StatusOr<EvalConfig> c = Parse(Minimal("dtype = \"" + alias + "\""));
    ASSERT_TRUE(c.ok()) << c.status().message();
    EXPECT_EQ(c->model.dtype, canonical) << alias;
  }
}

TEST_F(ConfigTest, BatchSize) {
  StatusOr<EvalConfig> c = Parse(Minimal("", "[backend]\nbatch_size = \"auto\"\n"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->backend.batch_size, 0u);

  c = Parse(Minimal("", "[backend]\nbatch_size = 0\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("backend.batch_size: must be between 1 and"));

  c = Parse(Minimal("", "[backend]\nbatch_size = \"big\"\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("'big' is not a batch size"));
}

TEST_F(ConfigTest, TomlSyntaxErrorHasLineAndColumn) {
  // Line 4: the value is missing after '='.
  const std::string text = "[model]\npath = \"models/tiny\"\n\ndtype = \n";
  StatusOr<EvalConfig> c = Parse(text);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_THAT(c.status().message(), StartsWith("eval.toml:4:9: TOML syntax error: "));

  // An unterminated array on line 2.
  c = Parse("[model]\nx = [1, 2\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), StartsWith("eval.toml:"));
  EXPECT_THAT(c.status().message(), HasSubstr("TOML syntax error"));
  EXPECT_EQ(c.status().message().find('\n'), std::string::npos);
}

TEST_F(ConfigTest, UnknownTopLevelKeyWithHint) {
  StatusOr<EvalConfig> c = Parse("[model]\npath = \"models/tiny\"\n[modle]\nx = 1\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(c.status().message(),
            "eval.toml:3:1: unknown key 'modle' at top level (did you mean 'model'?); allowed: "
            "model, backend, task, run");
}

TEST_F(ConfigTest, AddBosIsOptional) {
  StatusOr<EvalConfig> unset = Parse(Minimal(""));
  ASSERT_TRUE(unset.ok()) << unset.status().message();
  EXPECT_FALSE(unset->model.add_bos.has_value());
  StatusOr<EvalConfig> off = Parse(Minimal("add_bos = false"));
  ASSERT_TRUE(off.ok()) << off.status().message();
  EXPECT_EQ(off->model.add_bos, false);
  EXPECT_FALSE(Parse(Minimal("add_bos = \"yes\"")).ok());
}

TEST_F(ConfigTest, UnknownKeyInTable) {
  StatusOr<EvalConfig> c = Parse(Minimal("dtpye = \"bf16\""));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "eval.toml:3:1: unknown key 'dtpye' in [model] (did you mean 'dtype'?); allowed: path, "
            "dtype, allow_dtype_fallback, tokenizer, add_bos, max_length");

  c = Parse(Minimal("", "[backend]\ndevice = [\"cpu\"]\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("unknown key 'device' in [backend]"));
  EXPECT_THAT(c.status().message(), HasSubstr("(did you mean 'devices'?)"));

  c = Parse(Minimal("", "[run]\nsed = 3\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("unknown key 'sed' in [run] (did you mean 'seed'?)"));
}

TEST_F(ConfigTest, WrongType) {
  StatusOr<EvalConfig> c = Parse(Minimal("", "shots = \"5\"\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_THAT(c.status().message(),
              StartsWith("eval.toml:7:9: task[0].shots: expected an integer, got a string"));

  c = Parse(Minimal("allow_dtype_fallback = 1"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              HasSubstr("model.allow_dtype_fallback: expected a boolean (true or false), got an "
                        "integer"));

  c = Parse(Minimal("", "shots = -1\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("task[0].shots: must be between 0 and"));

  c = Parse(Minimal("", "max_new_tokens = 0\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("task[0].max_new_tokens: must be between 1 and"));

  c = Parse("[model]\npath = \"models/tiny\"\n[task]\ndataset = \"mmlu\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("write [[task]], not [task]"));
}

TEST_F(ConfigTest, BadDtype) {
  StatusOr<EvalConfig> c = Parse(Minimal("dtype = \"bf17\""));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "eval.toml:3:9: model.dtype: 'bf17' is not a dtype; allowed: float32, float16, "
            "bfloat16");
}

TEST_F(ConfigTest, BadDevice) {
  StatusOr<EvalConfig> c = Parse(Minimal("", "[backend]\ndevices = [\"cpu:0\", \"gpu:1\"]\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "eval.toml:8:21: backend.devices[1]: 'gpu:1' is not a device (did you mean "
            "'cuda:1'?); allowed: cpu, cpu:N, cuda:N (N = 0, 1, ...)");

  c = Parse(Minimal("", "[backend]\ndevices = [\"cuda:0\", \"cuda:0\"]\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("backend.devices[1]: 'cuda:0' is listed twice"));

  c = Parse(Minimal("", "[backend]\ndevices = []\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("backend.devices: is empty"));
}

TEST_F(ConfigTest, MissingModelFolderIsNotFound) {
  StatusOr<EvalConfig> c =
      Parse("[model]\npath = \"models/x\"\n[[task]]\ndataset = \"m\"\npath = \"data/mmlu\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), COMPASS_NOT_FOUND);
  EXPECT_EQ(c.status().message(), "eval.toml:2:8: model.path: '" +
                                      (dir_ / "models" / "x").string() +
                                      "' does not exist; set model.path to a Hugging Face "
                                      "checkpoint folder or a .gguf file");

  // A file where a folder is expected.
  c = Parse(
      "[model]\npath = \"data/gsm8k.jsonl\"\n[[task]]\ndataset = \"m\"\npath = \"data/mmlu\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_THAT(c.status().message(), HasSubstr("is a file but not a .gguf file"));

  // A .gguf file is a model.
  std::ofstream(dir_ / "model.gguf") << "GGUF";
  c = Parse("[model]\npath = \"model.gguf\"\n[[task]]\ndataset = \"m\"\npath = \"data/mmlu\"\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->model.path, (dir_ / "model.gguf").string());
}

TEST_F(ConfigTest, MissingRequiredKeys) {
  StatusOr<EvalConfig> c =
      Parse("[model]\ndtype = \"fp16\"\n[[task]]\ndataset = \"m\"\npath = \"data/mmlu\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), StartsWith("eval.toml:1:1: missing required key model.path"));

  c = Parse("[[task]]\ndataset = \"m\"\npath = \"data/mmlu\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("missing required table [model]"));

  c = Parse(Minimal() + "[[task]]\npath = \"data/mmlu\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              StartsWith("eval.toml:7:1: missing required key task[1].dataset"));

  c = Parse(Minimal("", "path = \"data/nothing\"\n"));
  ASSERT_FALSE(c.ok());  // a key given twice is a TOML error
  EXPECT_THAT(c.status().message(), HasSubstr("TOML syntax error"));

  c = Parse("[model]\npath = \"models/tiny\"\n[[task]]\ndataset = \"m\"\npath = \"data/none\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), COMPASS_NOT_FOUND);
  EXPECT_THAT(c.status().message(), StartsWith("eval.toml:5:8: task[0].path: '"));
  EXPECT_THAT(c.status().message(), HasSubstr((dir_ / "data" / "none").string()));
}

TEST_F(ConfigTest, MissingTask) {
  // Planning needs no task; a run does.
  StatusOr<EvalConfig> c = Parse("[model]\npath = \"models/tiny\"\n");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->tasks.empty());
  const Status s = RequireTasks(*c);
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_THAT(s.message(), StartsWith("eval.toml: no [[task]] table; add at least one"));

  c = Parse("task = []\n[model]\npath = \"models/tiny\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("task: is empty"));
}

TEST_F(ConfigTest, DuplicateTaskNames) {
  StatusOr<EvalConfig> c =
      Parse(Minimal("", "[[task]]\ndataset = \"mmlu\"\npath = \"data/mmlu\"\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "eval.toml:7:1: task[1].name: duplicate task name 'mmlu' (task[0] at eval.toml:4:1 has "
            "it too); give each [[task]] a distinct name = \"...\"");

  // Different names for the same dataset are fine.
  c = Parse(Minimal("", "[[task]]\nname = \"mmlu5\"\ndataset = \"mmlu\"\npath = \"data/mmlu\"\n"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->tasks[1].name, "mmlu5");
}

TEST_F(ConfigTest, Overrides) {
  const std::string text =
      Minimal("dtype = \"fp32\"",
              "[[task]]\nname = \"gsm\"\ndataset = \"gsm8k\"\npath = \"data/gsm8k.jsonl\"\n");
  StatusOr<EvalConfig> c = Parse(
      text, {"model.dtype=bf16", R"(backend.devices=["cpu:0","cpu:1"])", "task.1.shots=3",
             "backend.hf_native.device_map=auto", "backend.batch_size = 8", "run.output=out dir"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->model.dtype, "bfloat16");
  EXPECT_EQ(c->backend.devices, (std::vector<std::string>{"cpu:0", "cpu:1"}));
  EXPECT_EQ(c->tasks[0].shots, 0u);
  EXPECT_EQ(c->tasks[1].shots, 3u);
  EXPECT_EQ(c->backend.batch_size, 8u);
  ASSERT_EQ(c->backend.plugin_tables.count("hf_native"), 1u);
  EXPECT_EQ(c->backend.plugin_tables.at("hf_native")["device_map"].value<std::string>(), "auto");
  EXPECT_EQ(c->run.output, (dir_ / "out dir").string());
  EXPECT_EQ(c->root["model"]["dtype"].value<std::string>(), "bf16");

  // Paths set with --set are resolved against the config's folder too.
  c = Parse(text, {"task.0.path=data/gsm8k.jsonl"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->tasks[0].path, (dir_ / "data" / "gsm8k.jsonl").string());
}

TEST_F(ConfigTest, OverrideErrorsNameTheOverride) {
  StatusOr<EvalConfig> c = Parse(Minimal(), {"model.dtype=bf17"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "--set model.dtype: 'bf17' is not a dtype; allowed: float32, float16, bfloat16");

  c = Parse(Minimal(), {"task.0.shots=\"x\""});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), StartsWith("--set task[0].shots: expected an integer"));

  c = Parse(Minimal(), {"modle.dtype=bf16"});
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(),
              StartsWith("--set modle: unknown key 'modle' at top level (did you mean 'model'?)"));

  c = Parse(Minimal(), {"task.3.shots=1"});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "--set 'task.3.shots=1': index 3 is out of range: 'task' has 1 entry");
}

TEST(ApplyOverrideTest, ValuesAndStructure) {
  toml::table root;
  ASSERT_TRUE(ApplyOverride(root, "a.b.c=3").ok());
  EXPECT_EQ(root["a"]["b"]["c"].value<int64_t>(), 3);
  EXPECT_EQ(root["a"]["b"]["c"].node()->source().begin.line, 0u);  // no source: came from --set
  ASSERT_TRUE(ApplyOverride(root, "a.s=hello world").ok());
  EXPECT_EQ(root["a"]["s"].value<std::string>(), "hello world");
  ASSERT_TRUE(ApplyOverride(root, "a.q=\"quoted\"").ok());
  EXPECT_EQ(root["a"]["q"].value<std::string>(), "quoted");
  ASSERT_TRUE(ApplyOverride(root, "a.f=true").ok());
  EXPECT_EQ(root["a"]["f"].value<bool>(), true);
  ASSERT_TRUE(ApplyOverride(root, "a.x=1.5").ok());
  EXPECT_EQ(root["a"]["x"].value<double>(), 1.5);
  ASSERT_TRUE(ApplyOverride(root, "a.t={ k = 1 }").ok());
  EXPECT_EQ(root["a"]["t"]["k"].value<int64_t>(), 1);
  ASSERT_TRUE(ApplyOverride(root, "a.e=").ok());
  EXPECT_EQ(root["a"]["e"].value<std::string>(), "");
  ASSERT_TRUE(ApplyOverride(root, "m.\"cuda:0\"=40GiB").ok());
  EXPECT_EQ(root["m"]["cuda:0"].value<std::string>(), "40GiB");
  ASSERT_TRUE(ApplyOverride(root, "q.\"a.b\"=1").ok());
  EXPECT_EQ(root["q"]["a.b"].value<int64_t>(), 1);
  ASSERT_TRUE(ApplyOverride(root, "l=[1, 2, 3]").ok());
  ASSERT_TRUE(ApplyOverride(root, "l.1=20").ok());
  EXPECT_EQ(root["l"][1].value<int64_t>(), 20);
  // A value that is not one TOML value is a string.
  ASSERT_TRUE(ApplyOverride(root, "a.w=1\nz = 2").ok());
  EXPECT_EQ(root["a"]["w"].value<std::string>(), "1\nz = 2");
}

TEST(ApplyOverrideTest, BadOverrides) {
  toml::table root;
  ASSERT_TRUE(ApplyOverride(root, "s=1").ok());
  ASSERT_TRUE(ApplyOverride(root, "arr=[{x = 1}]").ok());

  Status s = ApplyOverride(root, "model.dtype");
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(s.message(), "--set 'model.dtype': expected key=value, e.g. --set model.dtype=bf16");

  s = ApplyOverride(root, " =3");
  EXPECT_EQ(s.message(), "--set ' =3': the key before '=' is empty");

  s = ApplyOverride(root, "a..b=3");
  EXPECT_THAT(s.message(), StartsWith("--set 'a..b=3': empty key segment"));

  s = ApplyOverride(root, "arr.1.x=3");
  EXPECT_EQ(s.message(), "--set 'arr.1.x=3': index 1 is out of range: 'arr' has 1 entry");

  s = ApplyOverride(root, "arr.name=3");
  EXPECT_THAT(s.message(), HasSubstr("'arr' is an array; pick an element by number"));

  s = ApplyOverride(root, "s.x=3");
  EXPECT_EQ(s.message(), "--set 's.x=3': 's' is an integer, not a table or an array");

  s = ApplyOverride(root, "none.0.x=3");
  EXPECT_THAT(s.message(), HasSubstr("'none' does not exist"));

  ASSERT_TRUE(ApplyOverride(root, "arr.0.x=3").ok());
  EXPECT_EQ(root["arr"][0]["x"].value<int64_t>(), 3);
}

// Specs as a plugin would declare them.
const compass_option_spec kSpecs[] = {
    {sizeof(compass_option_spec),
     {"device_map", 10},
     COMPASS_OPT_STRING,
     {"layer placement", 15},
     {"auto|balanced|sequential", 24}},
    {sizeof(compass_option_spec),
     {"max_memory", 10},
     COMPASS_OPT_TABLE,
     {"per-device memory limits", 24},
     {nullptr, 0}},
    {sizeof(compass_option_spec), {"offload", 7}, COMPASS_OPT_BOOL, {nullptr, 0}, {nullptr, 0}},
    {sizeof(compass_option_spec), {"block_size", 10}, COMPASS_OPT_INT, {nullptr, 0}, {nullptr, 0}},
    {sizeof(compass_option_spec), {"fraction", 8}, COMPASS_OPT_FLOAT, {nullptr, 0}, {nullptr, 0}},
    {sizeof(compass_option_spec), {"stop", 4}, COMPASS_OPT_STRING_LIST, {nullptr, 0}, {nullptr, 0}},
    {sizeof(compass_option_spec), {"extra", 5}, COMPASS_OPT_ANY, {nullptr, 0}, {nullptr, 0}},
};
const compass_option_list kSpecList = {kSpecs, sizeof(kSpecs) / sizeof(kSpecs[0])};

toml::table ParseTable(std::string_view text) {
#if TOML_EXCEPTIONS
  return toml::parse(text, std::string_view("eval.toml"));
#else
  return std::move(toml::parse(text, std::string_view("eval.toml"))).table();
#endif
}

TEST(PluginOptionsTest, ValidTableToJson) {
  const toml::table t = ParseTable(
      "device_map = \"balanced\"\nmax_memory = { \"cuda:0\" = \"40GiB\" }\noffload = false\n"
      "block_size = 16\nfraction = 1\nstop = [\"\\n\", \"Q:\"]\nextra = 1979-05-27\n");
  StatusOr<std::string> json = PluginOptionsToJson(t, kSpecList, "eval.toml", "backend.hf_native");
  ASSERT_TRUE(json.ok()) << json.status().message();
  EXPECT_EQ(*json,
            R"({"block_size":16,"device_map":"balanced","extra":"1979-05-27","fraction":1.0,)"
            R"("max_memory":{"cuda:0":"40GiB"},"offload":false,"stop":["\n","Q:"]})");

  StatusOr<std::string> empty = PluginOptionsToJson(toml::table{}, kSpecList, "eval.toml", "x");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "{}");
}

// A COMPASS_OPT_PATH option (ABI 2.1) is resolved against the config's
// folder, as the task's path is; an absolute one is kept.
TEST(PluginOptionsTest, PathsAreResolvedAgainstTheConfigFolder) {
  const compass_option_spec specs[] = {{sizeof(compass_option_spec),
                                        {"task_file", 9},
                                        COMPASS_OPT_PATH,
                                        {nullptr, 0},
                                        {nullptr, 0}}};
  const compass_option_list list = {specs, 1};
  StatusOr<std::string> json = PluginOptionsToJson(ParseTable("task_file = \"tasks/../t.yaml\"\n"),
                                                   list, "eval.toml", "task[0]", "/cfg");
  ASSERT_TRUE(json.ok()) << json.status().message();
  EXPECT_EQ(*json, R"({"task_file":"/cfg/t.yaml"})");
  json = PluginOptionsToJson(ParseTable("task_file = \"/abs/t.yaml\"\n"), list, "eval.toml",
                             "task[0]", "/cfg");
  EXPECT_EQ(*json, R"({"task_file":"/abs/t.yaml"})");
  json = PluginOptionsToJson(ParseTable("task_file = 3\n"), list, "eval.toml", "task[0]", "/cfg");
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().message(),
            "eval.toml:1:13: task[0].task_file: expected a string (a file path), got an integer");
  json = PluginOptionsToJson(ParseTable("task_file = \"\"\n"), list, "eval.toml", "task[0]");
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().message(),
            "eval.toml:1:13: task[0].task_file: is empty; give a file path");
}

TEST(PluginOptionsTest, UnknownKeyWithHint) {
  const toml::table t = ParseTable("device_map = \"auto\"\ndevce_map = \"auto\"\n");
  StatusOr<std::string> json = PluginOptionsToJson(t, kSpecList, "eval.toml", "backend.hf_native");
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(json.status().message(),
            "eval.toml:2:1: unknown key 'devce_map' in [backend.hf_native] (did you mean "
            "'device_map'?); allowed: device_map, max_memory, offload, block_size, fraction, "
            "stop, extra");
}

TEST(PluginOptionsTest, CoreKeysInAPluginTableSayWhereTheyBelong) {
  for (const auto& [key, where] :
       std::vector<std::pair<std::string, std::string>>{{"batch_size", "[backend] batch_size"},
                                                        {"max_length", "[model] max_length"},
                                                        {"num_fewshot", "[[task]] shots"}}) {
    StatusOr<std::string> json = PluginOptionsToJson(ParseTable(key + " = 4\n"), kSpecList,
                                                     "eval.toml", "backend.hf_native");
    ASSERT_FALSE(json.ok());
    EXPECT_THAT(
        json.status().message(),
        HasSubstr("unknown key '" + key + "' in [backend.hf_native] (it is set as " + where + ")"));
  }
}

TEST_F(ConfigTest, QuotedBatchSizeSaysItWasReadAsAString) {
  StatusOr<EvalConfig> c = Parse(Minimal("", "[backend]\nbatch_size = \"4\"\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("'4' is not a batch size"));
  EXPECT_THAT(c.status().message(), HasSubstr("the value was read as a string"));
}

TEST_F(ConfigTest, ContextWindowAndSamplingKeys) {
  StatusOr<EvalConfig> c =
      Parse(Minimal("max_length = 512",
                    "[[task]]\nname = \"g\"\ndataset = \"mmlu\"\npath = \"data/mmlu\"\n"
                    "temperature = 0.7\ntop_p = 0.9\ntop_k = 20\n"
                    "num_samples = 5\n"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->model.max_length, 512);
  const auto& g = c->tasks.back().generation;
  EXPECT_FLOAT_EQ(g.temperature, 0.7f);
  EXPECT_FLOAT_EQ(g.top_p, 0.9f);
  EXPECT_EQ(g.top_k, 20);
  EXPECT_EQ(g.num_samples, 5u);
  c = Parse(Minimal("max_length = 1"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("model.max_length"));
  c = Parse(Minimal(
      "", "[[task]]\nname = \"g\"\ndataset = \"mmlu\"\npath = \"data/mmlu\"\nnum_samples = 4\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("temperature > 0"));
  c = Parse(Minimal(
      "", "[[task]]\nname = \"g\"\ndataset = \"mmlu\"\npath = \"data/mmlu\"\ntop_p = 1.5\n"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("top_p: must be between"));
}

// Every numeric key refuses what is out of range, naming the key and the
// range, whether it comes from the file or from --set (where a number beyond
// 64 bits arrives as a string).
TEST_F(ConfigTest, NumericKeysRefuseOutOfRangeValuesNamingTheRange) {
  struct Case {
    std::string override_text, expected;
  };
  const std::vector<Case> cases = {
      {"model.max_length=0", "model.max_length: must be between 2 and 2147483647, got 0"},
      {"model.max_length=-5", "model.max_length: must be between 2 and 2147483647, got -5"},
      {"model.max_length=2147483648", "must be between 2 and 2147483647, got 2147483648"},
      {"model.max_length=99999999999999999999",
       "--set model.max_length: must be between 2 and 2147483647, got 99999999999999999999"},
      {"backend.batch_size=0", "backend.batch_size: must be between 1 and 4294967295, got 0"},
      {"backend.batch_size=-1", "backend.batch_size: must be between 1 and 4294967295, got -1"},
      {"backend.batch_size=99999999999999999999", "must be between 1 and 4294967295"},
      {"run.seed=-1", "run.seed: must be >= 0, got -1"},
      {"run.limit=-1", "run.limit: must be >= 0, got -1"},
      {"run.limit=-99999999999999999999", "run.limit: must be >= 0, got -99999999999999999999"},
      {"task.0.shots=-1", "task[0].shots: must be between 0 and 4294967295, got -1"},
      {"task.0.limit=-2", "task[0].limit: must be >= 0, got -2"},
      {"task.0.seed=-3", "task[0].seed: must be >= 0, got -3"},
      {"task.0.max_new_tokens=0", "task[0].max_new_tokens: must be between 1 and 4294967295"},
      {"task.0.temperature=-0.5", "task[0].temperature: must be between 0 and 100, got -0.5"},
      {"task.0.temperature=nan", "task[0].temperature: must be between 0 and 100, got nan"},
      {"task.0.top_p=0", "task[0].top_p: must be between 1e-06 and 1, got 0"},
      {"task.0.top_k=-1", "task[0].top_k: must be between 0 and 2147483647, got -1"},
      {"task.0.num_samples=0", "task[0].num_samples: must be between 1 and 10000, got 0"},
  };
  for (const Case& c : cases) {
    StatusOr<EvalConfig> parsed = Parse(Minimal(), {c.override_text});
    ASSERT_FALSE(parsed.ok()) << c.override_text;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.expected)) << c.override_text;
  }
  // The same from the file, with its line.
  StatusOr<EvalConfig> parsed = Parse(Minimal("max_length = -1"));
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(),
              HasSubstr("eval.toml:3:14: model.max_length: must be between 2 and 2147483647"));
}

TEST(PluginOptionsTest, TypeMismatch) {
  StatusOr<std::string> json = PluginOptionsToJson(ParseTable("max_memory = \"40GiB\"\n"),
                                                   kSpecList, "eval.toml", "backend.hf_native");
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().message(),
            "eval.toml:1:14: backend.hf_native.max_memory: expected a table, got a string "
            "(per-device memory limits)");

  json = PluginOptionsToJson(ParseTable("block_size = 1.5\n"), kSpecList, "eval.toml", "b");
  ASSERT_FALSE(json.ok());
  EXPECT_THAT(json.status().message(), HasSubstr("b.block_size: expected an integer, got a float"));

  json = PluginOptionsToJson(ParseTable("stop = [\"a\", 2]\n"), kSpecList, "eval.toml", "task[0]");
  ASSERT_FALSE(json.ok());
  EXPECT_THAT(json.status().message(),
              HasSubstr("task[0].stop[1]: expected a string, got an integer"));

  json = PluginOptionsToJson(ParseTable("offload = \"yes\"\n"), kSpecList, "eval.toml", "b");
  ASSERT_FALSE(json.ok());
  EXPECT_THAT(json.status().message(), HasSubstr("b.offload: expected a boolean"));
}

TEST(PluginOptionsTest, Choices) {
  StatusOr<std::string> json = PluginOptionsToJson(ParseTable("device_map = \"autoo\"\n"),
                                                   kSpecList, "eval.toml", "backend.hf_native");
  ASSERT_FALSE(json.ok());
  EXPECT_EQ(json.status().message(),
            "eval.toml:1:14: backend.hf_native.device_map: 'autoo' is not allowed (did you mean "
            "'auto'?); allowed: auto, balanced, sequential");
}

TEST(PluginOptionsTest, NoOptionsDeclared) {
  StatusOr<std::string> json = PluginOptionsToJson(
      ParseTable("a = 1\n"), compass_option_list{nullptr, 0}, "eval.toml", "backend.x");
  ASSERT_FALSE(json.ok());
  EXPECT_THAT(json.status().message(),
              HasSubstr("unknown key 'a' in [backend.x]; allowed: (none)"));
}

TEST_F(ConfigTest, CheckBackendTables) {
  StatusOr<EvalConfig> c =
      Parse(Minimal("", "[backend.paged_tp]\nblock_size = 16\n[backend.hf_natve]\nx = 1\n"));
  ASSERT_TRUE(c.ok()) << c.status().message();
  const std::vector<std::string> known = {"hf_native", "paged_tp", "pipeline"};
  Status s = CheckBackendTables(*c, known);
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(s.message(),
            "eval.toml:9:1: unknown backend 'hf_natve' in [backend.hf_natve] (did you mean "
            "'hf_native'?); known backends: hf_native, paged_tp, pipeline");

  c = Parse(Minimal("", "[backend.paged_tp]\nblock_size = 16\n"));
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(CheckBackendTables(*c, known).ok());
  EXPECT_FALSE(CheckBackendTables(*c, {"hf_native"}).ok());
}

TEST_F(ConfigTest, LoadConfigResolvesAgainstItsFolder) {
  fs::create_directories(dir_ / "conf");
  fs::create_directories(dir_ / "conf" / "m");
  const fs::path file = dir_ / "conf" / "eval.toml";
  std::ofstream(file)
      << "[model]\npath = \"m\"\n[[task]]\ndataset = \"mmlu\"\npath = \"../data/mmlu\"\n";
  StatusOr<EvalConfig> c = LoadConfig(file.string(), {"model.dtype=fp16"});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->file, file.string());
  EXPECT_EQ(c->model.path, (dir_ / "conf" / "m").string());
  EXPECT_EQ(c->model.dtype, "float16");
  EXPECT_EQ(c->tasks[0].path, (dir_ / "data" / "mmlu").string());

  StatusOr<EvalConfig> missing = LoadConfig((dir_ / "nope.toml").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), COMPASS_NOT_FOUND);
  EXPECT_THAT(missing.status().message(), HasSubstr((dir_ / "nope.toml").string()));

  StatusOr<EvalConfig> folder = LoadConfig(dir_.string());
  ASSERT_FALSE(folder.ok());
  EXPECT_THAT(folder.status().message(), HasSubstr("is a folder"));
}

TEST(TomlToJsonTest, Values) {
  const toml::table t =
      ParseTable("a = 1\nb = [true, 2.5]\nc = 07:32:00\nd = 1979-05-27T07:32:00Z\n");
  EXPECT_EQ(TomlToJson(t), R"({"a":1,"b":[true,2.5],"c":"07:32:00","d":"1979-05-27T07:32:00Z"})");
}

}  // namespace
}  // namespace compass
