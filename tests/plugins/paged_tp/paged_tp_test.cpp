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
#include "runner/request_builder.h"
#include "tokenizer/tokenizer.h"

namespace compass::testing {
namespace {

constexpr double kSelfTolerance = 1e-5;
constexpr double kOracleTolerance = 1e-4;
constexpr size_t kItems = 12;

// ARC-Easy questions from the embedded default's slice, each after the same
// three solved questions (a few-shot prefix, as MMLU and ARC prompts share),
// one request per choice; and a few greedy generations.
struct Workload {
  std::vector<TestRequest> requests;
  std::vector<size_t> item_of;  // request -> item
  uint64_t prompt_tokens = 0;
};

const Workload& RealWorkload() {
  static const Workload w = [] {
    Workload w;
    auto tokenizer = LoadTokenizer("auto", RealModelPath());
    EXPECT_TRUE(tokenizer.ok()) << tokenizer.status().message();
    std::ifstream in(std::string(COMPASS_SOURCE_DIR) +
                     "/examples/default/data/arc/ARC-Easy-Test.jsonl");
    std::vector<nlohmann::json> items;
    for (std::string line; std::getline(in, line) && items.size() < kItems + 3;) {
      items.push_back(nlohmann::json::parse(line));
    }
    auto text = [](const nlohmann::json& q) {
      return "Question: " + q["question"]["stem"].get<std::string>() + "\nAnswer:";
    };
    std::string shots;
    for (size_t s = 0; s < 3; ++s) {
      const auto& q = items[s];
      std::string gold;
      for (const auto& c : q["question"]["choices"]) {
        if (c["label"] == q["answerKey"]) gold = c["text"].get<std::string>();
      }
      shots += text(q) + " " + gold + "\n\n";
    }
    for (size_t i = 3; i < items.size(); ++i) {
      for (const auto& c : items[i]["question"]["choices"]) {
        const EncodedPair p = EncodePair(**tokenizer, shots + text(items[i]),
                                         " " + c["text"].get<std::string>(), false);
        TestRequest r;
        r.context = p.context;
        r.continuation = p.continuation;
        w.prompt_tokens += p.context.size() + p.continuation.size() - 1;
        w.requests.push_back(std::move(r));
        w.item_of.push_back(i - 3);
      }
    }
    for (size_t i = 3; i < 6; ++i) {
      TestRequest g;
      g.generate = true;
      g.context = (*tokenizer)->Encode(shots + text(items[i]));
      g.max_new_tokens = 12;
      w.requests.push_back(std::move(g));
      w.item_of.push_back(i - 3);
    }
    return w;
  }();
  return w;
}

std::unique_ptr<LoadedBackend> Make(const std::string& options, uint32_t batch = 0,
                                    int64_t max_length = 2048) {
  Status error;
  auto b = MakeBackend({"paged_tp", {"cpu"}, options}, RealModelPath(), batch, max_length, &error);
  EXPECT_NE(b, nullptr) << options << ": " << error.ToString();
  return b;
}

// Results in request order, whatever order the requests were sent in.
std::vector<TestResult> RunAll(LoadedBackend& b, const std::vector<size_t>& order) {
  const Workload& w = RealWorkload();
  std::vector<TestRequest> sent;
  for (size_t i : order) sent.push_back(w.requests[i]);
  const auto got = Execute(b, sent);
  std::vector<TestResult> out(w.requests.size());
  for (size_t k = 0; k < order.size(); ++k) out[order[k]] = got[k][0];
  return out;
}

std::vector<size_t> InOrder() {
  std::vector<size_t> o(RealWorkload().requests.size());
  for (size_t i = 0; i < o.size(); ++i) o[i] = i;
  return o;
}

// Each item's predicted choice (argmax log-likelihood).
std::vector<size_t> Predictions(const std::vector<TestResult>& r) {
  const Workload& w = RealWorkload();
  std::vector<size_t> best(kItems, 0);
  std::vector<double> score(kItems, -INFINITY);
  std::vector<size_t> choice(kItems, 0);
  for (size_t i = 0; i < w.requests.size(); ++i) {
    if (w.requests[i].generate) continue;
    const size_t item = w.item_of[i];
    if (r[i].logprob > score[item]) {
      score[item] = r[i].logprob;
      best[item] = choice[item];
    }
    ++choice[item];
  }
  return best;
}

void ExpectSame(const std::vector<TestResult>& got, const std::vector<TestResult>& want,
                double tolerance, const std::string& what) {
  const Workload& w = RealWorkload();
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].error_code, COMPASS_OK) << what << ": " << got[i].error;
    if (w.requests[i].generate) {
      EXPECT_EQ(got[i].tokens, want[i].tokens) << what << ": generation " << i;
      continue;
    }
    auto bound = [&](double x) { return tolerance * std::max(1.0, std::abs(x)); };
    EXPECT_NEAR(got[i].logprob, want[i].logprob, bound(want[i].logprob))
        << what << ": request " << i;
    ASSERT_EQ(got[i].token_logprobs.size(), want[i].token_logprobs.size());
    for (size_t t = 0; t < got[i].token_logprobs.size(); ++t) {
      EXPECT_NEAR(got[i].token_logprobs[t], want[i].token_logprobs[t],
                  bound(want[i].token_logprobs[t]))
          << what << ": request " << i << " token " << t;
    }
  }
  EXPECT_EQ(Predictions(got), Predictions(want)) << what;
}

double Figure(LoadedBackend& b, const std::string& name) {
  auto figures = b.instance->Figures();
  EXPECT_TRUE(figures.ok());
  for (const auto& f : *figures) {
    if (f.name == name) return f.value;
  }
  ADD_FAILURE() << "no figure " << name;
  return NAN;
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
  } cases[] = {
      {R"({"block_size": 0})", "block_size must be a power of two"},
      {R"({"block_size": 12})", "block_size must be a power of two"},
      {R"({"memory_utilization": 1.5})", "memory_utilization must be in (0, 1]"},
      {R"({"tp": 2})", "tp = 2 needs 2 devices"},
  };
  for (const auto& c : cases) {
    Status error;
    auto b = MakeBackend({"paged_tp", {"cpu"}, c.options}, Goldens()[0].dir, 1, 256, &error);
    EXPECT_EQ(b, nullptr) << c.options;
    EXPECT_NE(error.message().find(c.fragment), std::string::npos)
        << c.options << ": " << error.message();
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
