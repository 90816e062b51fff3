// paged_tp on the real model (SmolLM2-135M-Instruct Q4_1, float32 on CPU)
// through the real loader: what prefix sharing may never change. The same
// requests with sharing on and off, in shuffled order, at 1 and 32
// sequences per step, on a KV budget small enough to preempt, give the same
// log-probs (within 1e-5, relative) and predictions, and the same greedy generations;
// hf_native, the oracle, agrees within 1e-4. The bound is relative to the
// log-prob's size: float32 GEMMs accumulate in an order that depends on how
// many rows a step holds, which moves a log-prob of -45 by up to 2e-5 (about
// 5e-7 of it). Sharing itself is measured:
// prompts with a common few-shot prefix compute a fraction of their tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "backend_harness.h"
#include "devices/devices.h"
#include "models/tiny_model.h"
#include "real_model.h"
#include "real_workload.h"
#include "runner/request_builder.h"
#include "tokenizer/tokenizer.h"

namespace compass::testing {
namespace {

constexpr double kSelfTolerance = 1e-5;
constexpr double kOracleTolerance = 1e-4;
std::unique_ptr<LoadedBackend> Make(const std::string& options, uint32_t batch = 0,
                                    int64_t max_length = 2048) {
  Status error;
  auto b = MakeBackend({"paged_tp", {"cpu"}, options}, RealModelPath(), batch, max_length, &error);
  EXPECT_NE(b, nullptr) << options << ": " << error.ToString();
  return b;
}

TEST(PagedTp, SharingOrderAndBatchNeverChangeTheAnswers) {
  ASSERT_FALSE(RealModelPath().empty()) << kRealModelHint;
  auto shared = Make("{}");
  ASSERT_NE(shared, nullptr);
  const auto reference = RunAll(*shared, InOrder());
  // Sharing works: the few-shot prefix is computed once, not per request.
  const double requested = Figure(*shared, "prefill_tokens_requested");
  const double computed = Figure(*shared, "prefill_tokens_computed");
  EXPECT_LT(computed, requested / 3) << computed << " of " << requested;
  EXPECT_GE(requested, static_cast<double>(RealWorkload().prompt_tokens) / 4);

  auto unshared = Make(R"({"prefix_caching": false})");
  ExpectSame(RunAll(*unshared, InOrder()), reference, kSelfTolerance, "sharing off");
  EXPECT_DOUBLE_EQ(Figure(*unshared, "prefix_hit_ratio"), 0.0);

  std::vector<size_t> shuffled = InOrder();
  std::mt19937 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  auto again = Make("{}");
  ExpectSame(RunAll(*again, shuffled), reference, kSelfTolerance, "shuffled");

  auto one = Make("{}", 1);
  ExpectSame(RunAll(*one, InOrder()), reference, kSelfTolerance, "one sequence per step");
  auto many = Make(R"({"max_batched_tokens": 4096})", 32);
  ExpectSame(RunAll(*many, InOrder()), reference, kSelfTolerance, "32 sequences per step");

  // A budget of a few sequences' blocks in small steps: chunked prefill and
  // evictions, the same answers (preemption is driven hard by the
  // scheduler's own stress tests).
  // (A context window of 512 tokens: 32 blocks, the least the plan allows.)
  auto tight = Make(R"({"num_blocks": 32, "block_size": 16, "max_batched_tokens": 64})", 8, 512);
  ExpectSame(RunAll(*tight, shuffled), reference, kSelfTolerance, "32 blocks");
  EXPECT_LE(Figure(*tight, "peak_blocks"), 32);

  Status error;
  auto oracle = MakeBackend({"hf_native", {"cpu"}, "{}"}, RealModelPath(), 8, 512, &error);
  ASSERT_NE(oracle, nullptr) << error.ToString();
  ExpectSame(RunAll(*oracle, InOrder()), reference, kOracleTolerance, "hf_native");
}

// A tiny llama with a vocabulary of 301 (which no rank count divides) and
// mixed scoring and generation requests over it.
struct TinyWorkload {
  std::string dir;
  std::vector<TestRequest> requests;
};

const TinyWorkload& Vocab301() {
  static const TinyWorkload w = [] {
    TinyWorkload w;
    auto spec = model::TinyModelVariant("llama");
    EXPECT_TRUE(spec.ok());
    spec->vocab_size = 301;
    w.dir = ::testing::TempDir() + "/paged_tp_vocab301";
    EXPECT_TRUE(model::WriteTinyModel(*spec, w.dir).ok());
    std::mt19937 rng(3);
    for (int i = 0; i < 6; ++i) {
      TestRequest r;
      for (int t = 0; t < 20 + 7 * i; ++t) r.context.push_back(static_cast<int32_t>(rng() % 301));
      r.continuation = {static_cast<int32_t>(rng() % 301), 300, static_cast<int32_t>(rng() % 301)};
      w.requests.push_back(r);
      TestRequest g;
      g.generate = true;
      g.context = r.context;
      g.max_new_tokens = 8;
      w.requests.push_back(g);
    }
    return w;
  }();
  return w;
}

// The tiny workload on `devices` against one CPU rank: log-probs within
// `tolerance`, generations identical.
void ExpectTinyWorkloadAsOnOneCpu(const std::vector<std::string>& devices,
                                  const std::string& options, double tolerance) {
  const TinyWorkload& w = Vocab301();
  Status error;
  auto one = MakeBackend({"paged_tp", {"cpu"}, "{}"}, w.dir, 4, 128, &error);
  ASSERT_NE(one, nullptr) << error.ToString();
  const auto want = Execute(*one, w.requests);
  auto other = MakeBackend({"paged_tp", devices, options}, w.dir, 4, 128, &error);
  ASSERT_NE(other, nullptr) << options << ": " << error.ToString();
  const auto got = Execute(*other, w.requests);
  for (size_t i = 0; i < w.requests.size(); ++i) {
    if (w.requests[i].generate) {
      EXPECT_EQ(got[i][0].tokens, want[i][0].tokens) << options << " request " << i;
    } else {
      EXPECT_NEAR(got[i][0].logprob, want[i][0].logprob, tolerance) << options << " request " << i;
    }
  }
}

// Tensor parallelism with a vocabulary no rank count divides: each rank's
// head shard is padded past the vocabulary, and the padded logits must be
// dropped before any softmax. Two and four ranks give one rank's answers.
TEST(PagedTp, TensorParallelWithAVocabularyTheRanksDoNotDivide) {
  for (int tp : {2, 4}) {
    std::vector<std::string> devices;
    for (int r = 0; r < tp; ++r) devices.push_back("cpu:" + std::to_string(r));
    ExpectTinyWorkloadAsOnOneCpu(devices, "{\"tp\": " + std::to_string(tp) + "}", kSelfTolerance);
  }
}

// On a GPU the same requests through the CUDA paged attention path (the KV
// budget measured at start-up), and with two GPUs through NCCL, agree with
// the CPU path (float32). Skipped without a GPU.
TEST(PagedTp, OnCudaMatchesCpuWhenAGpuIsPresent) {
  const size_t gpus = ProbeCudaDevices().size();
  if (gpus == 0) GTEST_SKIP() << "no CUDA device";
  ExpectTinyWorkloadAsOnOneCpu({"cuda:0"}, "{}", kOracleTolerance);
  if (gpus >= 2)
    ExpectTinyWorkloadAsOnOneCpu({"cuda:0", "cuda:1"}, R"({"tp": 2})", kOracleTolerance);
}

TEST(PagedTp, RefusesBadOptionsBeforeLoading) {
  const struct {
    std::string options, fragment;
    uint32_t world = 1;
  } cases[] = {
      {R"({"block_size": 0})", "block_size must be a power of two"},
      {R"({"block_size": 12})", "block_size must be a power of two"},
      {R"({"memory_utilization": 1.5})", "memory_utilization must be in (0, 1]"},
      {R"({"tp": 2})", "tp = 2 needs 2 devices"},
      // Ranks as processes: the launch must hold whole model copies.
      {R"({"tp": 2, "processes": true})",
       "runs one model copy as 2 processes, but this is a "
       "single process: launch a multiple of 2 processes"},
      {R"({"tp": 2, "processes": true})",
       "runs one model copy as 2 processes, but this launch has 3 processes", 3},
      {R"({"tp": 2, "processes": true, "stages": 2})",
       "runs one model copy as 4 processes, but this launch has 6 processes", 6},
  };
  for (const auto& c : cases) {
    Status error;
    BackendSpec spec{"paged_tp", {"cpu"}, c.options};
    spec.world = c.world;
    auto b = MakeBackend(spec, Goldens()[0].dir, 1, 256, &error);
    EXPECT_EQ(b, nullptr) << c.options;
    EXPECT_NE(error.message().find(c.fragment), std::string::npos)
        << c.options << ": " << error.message();
  }
  // Stages in one process: planned, refused at load saying how to run them.
  {
    Status error;
    auto b = MakeBackend({"paged_tp", {"cpu:0", "cpu:1"}, R"({"stages": 2})"}, Goldens()[0].dir, 1,
                         256, &error);
    EXPECT_EQ(b, nullptr);
    EXPECT_EQ(error.code(), COMPASS_UNSUPPORTED) << error.ToString();
    EXPECT_NE(error.message().find("stages = 2 runs only with processes = true"), std::string::npos)
        << error.message();
  }
  // Too few blocks for one sequence of the context window: no load.
  Status error;
  auto b = MakeBackend({"paged_tp", {"cpu"}, R"({"num_blocks": 3, "block_size": 16})"},
                       Goldens()[0].dir, 1, 256, &error);
  EXPECT_EQ(b, nullptr);
  EXPECT_EQ(error.code(), COMPASS_OUT_OF_MEMORY) << error.ToString();
  EXPECT_NE(error.message().find("fewer than one sequence of 256 tokens"), std::string::npos)
      << error.message();
}

}  // namespace
}  // namespace compass::testing
