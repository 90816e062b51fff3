// hf_native's own behaviour through the real loader (what every backend
// must do is in tests/conformance): the same numbers on one CPU device and
// spread over three virtual CPU devices by `auto` with small max_memory caps,
// shared forwards for requests with the same input, and bad device maps
// refused before loading.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "backend_harness.h"

namespace compass::testing {
namespace {

constexpr double kHfTolerance = 1e-4;
constexpr double kSelfTolerance = 1e-5;

std::unique_ptr<LoadedBackend> Make(const std::string& model_dir,
                                    const std::vector<std::string>& devices,
                                    const std::string& options, uint32_t batch,
                                    Status* error = nullptr) {
  // A window just above the golden prompts' lengths keeps the plans small.
  return MakeBackend({"hf_native", devices, options}, model_dir, batch, 64, error);
}

std::vector<double> RunLoglikelihood(LoadedBackend& b, const std::vector<LlCase>& cases) {
  return LogProbs(Execute(b, Requests(cases)));
}

TEST(HfNative, SameLogProbsOnOneCpuAndOnThreeVirtualDevices) {
  const Golden& g = Goldens()[0];
  const auto requests = LoglikelihoodCases(g);
  auto one = Make(g.dir, {"cpu"}, "{}", 8);
  ASSERT_NE(one, nullptr);
  const auto reference = RunLoglikelihood(*one, requests);
  const std::string explicit_map =
      R"({"device_map": {"model.embed_tokens": "cpu:0", "model.norm": "cpu:0", "lm_head": "cpu:0",
          "model.layers.0": "cpu:1", "model.layers.1-4": "cpu:2"}})";
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
  const auto requests = LoglikelihoodCases(g);
  auto b1 = Make(g.dir, {"cpu"}, "{}", 1);
  auto b8 = Make(g.dir, {"cpu"}, "{}", 8);
  ASSERT_TRUE(b1 && b8);
  const auto a = RunLoglikelihood(*b1, requests), b = RunLoglikelihood(*b8, requests);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], kSelfTolerance);
}

TEST(HfNative, OneTokenContinuationsSharingAContextRunOnce) {
  const Golden& g = Goldens()[0];
  const auto& prompt = g.prompts[1];
  std::vector<LlCase> rs;
  for (int32_t tok : {5, 6, 7, 8}) {
    LlCase r;
    r.request.context.assign(prompt.begin(), prompt.begin() + 6);
    r.request.continuation = {tok};
    rs.push_back(r);
  }
  auto b = Make(g.dir, {"cpu"}, "{}", 8);
  ASSERT_NE(b, nullptr);
  const auto got = RunLoglikelihood(*b, rs);
  for (size_t i = 0; i < rs.size(); ++i) {
    EXPECT_NEAR(got[i], GoldenLogProb(g, 1, 5, rs[i].request.continuation[0], nullptr),
                kHfTolerance);
  }
  auto figures = b->instance->Figures();
  ASSERT_TRUE(figures.ok());
  std::map<std::string, double> f;
  for (const auto& x : *figures) f[x.name] = x.value;
  EXPECT_EQ(f["shared_context_requests"], 3);
  EXPECT_EQ(f["forwards"], 1);
}

std::map<std::string, double> FigureMap(LoadedBackend& b) {
  auto figures = b.instance->Figures();
  EXPECT_TRUE(figures.ok());
  std::map<std::string, double> f;
  for (const auto& x : *figures) {
    if (x.scope.empty()) f[x.name] = x.value;
  }
  return f;
}

