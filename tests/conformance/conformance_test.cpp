// The conformance suite: the same requests through every in-tree backend
// configuration, compared with transformers' goldens and with the reference
// backend (hf_native on one CPU device). A new backend joins with one line
// in kBackends.
#include <gtest/gtest.h>

#include "backend_harness.h"
#include "runner/request_builder.h"

namespace compass::testing {
namespace {

constexpr double kHfTolerance = 1e-4;    // against transformers (model core bound)
constexpr double kSelfTolerance = 1e-5;  // against the reference backend

const BackendSpec kReference{"hf_native", {"cpu"}, "{}"};

const BackendSpec kBackends[] = {
    kReference,
    {"hf_native", {"cpu:0", "cpu:1", "cpu:2"}, R"({"device_map": "balanced"})"},
    {"paged_tp", {"cpu"}, "{}"},
    // Small blocks and steps: chunked prefill, many blocks per sequence.
    {"paged_tp", {"cpu"}, R"({"block_size": 4, "max_batched_tokens": 24})"},
    {"paged_tp", {"cpu"}, R"({"prefix_caching": false})"},
    // Tensor parallel over cpu:N ranks; with 4 ranks the tiny models' KV
    // heads (1, 2 or 4) are replicated or split.
    {"paged_tp", {"cpu:0", "cpu:1"}, R"({"tp": 2})"},
    {"paged_tp", {"cpu:0", "cpu:1", "cpu:2", "cpu:3"}, R"({"tp": 4, "block_size": 4})"},
    // Pipelines of 1 to 4 stages over cpu:N devices (the tiny models have 4
    // or 5 layers): split by bytes and by layer counts; one micro-batch in
    // flight, and many small ones.
    {"pipeline", {"cpu"}, "{}"},
    {"pipeline", {"cpu:0", "cpu:1"}, R"({"split": "bytes", "micro_batch_size": 2})"},
    {"pipeline", {"cpu:0", "cpu:1", "cpu:2"}, R"({"split": "layers", "micro_batches": 1})"},
    {"pipeline",
     {"cpu:0", "cpu:1", "cpu:2", "cpu:3"},
     R"({"split": "layers", "micro_batch_size": 3})"},
};

}  // namespace

void PrintTo(const BackendSpec& spec, std::ostream* os) {
  *os << spec.name << " on " << spec.devices.size() << " device(s) with " << spec.options;
}

namespace {

std::string Name(const ::testing::TestParamInfo<BackendSpec>& info) {
  return info.param.name + "_" + std::to_string(info.param.devices.size()) + "dev_" +
         std::to_string(info.index);
}

class Conformance : public ::testing::TestWithParam<BackendSpec> {
 protected:
  std::unique_ptr<LoadedBackend> Make(const Golden& g, uint32_t batch, int64_t max_length = 256) {
    Status error;
    auto b = MakeBackend(GetParam(), g.dir, batch, max_length, &error);
    EXPECT_NE(b, nullptr) << g.variant << ": " << error.ToString();
    return b;
  }
};

TEST_P(Conformance, LoglikelihoodMatchesTransformersAtBatch1And8) {
  ASSERT_GE(Goldens().size(), 7u);
  for (const Golden& g : Goldens()) {
    const auto cases = LoglikelihoodCases(g);
    for (uint32_t batch : {1u, 8u}) {
      auto b = Make(g, batch);
      ASSERT_NE(b, nullptr);
      const auto got = Execute(*b, Requests(cases));
      for (size_t i = 0; i < cases.size(); ++i) {
        const TestResult& r = got[i][0];
        const std::string where =
            g.variant + " batch " + std::to_string(batch) + " request " + std::to_string(i);
        ASSERT_EQ(r.error_code, COMPASS_OK) << where << ": " << r.error;
        EXPECT_NEAR(r.logprob, cases[i].expected, kHfTolerance) << where;
        EXPECT_EQ(r.is_greedy, cases[i].greedy) << where;
        // Per-token detail agrees with the totals.
        const auto& cont = cases[i].request.continuation;
        ASSERT_EQ(r.token_logprobs.size(), cont.size()) << where;
        ASSERT_EQ(r.greedy_tokens.size(), cont.size()) << where;
        double sum = 0;
        bool all = true;
        for (size_t t = 0; t < cont.size(); ++t) {
          sum += r.token_logprobs[t];
          all = all && r.greedy_tokens[t] == cont[t];
        }
        EXPECT_NEAR(sum, r.logprob, 1e-4) << where;
        EXPECT_EQ(all, r.is_greedy) << where;
      }
    }
  }
}

TEST_P(Conformance, RollingWindowsFromTheCoreMatchTransformers) {
  // The core splits a text into windows; with a window longer than the
  // text, the one window's log-prob is transformers' whole-text log-prob.
  for (const Golden& g : Goldens()) {
    auto b = Make(g, 4);
    ASSERT_NE(b, nullptr);
    std::vector<TestRequest> requests;
    std::vector<double> expected;
    for (size_t p = 0; p < g.prompts.size(); ++p) {
      std::vector<int32_t> text = g.prompts[p];
      text.push_back(g.generations[p][0]);
      const std::vector<int32_t> body(text.begin() + 1, text.end());
      const auto windows = RollingWindows(body, text[0], 256);
      ASSERT_EQ(windows.size(), 1u);
      TestRequest r;
      r.context = windows[0].first;
      r.continuation = windows[0].second;
      requests.push_back(r);
      double e = 0;
      for (size_t t = 1; t < text.size(); ++t) e += GoldenLogProb(g, p, t - 1, text[t], nullptr);
      expected.push_back(e);
    }
    const auto got = LogProbs(Execute(*b, requests));
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_NEAR(got[i], expected[i], kHfTolerance) << g.variant << " prompt " << i;
    }
  }
}

TEST_P(Conformance, GreedyGenerationMatchesTransformersAtBatch1And8) {
  for (const Golden& g : Goldens()) {
    for (uint32_t batch : {1u, 8u}) {
      auto b = Make(g, batch);
      ASSERT_NE(b, nullptr);
      std::vector<TestRequest> requests;
      for (size_t p = 0; p < g.prompts.size(); ++p) {
        TestRequest r;
        r.generate = true;
        r.context = g.prompts[p];
        r.max_new_tokens = static_cast<uint32_t>(g.generations[p].size());
        requests.push_back(r);
      }
      const auto got = Execute(*b, requests);
      for (size_t p = 0; p < requests.size(); ++p) {
        EXPECT_EQ(got[p][0].tokens, g.generations[p])
            << g.variant << " batch " << batch << " prompt " << p;
        EXPECT_EQ(got[p][0].finish_reason, static_cast<uint32_t>(COMPASS_FINISH_LENGTH));
        EXPECT_EQ(got[p][0].token_logprobs.size(), g.generations[p].size());
      }
    }
  }
}

TEST_P(Conformance, StopTokensAndStopStringsEndGeneration) {
  const Golden& g = Goldens()[0];
  auto b = Make(g, 4);
  ASSERT_NE(b, nullptr);
  const auto& expected = g.generations[0];
  ASSERT_GE(expected.size(), 8u);
  auto text = [](int32_t id) { return "<" + std::to_string(id) + ">"; };
  TestRequest base;
  base.generate = true;
  base.context = g.prompts[0];
  base.max_new_tokens = 32;
  // A stop token: not returned.
  TestRequest by_token = base;
  by_token.stop_ids = {expected[5]};
  // A stop string inside one token's text, and one spanning two tokens'
  // texts: the completing token is returned.
  TestRequest inside = base;
  inside.stop = {"never there", text(expected[3])};
  TestRequest spanning = base;
  spanning.stop = {text(expected[2]).substr(1) + text(expected[3]).substr(0, 2)};
  const auto got = Execute(*b, {by_token, inside, spanning});
  const auto first = std::find(expected.begin(), expected.end(), expected[5]);
  EXPECT_EQ(got[0][0].tokens, std::vector<int32_t>(expected.begin(), first));
  EXPECT_EQ(got[0][0].finish_reason, static_cast<uint32_t>(COMPASS_FINISH_STOP_TOKEN));
  // The earliest occurrence counts (a token may repeat).
  const auto until = [&](const std::string& stop) {
    std::string so_far;
    for (size_t i = 0; i < expected.size(); ++i) {
      so_far += text(expected[i]);
      if (so_far.find(stop) != std::string::npos) {
        return std::vector<int32_t>(expected.begin(), expected.begin() + i + 1);
      }
    }
    return expected;
  };
  EXPECT_EQ(got[1][0].tokens, until(inside.stop[1]));
  EXPECT_EQ(got[1][0].finish_reason, static_cast<uint32_t>(COMPASS_FINISH_STOP_STRING));
  EXPECT_EQ(got[2][0].tokens, until(spanning.stop[0]));
  EXPECT_EQ(got[2][0].finish_reason, static_cast<uint32_t>(COMPASS_FINISH_STOP_STRING));
}

TEST_P(Conformance, SamplingIsSeededAndDegeneratesToGreedy) {
  const Golden& g = Goldens()[0];
  auto b = Make(g, 8);
  ASSERT_NE(b, nullptr);
  TestRequest sampled;
  sampled.generate = true;
  sampled.context = g.prompts[1];
  sampled.max_new_tokens = 12;
  sampled.temperature = 1.5f;
  sampled.num_samples = 4;
  sampled.seed = 7;
  TestRequest top1 = sampled;  // top_k 1 leaves only the argmax
  top1.top_k = 1;
  top1.num_samples = 1;
  TestRequest greedy = sampled;
  greedy.temperature = 0;
  greedy.num_samples = 1;
  const auto first = Execute(*b, {sampled, top1, greedy});
  const auto again = Execute(*b, {sampled});
  ASSERT_EQ(first[0].size(), 4u);
  for (size_t s = 0; s < 4; ++s) {
    EXPECT_EQ(first[0][s].tokens.size(), 12u);
    EXPECT_EQ(first[0][s].tokens, again[0][s].tokens) << "sample " << s << " is not reproducible";
  }
  // Samples draw from different generators: at temperature 1.5 over a
  // random model, four identical 12-token samples would be a broken seed.
  bool differ = false;
  for (size_t s = 1; s < 4; ++s) differ |= first[0][s].tokens != first[0][0].tokens;
  EXPECT_TRUE(differ);
  EXPECT_EQ(first[1][0].tokens, first[2][0].tokens);
  EXPECT_EQ(first[2][0].tokens,
            std::vector<int32_t>(
                g.generations[1].begin(),
                g.generations[1].begin() + std::min<size_t>(12, g.generations[1].size())));
}

TEST_P(Conformance, ABadRequestGetsItsOwnErrorAndTheOthersGoOn) {
  const Golden& g = Goldens()[0];
  auto b = Make(g, 4);
  ASSERT_NE(b, nullptr);
  const auto cases = LoglikelihoodCases(g);
  std::vector<TestRequest> requests = {cases[0].request, cases[1].request};
  TestRequest bad = cases[0].request;
  bad.context[0] = static_cast<int32_t>(g.vocab + 5);
  requests.insert(requests.begin() + 1, bad);
  TestRequest bad_generation;
  bad_generation.generate = true;
  bad_generation.context = {-3};
  bad_generation.max_new_tokens = 4;
  requests.push_back(bad_generation);
  const auto got = Execute(*b, requests);
  EXPECT_EQ(got[0][0].error_code, COMPASS_OK);
  EXPECT_NEAR(got[0][0].logprob, cases[0].expected, kHfTolerance);
  EXPECT_EQ(got[1][0].error_code, COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(got[1][0].error.find("out of range"), std::string::npos) << got[1][0].error;
  EXPECT_EQ(got[2][0].error_code, COMPASS_OK);
  EXPECT_NEAR(got[2][0].logprob, cases[1].expected, kHfTolerance);
  EXPECT_EQ(got[3][0].error_code, COMPASS_INVALID_ARGUMENT);
}

TEST_P(Conformance, AgreesWithTheReferenceOnTruncatedAndMixedRequests) {
  // Windows shorter than the texts (max_length 8), loglikelihood and
  // generation requests in one call: every number equals the reference
  // backend's.
  const Golden& g = Goldens()[0];
  std::vector<TestRequest> requests;
  for (size_t p = 0; p < g.prompts.size(); ++p) {
    const auto& text = g.prompts[p];
    const std::vector<int32_t> body(text.begin() + 1, text.end());
    for (const auto& [ctx, cont] : RollingWindows(body, text[0], 8)) {
      TestRequest r;
      r.context = ctx;
      r.continuation = cont;
      requests.push_back(r);
    }
    TestRequest gen;
    gen.generate = true;
    gen.context.assign(text.end() - std::min<size_t>(4, text.size()), text.end());
    gen.max_new_tokens = 4;
    requests.push_back(gen);
  }
  auto mine = MakeBackend(GetParam(), g.dir, 3, 8);
  auto reference = MakeBackend(kReference, g.dir, 1, 8);
  ASSERT_TRUE(mine && reference);
  const auto a = Execute(*mine, requests), b = Execute(*reference, requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_EQ(a[i][0].error_code, COMPASS_OK) << i << ": " << a[i][0].error;
    if (requests[i].generate) {
      EXPECT_EQ(a[i][0].tokens, b[i][0].tokens) << "request " << i;
    } else {
      EXPECT_NEAR(a[i][0].logprob, b[i][0].logprob, kSelfTolerance) << "request " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(InTree, Conformance, ::testing::ValuesIn(kBackends), Name);

}  // namespace
}  // namespace compass::testing
