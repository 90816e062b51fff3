// pipeline through the real loader: the real model split into 2 and 3
// stages gives hf_native's answers; the plan shows every stage; explicit
// stages and bad options; a stage that fails stops every stage, names
// itself and keeps what was delivered; and with two stages and many
// micro-batches the measured bubble is near the ideal (p - 1) / (m + p - 1).
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "backend_harness.h"
#include "models/tiny_model.h"
#include "real_workload.h"

namespace compass::testing {
namespace {

constexpr double kSelfTolerance = 1e-5;  // relative to the log-prob's size

std::vector<std::string> Cpus(int n) {
  std::vector<std::string> d;
  for (int i = 0; i < n; ++i) d.push_back("cpu:" + std::to_string(i));
  return d;
}

std::unique_ptr<LoadedBackend> MakeReal(const std::vector<std::string>& devices,
                                        const std::string& options, uint32_t batch = 8) {
  Status error;
  auto b = MakeBackend({"pipeline", devices, options}, RealModelPath(), batch, 512, &error);
  EXPECT_NE(b, nullptr) << options << ": " << error.ToString();
  return b;
}

TEST(Pipeline, RealModelInStagesGivesHfNativesAnswers) {
  ASSERT_FALSE(RealModelPath().empty()) << kRealModelHint;
  Status error;
  auto oracle = MakeBackend({"hf_native", {"cpu"}, "{}"}, RealModelPath(), 8, 512, &error);
  ASSERT_NE(oracle, nullptr) << error.ToString();
  const auto reference = RunAll(*oracle, InOrder());
  for (int stages : {2, 3}) {
    auto b = MakeReal(Cpus(stages), "{}");
    ASSERT_NE(b, nullptr);
    auto plan = b->instance->Plan();
    ASSERT_TRUE(plan.ok());
    EXPECT_TRUE(plan->fits) << plan->message;
    std::set<std::string> used;
    for (const auto& p : plan->placements) used.insert(p.device);
    EXPECT_EQ(used.size(), static_cast<size_t>(stages));
    ExpectSame(RunAll(*b, InOrder()), reference, kSelfTolerance,
               std::to_string(stages) + " stages");
    EXPECT_GT(Figure(*b, "scoring_busy_seconds", "stage 1 (cpu:1)"), 0);
  }
}

// The tiny llama (5 layers) and mixed requests over it.
struct Tiny {
  std::string dir;
  std::vector<TestRequest> scoring, mixed;
};

const Tiny& TinyLlama() {
  static const Tiny t = [] {
    Tiny t;
    t.dir = Goldens()[0].dir;
    EXPECT_EQ(Goldens()[0].variant, "llama");
    for (int i = 0; i < 24; ++i) {
      TestRequest r;
      for (int k = 0; k < 6 + (7 * i) % 23; ++k) r.context.push_back((31 * i + 7 * k) % 300 + 1);
      r.continuation = {(5 * i) % 300 + 1, (11 * i) % 300 + 1};
      t.scoring.push_back(r);
      t.mixed.push_back(r);
      if (i % 3 == 0) {
        TestRequest g;
        g.generate = true;
        g.context = r.context;
        g.max_new_tokens = 6 + i % 5;
        t.mixed.push_back(g);
      }
    }
    return t;
  }();
  return t;
}

std::unique_ptr<LoadedBackend> MakeTiny(const BackendSpec& spec, uint32_t batch = 4,
                                        Status* error = nullptr) {
  Status own;
  auto b = MakeBackend(spec, TinyLlama().dir, batch, 128, error ? error : &own);
  if (!error) EXPECT_NE(b, nullptr) << spec.options << ": " << own.ToString();
  return b;
}

void ExpectSameResults(const std::vector<std::vector<TestResult>>& got,
                       const std::vector<std::vector<TestResult>>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i][0].tokens, want[i][0].tokens) << what << " request " << i;
    if (!std::isnan(want[i][0].logprob)) {
      EXPECT_NEAR(got[i][0].logprob, want[i][0].logprob, kSelfTolerance) << what << " " << i;
    }
  }
}

TEST(Pipeline, ExplicitStagesAndTheirPlan) {
  const Tiny& t = TinyLlama();
  auto reference = MakeTiny({"hf_native", {"cpu"}, "{}"});
  ASSERT_NE(reference, nullptr);
  const auto want = Execute(*reference, t.mixed);
  auto b = MakeTiny({"pipeline", Cpus(3), R"({"stage_layers": "0, 1-3, 4", "micro_batches": 4})"});
  ASSERT_NE(b, nullptr);
  auto plan = b->instance->Plan();
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->placements.size(), 3u);
  EXPECT_EQ(plan->placements[0].module, "stage 0: embed_tokens, layers 0-0");
  EXPECT_EQ(plan->placements[1].module, "stage 1: layers 1-3");
  EXPECT_EQ(plan->placements[2].module, "stage 2: layers 4-4, norm, lm_head");
  EXPECT_EQ(plan->placements[1].device, "cpu:1");
  ASSERT_EQ(plan->devices.size(), 3u);
  EXPECT_GT(plan->devices[1].cache, 0u);  // the KV caches of the micro-batches in flight
  ExpectSameResults(Execute(*b, t.mixed), want, "explicit stages");
  EXPECT_GT(Figure(*b, "generation_micro_batches"), 0);
}