// Rows that finish leave the batch: later steps compute only the live ones
// (computed_tokens counts every slot a forward computed), with the same
// tokens as one sequence at a time; `tokens` counts prompt tokens and
// generated tokens only.
TEST(HfNative, FinishedRowsLeaveTheBatch) {
  const Golden& g = Goldens()[0];
  std::vector<TestRequest> requests;
  uint64_t useful = 0, fed = 0;
  for (uint32_t n : {2u, 16u, 5u, 9u}) {
    TestRequest r;
    r.generate = true;
    r.context = g.prompts[1];
    r.max_new_tokens = n;
    requests.push_back(r);
    useful += r.context.size() + n;
    fed += r.context.size() + n - 1;  // the last token is never fed back
  }
  TestRequest stopped = requests[1];  // stops at its fourth token
  stopped.stop_ids = {g.generations[1][3]};
  requests.push_back(stopped);
  const auto first =
      std::find(g.generations[1].begin(), g.generations[1].end(), stopped.stop_ids[0]);
  const size_t kept = static_cast<size_t>(first - g.generations[1].begin());
  useful += stopped.context.size() + kept;
  fed += stopped.context.size() + kept;  // the stop token is chosen, never fed
  auto b1 = Make(g.dir, {"cpu"}, "{}", 1);
  auto b8 = Make(g.dir, {"cpu"}, "{}", 8);
  ASSERT_TRUE(b1 && b8);
  const auto one = Execute(*b1, requests);
  const auto batched = Execute(*b8, requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    EXPECT_EQ(batched[i][0].tokens, one[i][0].tokens) << i;
    ASSERT_EQ(batched[i][0].token_logprobs.size(), batched[i][0].tokens.size());
    for (size_t t = 0; t < one[i][0].token_logprobs.size(); ++t) {
      EXPECT_NEAR(batched[i][0].token_logprobs[t], one[i][0].token_logprobs[t], kSelfTolerance);
    }
  }
  EXPECT_EQ(batched[4][0].tokens.size(), kept);
  EXPECT_EQ(batched[4][0].finish_reason, static_cast<uint32_t>(COMPASS_FINISH_STOP_TOKEN));
  for (auto* b : {b1.get(), b8.get()}) {
    auto f = FigureMap(*b);
    EXPECT_EQ(f["tokens"], static_cast<double>(useful));
    EXPECT_EQ(f["computed_tokens"], static_cast<double>(fed));  // equal prompts: no padding
  }
  EXPECT_EQ(FigureMap(*b8)["forwards"], 16);  // one prefill, 15 decode steps
}

// Load progress is in bytes, after every layer, up to the model's bytes in
// the run dtype, also over several devices; a stop asked for during the load
// ends it with COMPASS_CANCELLED.
TEST(HfNative, LoadReportsBytesPerLayerAndStopsWhenCancelled) {
  const Golden& g = Goldens()[0];
  const auto config = model::LoadModelConfig(g.dir);
  ASSERT_TRUE(config.ok());
  const uint64_t weights = model::AccountParameters(*config, model::DType::kF32).total_bytes();
  const std::string explicit_map =
      R"({"device_map": {"model.embed_tokens": "cpu:0", "model.norm": "cpu:0", "lm_head": "cpu:0",
          "model.layers.0": "cpu:1", "model.layers.1-4": "cpu:2"}})";
  for (const BackendSpec& spec :
       {BackendSpec{"hf_native", {"cpu"}, "{}"},
        BackendSpec{"hf_native", {"cpu:0", "cpu:1", "cpu:2"}, explicit_map}}) {
    std::vector<std::pair<uint64_t, uint64_t>> calls;
    auto b = MakeBackend(spec, g.dir, 1, 64, nullptr, 0, [&](PluginHost& host) {
      host.SetProgress([&](uint64_t done, uint64_t total, uint64_t tokens) {
        calls.push_back({done, total});
        EXPECT_EQ(tokens, 0u);
      });
    });
    ASSERT_NE(b, nullptr);
    // The embedding, each layer, the norm with the head.
    ASSERT_EQ(calls.size(), static_cast<size_t>(config->num_hidden_layers) + 2);
    for (size_t i = 0; i < calls.size(); ++i) {
      EXPECT_EQ(calls[i].second, weights);
      if (i > 0) EXPECT_GT(calls[i].first, calls[i - 1].first);
    }
    EXPECT_EQ(calls.back().first, weights);

    int seen = 0;
    Status error;
    auto cancelled = MakeBackend(spec, g.dir, 1, 64, &error, 0, [&](PluginHost& host) {
      host.SetProgress([&seen, &host](uint64_t, uint64_t, uint64_t) {
        ++seen;
        host.RequestCancel();  // the user stops after the first part
      });
    });
    EXPECT_EQ(cancelled, nullptr);
    EXPECT_EQ(error.code(), COMPASS_CANCELLED) << error.ToString();
    EXPECT_EQ(seen, 1);
  }
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
}  // namespace compass::testing
