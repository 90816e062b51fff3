// hf_native's own behaviour through the real loader (what every backend
// must do is in tests/conformance): the same numbers on one CPU device and
// spread over three virtual CPU devices by `auto` with small max_memory caps,
// shared forwards for requests with the same input, and bad device maps
// refused before loading.
#include <gtest/gtest.h>

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
