// hf_native through the real loader on the tiny models of every variant:
// log-probs of all three request types against transformers' logits (the
// model core's goldens), at batch sizes 1 and 8; the same numbers on one CPU
// device and on a map over three virtual CPU devices; and bad device maps
// refused before loading.
#include <gtest/gtest.h>

#include <cmath>
#include <compass/plugin.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "models/model_config.h"
#include "models/safetensors.h"
#include "models/tiny_model.h"
#include "plugin_host/host_services.h"
#include "plugin_host/plugin_instances.h"
#include "plugin_host/plugin_registry.h"

namespace compass {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr double kHfTolerance = 1e-4;    // against transformers (model core bound)
constexpr double kSelfTolerance = 1e-5;  // across devices and batch sizes
// Longer than every golden prompt plus its generation, so nothing is cut
// (the dynamic-RoPE variant has max_position_embeddings 16 on purpose).
constexpr char kNoTruncation[] = R"({"max_length": 256})";

struct Golden {
  std::string variant, dir;
  std::vector<std::vector<int32_t>> prompts, generations;
  std::vector<std::vector<float>> logits;  // per prompt: [len * vocab]
  int64_t vocab = 0;
};

const PluginRegistry& Registry() {
  static const PluginRegistry r = PluginRegistry::Discover({COMPASS_PLUGIN_DIR});
  return r;
}

std::vector<Golden> LoadGoldens() {
  std::vector<Golden> out;
  const fs::path root = fs::path(COMPASS_SOURCE_DIR) / "tests/fixtures/models";
  const fs::path models = fs::temp_directory_path() / ("compass_hfn_" + std::to_string(::getpid()));
  for (const auto& name : model::TinyModelVariants()) {
    if (!fs::exists(root / name / "golden.json")) continue;
    Golden g;
    g.variant = name;
    g.dir = (models / name).string();
    auto spec = model::TinyModelVariant(name);
    EXPECT_TRUE(spec.ok());
    auto files = model::WriteTinyModel(*spec, g.dir);
    EXPECT_TRUE(files.ok()) << files.status().message();
    std::ifstream f(root / name / "golden.json");
    const json j = json::parse(f);
    EXPECT_EQ(j["weights_checksum"], files->weights_checksum) << name;
    g.prompts = j["prompts"].get<std::vector<std::vector<int32_t>>>();
    g.generations = j["generations"].get<std::vector<std::vector<int32_t>>>();
    auto st = model::SafetensorsFile::Open((root / name / "golden.safetensors").string());
    EXPECT_TRUE(st.ok());
    for (size_t p = 0; p < g.prompts.size(); ++p) {
      const auto* t = (*st)->Find("logits." + std::to_string(p));
      const float* data = static_cast<const float*>((*st)->data(*t));
      g.vocab = t->shape[1];
      g.logits.emplace_back(data, data + t->numel());
    }
    out.push_back(std::move(g));
  }
  return out;
}

const std::vector<Golden>& Goldens() {
  static const std::vector<Golden> g = LoadGoldens();
  return g;
}

// log_softmax(logits[pos])[token] from the golden logits, in double.
double GoldenLogProb(const Golden& g, size_t prompt, size_t pos, int32_t token, bool* argmax) {
  const float* row = g.logits[prompt].data() + pos * g.vocab;
  double mx = row[0];
  int64_t best = 0;
  for (int64_t v = 1; v < g.vocab; ++v) {
    if (row[v] > mx) {
      mx = row[v];
      best = v;
    }
  }
  double sum = 0;
  for (int64_t v = 0; v < g.vocab; ++v) sum += std::exp(row[v] - mx);
  if (argmax) *argmax = best == token;
  return row[token] - mx - std::log(sum);
}

struct Backend {
  PluginHost host;
  std::unique_ptr<BackendInstance> instance;
};

// The tiny models have no tokenizer: the host's vocabulary is the model's.
std::unique_ptr<Backend> Make(const std::string& model_dir, const std::vector<std::string>& devices,
                              const std::string& options, uint32_t batch, Status* error = nullptr) {
  const auto model_config = model::LoadModelConfig(model_dir);
  EXPECT_TRUE(model_config.ok());
  auto b = std::make_unique<Backend>();
  auto record = Registry().Find(PluginKind::kBackend, "hf_native");
  EXPECT_TRUE(record.ok()) << record.status().message();
  std::vector<compass_device_spec> specs;
  for (const auto& d : devices) {
    specs.push_back(
        {sdk::str(d), sdk::str("cpu"), 1ull << 32, COMPASS_DEVICE_BF16 | COMPASS_DEVICE_FP16});
  }
  compass_backend_config c{};
  c.struct_size = sizeof c;
  c.model_path = sdk::str(model_dir);
  c.dtype = sdk::str("float32");
  c.devices = specs.data();
  c.num_devices = specs.size();
  c.options_json = sdk::str(options);
  c.max_batch_size = batch;
  c.bos_token_id = 1;
  c.pad_token_id = -1;
  c.vocab_size = static_cast<uint32_t>(model_config->vocab_size);
  auto created = BackendInstance::Create(**record, b->host, c);
  if (!created.ok()) {
    if (error) *error = created.status();
    return nullptr;
  }
  b->instance = std::move(*created);
  Status loaded = b->instance->Load();
  if (!loaded.ok()) {
    if (error) *error = loaded;
    return nullptr;
  }
  return b;
}

struct LlRequest {
  std::vector<int32_t> context, continuation;
  double expected = 0;
  bool greedy = true;
};

// Requests over each golden prompt, with the first generated token appended
// to the continuation: the model's input is then exactly the golden prompt,
// as transformers saw it (which matters for dynamic RoPE, whose frequencies
// depend on the sequence length).
std::vector<LlRequest> LoglikelihoodRequests(const Golden& g) {
  std::vector<LlRequest> out;
  for (size_t p = 0; p < g.prompts.size(); ++p) {
    std::vector<int32_t> text = g.prompts[p];
    text.push_back(g.generations[p][0]);
    for (size_t k : {size_t{1}, text.size() / 2, text.size() - 1}) {
      LlRequest r;
      r.context.assign(text.begin(), text.begin() + k);
      r.continuation.assign(text.begin() + k, text.end());
      for (size_t t = k; t < text.size(); ++t) {
        bool am = false;
        r.expected += GoldenLogProb(g, p, t - 1, text[t], &am);
        r.greedy = r.greedy && am;
      }
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::vector<compass_loglikelihood_request> ToAbi(const std::vector<LlRequest>& rs) {
  std::vector<compass_loglikelihood_request> out;
  for (size_t i = 0; i < rs.size(); ++i) {
    out.push_back({i,
                   {rs[i].context.data(), rs[i].context.size()},
                   {rs[i].continuation.data(), rs[i].continuation.size()}});
  }
  return out;
}

std::vector<double> RunLoglikelihood(Backend& b, const std::vector<LlRequest>& rs,
                                     std::vector<bool>* greedy = nullptr) {
  std::vector<double> got(rs.size(), NAN);
  if (greedy) greedy->assign(rs.size(), false);
  Status s = b.instance->Loglikelihood(ToAbi(rs), [&](const compass_loglikelihood_result& r) {
    got[r.index] = r.logprob;
    if (greedy) (*greedy)[r.index] = r.is_greedy != 0;
  });
  EXPECT_TRUE(s.ok()) << s.message();
  return got;
}

TEST(HfNative, GoldensArePresent) {
  ASSERT_GE(Goldens().size(), 7u);
  ASSERT_TRUE(Registry().Find(PluginKind::kBackend, "hf_native").ok());
}

TEST(HfNative, LoglikelihoodMatchesTransformersAtBatch1And8) {
  for (const Golden& g : Goldens()) {
    const auto requests = LoglikelihoodRequests(g);
    for (uint32_t batch : {1u, 8u}) {
      auto b = Make(g.dir, {"cpu"}, kNoTruncation, batch);
      ASSERT_NE(b, nullptr) << g.variant;
      std::vector<bool> greedy;
      const auto got = RunLoglikelihood(*b, requests, &greedy);
      for (size_t i = 0; i < requests.size(); ++i) {
        EXPECT_NEAR(got[i], requests[i].expected, kHfTolerance)
            << g.variant << " batch " << batch << " request " << i;
        EXPECT_EQ(greedy[i], requests[i].greedy) << g.variant << " request " << i;
      }
    }
  }
}

TEST(HfNative, RollingMatchesTransformers) {
  for (const Golden& g : Goldens()) {
    for (uint32_t batch : {1u, 8u}) {
      auto b = Make(g.dir, {"cpu"}, kNoTruncation, batch);
      ASSERT_NE(b, nullptr);
      std::vector<compass_rolling_request> reqs;
      std::vector<double> expected;
      std::vector<std::vector<int32_t>> texts;
      for (size_t p = 0; p < g.prompts.size(); ++p) {
        texts.push_back(g.prompts[p]);
        texts.back().push_back(g.generations[p][0]);
      }
      for (size_t p = 0; p < texts.size(); ++p) {
        const auto& text = texts[p];
        reqs.push_back({p, {text.data(), 1}, {text.data() + 1, text.size() - 1}});
        double e = 0;
        for (size_t t = 1; t < text.size(); ++t) e += GoldenLogProb(g, p, t - 1, text[t], nullptr);
        expected.push_back(e);
      }
      std::vector<double> got(reqs.size(), NAN);
      ASSERT_TRUE(
          b->instance
              ->Rolling(reqs, [&](const compass_rolling_result& r) { got[r.index] = r.logprob; })
              .ok());
      for (size_t i = 0; i < reqs.size(); ++i) {
        EXPECT_NEAR(got[i], expected[i], kHfTolerance) << g.variant << " prompt " << i;
      }
    }
  }
}

TEST(HfNative, RollingWindowsCoverTheTextOnce) {
  // With a window shorter than the text, the windows' sum equals scoring
  // each window as its own loglikelihood request (self-consistency).
  const Golden& g = Goldens()[0];
  const auto& prompt = g.prompts.back();  // the longest
  auto b = Make(g.dir, {"cpu"}, "{\"max_length\": 8}", 4);
  ASSERT_NE(b, nullptr);
  std::vector<compass_rolling_request> reqs = {
      {0, {prompt.data(), 1}, {prompt.data() + 1, prompt.size() - 1}}};
  double rolling = NAN;
  ASSERT_TRUE(
      b->instance->Rolling(reqs, [&](const compass_rolling_result& r) { rolling = r.logprob; })
          .ok());
  // lm-evaluation-harness windows for 8 tokens: [prefix] + 8, then disjoint
  // 8-token continuations each with the 1 token before them... as context.
  std::vector<LlRequest> windows;
  const std::vector<int32_t> text(prompt.begin() + 1, prompt.end());
  size_t predicted = 0;
  while (predicted < text.size()) {
    const size_t len = std::min<size_t>(8, text.size() - predicted);
    LlRequest w;
    if (predicted == 0) {
      w.context = {prompt[0]};
    } else {
      w.context.assign(text.begin() + (predicted + len - 8 - 1), text.begin() + predicted);
    }
    w.continuation.assign(text.begin() + predicted, text.begin() + predicted + len);
    windows.push_back(w);
    predicted += len;
  }
  ASSERT_GE(windows.size(), 3u);
  double sum = 0;
  for (double v : RunLoglikelihood(*b, windows)) sum += v;
  EXPECT_NEAR(rolling, sum, kSelfTolerance);
}

TEST(HfNative, GreedyGenerationMatchesTransformersAtBatch1And8) {
  for (const Golden& g : Goldens()) {
    for (uint32_t batch : {1u, 8u}) {
      auto b = Make(g.dir, {"cpu"}, kNoTruncation, batch);
      ASSERT_NE(b, nullptr);
      std::vector<compass_generate_request> reqs;
      for (size_t p = 0; p < g.prompts.size(); ++p) {
        compass_generate_request r{};
        r.index = p;
        r.context = {g.prompts[p].data(), g.prompts[p].size()};
        r.max_new_tokens = static_cast<uint32_t>(g.generations[p].size());
        reqs.push_back(r);
      }
      std::vector<std::vector<int32_t>> got(reqs.size());
      ASSERT_TRUE(b->instance
                      ->Generate(reqs,
                                 [&](const compass_generate_result& r) {
                                   got[r.index].assign(r.tokens.ids, r.tokens.ids + r.tokens.size);
                                 })
                      .ok());
      for (size_t p = 0; p < reqs.size(); ++p) {
        EXPECT_EQ(got[p], g.generations[p]) << g.variant << " batch " << batch << " prompt " << p;
      }
    }
  }
}

TEST(HfNative, StopTokensEndGeneration) {
  const Golden& g = Goldens()[0];
  auto b = Make(g.dir, {"cpu"}, "{}", 4);
  ASSERT_NE(b, nullptr);
  const auto& expected = g.generations[0];
  const int32_t stop = expected[5];
  compass_generate_request r{};
  r.context = {g.prompts[0].data(), g.prompts[0].size()};
  r.max_new_tokens = 32;
  r.stop_token_ids = {&stop, 1};
  std::vector<int32_t> got;
  uint32_t reason = 99;
  ASSERT_TRUE(b->instance
                  ->Generate({r},
                             [&](const compass_generate_result& x) {
                               got.assign(x.tokens.ids, x.tokens.ids + x.tokens.size);
                               reason = x.finish_reason;
                             })
                  .ok());
  const auto first = std::find(expected.begin(), expected.end(), stop);
  EXPECT_EQ(got, std::vector<int32_t>(expected.begin(), first));
  EXPECT_EQ(reason, static_cast<uint32_t>(COMPASS_FINISH_STOP_TOKEN));
}

TEST(HfNative, SameLogProbsOnOneCpuAndOnThreeVirtualDevices) {
  const Golden& g = Goldens()[0];
  const auto requests = LoglikelihoodRequests(g);
  auto one = Make(g.dir, {"cpu"}, "{}", 8);
  ASSERT_NE(one, nullptr);
  const auto reference = RunLoglikelihood(*one, requests);
  const std::string explicit_map =
      R"({"device_map": {"model.embed_tokens": "cpu:0", "model.norm": "cpu:0", "lm_head": "cpu:0",
          "model.layers.0": "cpu:1", "model.layers.1-2": "cpu:2"}})";
  const std::string auto_small =
      R"({"device_map": "auto", "max_memory": {"cpu:0": "12MiB", "cpu:1": "12MiB", "cpu:2": "12MiB"}})";
  for (const std::string& options : {explicit_map, auto_small}) {
    Status error;
    auto three = Make(g.dir, {"cpu:0", "cpu:1", "cpu:2"}, options, 8, &error);
    ASSERT_NE(three, nullptr) << options << ": " << error.message();
    auto plan = three->instance->Plan();
    ASSERT_TRUE(plan.ok());
    std::set<std::string> used;
    for (const auto& p : plan->placements) used.insert(p.device);
    EXPECT_GE(used.size(), 2u) << "the model should be spread: " << options;
    const auto got = RunLoglikelihood(*three, requests);
    for (size_t i = 0; i < requests.size(); ++i) {
      EXPECT_NEAR(got[i], reference[i], kSelfTolerance) << options << " request " << i;
    }
    auto figures = three->instance->Figures();
    ASSERT_TRUE(figures.ok());
    bool transferred = false;
    for (const auto& f : *figures) transferred |= f.name == "device_transfers" && f.value > 0;
    EXPECT_TRUE(transferred);
  }
}

TEST(HfNative, ResultsDoNotDependOnBatchSize) {
  const Golden& g = Goldens()[0];
  const auto requests = LoglikelihoodRequests(g);
  auto b1 = Make(g.dir, {"cpu"}, "{}", 1);
  auto b8 = Make(g.dir, {"cpu"}, "{}", 8);
  ASSERT_TRUE(b1 && b8);
  const auto a = RunLoglikelihood(*b1, requests), b = RunLoglikelihood(*b8, requests);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], kSelfTolerance);
}

