// The ABI protocol every backend must keep, numbers aside: exactly one
// answer per request (per sample for generations) in a call that mixes
// request kinds, progress that reaches the total, cancellation that ends the
// call and keeps what was delivered, a per-request error that leaves the
// other requests alone, and a sink that says "stop". Run on the in-tree
// backends and on the SDK example backend (examples/sdk_backend), each on a
// model folder of its own kind with the byte vocabulary.
#include <gtest/gtest.h>

#include <atomic>
#include <functional>

#include "backend_harness.h"

namespace compass::testing {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kVocab = 258;  // the byte tokenizer's: 256 bytes, BOS, EOS

struct ProtocolCase {
  BackendSpec backend;
  std::string model;  // "tiny_llama" or "bigram_corpus"
};

void PrintTo(const ProtocolCase& c, std::ostream* os) {
  *os << c.backend.name;
}

std::string ModelFolder(const std::string& kind) {
  const fs::path dir =
      fs::temp_directory_path() / ("compass_protocol_" + std::to_string(::getpid())) / kind;
  if (fs::exists(dir)) return dir.string();
  if (kind == "tiny_llama") {
    auto spec = model::TinyModelVariant("llama");
    EXPECT_TRUE(spec.ok());
    spec->vocab_size = kVocab;
    EXPECT_TRUE(model::WriteTinyModel(*spec, dir.string()).ok());
  } else {
    fs::create_directories(dir);
    fs::copy_file(fs::path(COMPASS_SOURCE_DIR) / "examples/sdk_backend/corpus.txt",
                  dir / "corpus.txt");
  }
  return dir.string();
}

const ProtocolCase kCases[] = {
    {{"hf_native"}, "tiny_llama"},
    {{"paged_tp"}, "tiny_llama"},
    {{"pipeline", {"cpu:0", "cpu:1"}, "{}"}, "tiny_llama"},
    {{"bigram", {"cpu"}, "{}", COMPASS_BIGRAM_PLUGIN_DIR}, "bigram_corpus"},
};

class Protocol : public ::testing::TestWithParam<ProtocolCase> {
 protected:
  std::unique_ptr<LoadedBackend> Make() {
    Status error;
    auto b = MakeBackend(GetParam().backend, ModelFolder(GetParam().model), 1, 64, &error, kVocab);
    EXPECT_NE(b, nullptr) << error.ToString();
    return b;
  }

  // A mix of kinds: scoring, greedy generation, sampled generation.
  static std::vector<TestRequest> Mixed() {
    std::vector<TestRequest> out;
    for (int i = 0; i < 5; ++i) {
      TestRequest ll;
      ll.context = {256, 'T', 'h', 'e', ' '};
      ll.continuation = {'c', 'a', 't' + i % 3};
      out.push_back(ll);
    }
    TestRequest greedy;
    greedy.generate = true;
    greedy.context = {256, 'O', 'n', 'c', 'e'};
    greedy.max_new_tokens = 6;
    greedy.stop_ids = {257};
    out.push_back(greedy);
    TestRequest sampled = greedy;
    sampled.temperature = 1.0f;
    sampled.num_samples = 3;
    sampled.seed = 11;
    out.push_back(sampled);
    return out;
  }
};

TEST_P(Protocol, ExactlyOneAnswerPerRequestAndSampleWithProgress) {
  auto b = Make();
  ASSERT_NE(b, nullptr);
  uint64_t last_done = 0, last_total = 0, calls = 0;
  b->host.SetProgress([&](uint64_t done, uint64_t total, uint64_t) {
    EXPECT_GE(done, last_done) << "progress went backwards";
    last_done = done;
    last_total = total;
    ++calls;
  });
  const auto requests = Mixed();
  const auto got = Execute(*b, requests);  // fails on a missing or repeated answer
  b->host.SetProgress(nullptr);
  ASSERT_EQ(got.size(), requests.size());
  EXPECT_EQ(got.back().size(), 3u);
  for (const auto& r : got) {
    for (const auto& s : r) EXPECT_EQ(s.error_code, COMPASS_OK) << s.error;
  }
  EXPECT_GT(calls, 0u);
  EXPECT_EQ(last_total, 5u + 1u + 3u);  // every result owed, samples included
  EXPECT_EQ(last_done, last_total);
}

TEST_P(Protocol, ABadRequestIsAnsweredWithItsOwnError) {
  auto b = Make();
  ASSERT_NE(b, nullptr);
  auto requests = Mixed();
  requests[2].context.push_back(static_cast<int32_t>(kVocab + 100));
  requests[5].context.push_back(-1);
  const auto got = Execute(*b, requests);
  for (size_t i = 0; i < requests.size(); ++i) {
    const bool bad = i == 2 || i == 5;
    for (const auto& s : got[i]) {
      EXPECT_EQ(s.error_code, bad ? COMPASS_INVALID_ARGUMENT : COMPASS_OK) << "request " << i;
      if (bad) EXPECT_FALSE(s.error.empty());
    }
  }
}

TEST_P(Protocol, CancellationEndsTheCallAndKeepsWhatWasDelivered) {
  auto b = Make();
  ASSERT_NE(b, nullptr);
  std::vector<TestRequest> requests;
  for (int i = 0; i < 40; ++i) {
    TestRequest r;  // distinct inputs: no two share a forward
    r.context = {256, 'a' + i % 26, 'a' + i / 26, ' '};
    r.continuation = {'x', 'y'};
    requests.push_back(r);
  }
  std::vector<std::vector<compass_str>> stops;
  const auto abi = ToAbi(requests, stops);
  uint64_t delivered = 0;
  Status s = b->instance->Execute(abi, [&](const compass_result&) {
    if (++delivered == 3) b->host.RequestCancel();  // Ctrl-C after the third answer
    return Status::Ok();
  });
  EXPECT_EQ(s.code(), COMPASS_CANCELLED) << s.ToString();
  EXPECT_GE(delivered, 3u);
  EXPECT_LT(delivered, 40u) << "the backend did not stop";
}

TEST_P(Protocol, ASinkThatSaysStopEndsTheCallAtOnce) {
  auto b = Make();
  ASSERT_NE(b, nullptr);
  const auto requests = Mixed();
  std::vector<std::vector<compass_str>> stops;
  const auto abi = ToAbi(requests, stops);
  uint64_t delivered = 0;
  Status s = b->instance->Execute(abi, [&](const compass_result&) {
    ++delivered;
    return IoError("disk full");
  });
  EXPECT_EQ(s.code(), COMPASS_IO) << s.ToString();
  EXPECT_EQ(delivered, 1u);
}

INSTANTIATE_TEST_SUITE_P(Backends, Protocol, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<ProtocolCase>& info) {
                           return info.param.backend.name;
                         });

}  // namespace
}  // namespace compass::testing