TEST(Pipeline, RefusesBadOptionsBeforeLoading) {
  const struct {
    std::vector<std::string> devices;
    std::string options, fragment;
    uint32_t world = 1;
  } cases[] = {
      {Cpus(2), R"({"stages": 3})", "stages"},
      {Cpus(2), R"({"stage_layers": "0-2,2-4"})", "overlap"},
      {Cpus(2), R"({"stage_layers": "0-1,3-4"})", "gap"},
      {Cpus(2), R"({"split": "diagonal"})", "split"},
      {{"cpu:0", "cpu:0"}, "{}", "cpu:0"},
      {Cpus(6), "{}", "layers"},
      {Cpus(2), R"({"threads": -1})", "threads"},
      // Stages as processes: how many, and a launch of whole model copies.
      {{"cpu"}, R"({"processes": true})", "processes = true needs stages = N", 2},
      {{"cpu"},
       R"({"stages": 2, "processes": true})",
       "runs one model copy as 2 processes, but this is a single process"},
      {{"cpu"},
       R"({"stages": 2, "processes": true})",
       "runs one model copy as 2 processes, but this launch has 5 processes",
       5},
  };
  for (const auto& c : cases) {
    Status error;
    BackendSpec spec{"pipeline", c.devices, c.options};
    spec.world = c.world;
    auto b = MakeTiny(spec, 4, &error);
    EXPECT_EQ(b, nullptr) << c.options;
    EXPECT_NE(error.message().find(c.fragment), std::string::npos)
        << c.options << ": " << error.message();
  }
}

// A stage that throws (injected into the middle of three) ends the call
// with an error naming it, fast; what was delivered before is right; the
// workers survive, and the next call answers everything.
TEST(Pipeline, AFailingStageStopsEveryStageAndNamesIt) {
  const Tiny& t = TinyLlama();
  auto reference = MakeTiny({"hf_native", {"cpu"}, "{}"});
  ASSERT_NE(reference, nullptr);
  const auto want = Execute(*reference, t.scoring);
  auto b = MakeTiny({"pipeline", Cpus(3),
                     R"({"micro_batch_size": 1, "debug_fail_stage": 1, "debug_fail_after": 5})"});
  ASSERT_NE(b, nullptr);
  std::vector<std::vector<compass_str>> stops;
  const std::vector<compass_request> abi = ToAbi(t.scoring, stops);
  std::vector<double> delivered(t.scoring.size(), NAN);
  const auto start = std::chrono::steady_clock::now();
  const Status s = b->instance->Execute(abi, [&](const compass_result& r) {
    delivered[r.index] = r.logprob;
    return Status::Ok();
  });
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 30);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("stage 1 on cpu:1 (layers"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("injected fault"), std::string::npos) << s.message();
  size_t answered = 0;
  for (size_t i = 0; i < delivered.size(); ++i) {
    if (std::isnan(delivered[i])) continue;
    ++answered;
    EXPECT_NEAR(delivered[i], want[i][0].logprob, kSelfTolerance) << i;
  }
  EXPECT_GE(answered, 1u);
  EXPECT_LT(answered, t.scoring.size());
  ExpectSameResults(Execute(*b, t.scoring), want, "after the failure");
}

// Two stages of equal layer counts on the real model, 2 rows per
// micro-batch: the scoring micro-batches stream through, and the measured
// bubble (the share of 2 x span that no stage computed) is within 10
// points of (p - 1) / (m + p - 1). The stages share this machine's cores:
// each stage's busy time is measured, not a wall-clock speed-up. One
// libtorch thread per stage keeps a stage's time its own.
TEST(Pipeline, TwoStageBubbleIsNearTheIdeal) {
  ASSERT_FALSE(RealModelPath().empty()) << kRealModelHint;
  auto b = MakeReal(Cpus(2), R"({"split": "layers", "micro_batch_size": 2, "threads": 1})", 2);
  ASSERT_NE(b, nullptr);
  RunAll(*b, InOrder());
  const double m = Figure(*b, "scoring_micro_batches");
  const double measured = Figure(*b, "scoring_bubble");
  const double ideal = Figure(*b, "scoring_bubble_ideal");
  std::printf("[ bubble ] 2 stages, %.0f micro-batches: measured %.3f, ideal %.3f\n", m, measured,
              ideal);
  EXPECT_GE(m, 16);
  EXPECT_NEAR(ideal, 1.0 / (m + 1), 1e-9);
  EXPECT_LE(std::abs(measured - ideal), 0.10);
}

}  // namespace
}  // namespace compass::testing