TEST(HfNative, OneTokenContinuationsSharingAContextRunOnce) {
  const Golden& g = Goldens()[0];
  const auto& prompt = g.prompts[1];
  std::vector<LlRequest> rs;
  for (int32_t tok : {5, 6, 7, 8}) {
    LlRequest r;
    r.context.assign(prompt.begin(), prompt.begin() + 6);
    r.continuation = {tok};
    rs.push_back(r);
  }
  auto b = Make(g.dir, {"cpu"}, "{}", 8);
  ASSERT_NE(b, nullptr);
  const auto got = RunLoglikelihood(*b, rs);
  for (size_t i = 0; i < rs.size(); ++i) {
    EXPECT_NEAR(got[i], GoldenLogProb(g, 1, 5, rs[i].continuation[0], nullptr), kHfTolerance);
  }
  auto figures = b->instance->Figures();
  ASSERT_TRUE(figures.ok());
  std::map<std::string, double> f;
  for (const auto& x : *figures) f[x.name] = x.value;
  EXPECT_EQ(f["shared_context_requests"], 3);
  EXPECT_EQ(f["forwards"], 1);
}

TEST(HfNative, BadDeviceMapsAreRefusedBeforeLoading) {
  const Golden& g = Goldens()[0];
  Status s;
  EXPECT_EQ(Make(g.dir, {"cpu:0", "cpu:1"}, R"({"device_map": {"model.embed_tokens": "cpu:0",
      "model.norm": "cpu:0", "lm_head": "cpu:0", "model.layers.0-1": "cpu:1",
      "model.layer.1": "cpu:1"}})",
                 1, &s),
            nullptr);
  EXPECT_NE(s.message().find("unknown module 'model.layer.1'"), std::string::npos) << s.message();
  EXPECT_EQ(Make(g.dir, {"cpu:0", "cpu:1"}, R"({"device_map": {"model.embed_tokens": "cpu:0",
      "model.norm": "cpu:0", "lm_head": "cpu:0", "model.layers.0": "cpu:1"}})",
                 1, &s),
            nullptr);
  EXPECT_NE(s.message().find("unplaced"), std::string::npos) << s.message();
  EXPECT_EQ(Make(g.dir, {"cpu:0", "cpu:1"}, R"({"device_map": {"model.embed_tokens": "cpu:0",
      "model.norm": "cpu:0", "lm_head": "cpu:0", "model.layers.0-1": "cuda:3"}})",
                 1, &s),
            nullptr);
  EXPECT_NE(s.message().find("not one of the run's devices"), std::string::npos) << s.message();
  EXPECT_EQ(Make(g.dir, {"cpu:0", "cpu:1"},
                 R"({"max_memory": {"cpu:0": "100KiB", "cpu:1": "100KiB"}})", 1, &s),
            nullptr);
  EXPECT_EQ(s.code(), COMPASS_OUT_OF_MEMORY) << s.message();
  EXPECT_NE(s.message().find("one decoder layer needs"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace compass
