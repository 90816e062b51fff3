// A real-model workload for the backends' own tests: ARC-Easy questions
// from the embedded default's slice after the same three solved questions
// (a few-shot prefix, as MMLU and ARC prompts share), one scoring request
// per choice, and a few greedy generations; with the checks that compare two
// backends' answers on it (log-probs within a bound relative to their size,
// identical predictions and generations).
#ifndef COMPASS_TESTS_REAL_WORKLOAD_H_
#define COMPASS_TESTS_REAL_WORKLOAD_H_

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend_harness.h"
#include "real_model.h"
#include "runner/request_builder.h"
#include "tokenizer/tokenizer.h"

namespace compass::testing {

inline constexpr size_t kRealItems = 12;

// ARC-Easy questions from the embedded default's slice, each after the same
// three solved questions (a few-shot prefix, as MMLU and ARC prompts share),
// one request per choice; and a few greedy generations.
struct Workload {
  std::vector<TestRequest> requests;
  std::vector<size_t> item_of;  // request -> item
  uint64_t prompt_tokens = 0;
};

inline const Workload& RealWorkload() {
  static const Workload w = [] {
    Workload w;
    auto tokenizer = LoadTokenizer("auto", RealModelPath());
    EXPECT_TRUE(tokenizer.ok()) << tokenizer.status().message();
    std::ifstream in(std::string(COMPASS_SOURCE_DIR) +
                     "/examples/default/data/arc/ARC-Easy-Test.jsonl");
    std::vector<nlohmann::json> items;
    for (std::string line; std::getline(in, line) && items.size() < kRealItems + 3;) {
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

// Results in request order, whatever order the requests were sent in.
inline std::vector<TestResult> RunAll(LoadedBackend& b, const std::vector<size_t>& order) {
  const Workload& w = RealWorkload();
  std::vector<TestRequest> sent;
  for (size_t i : order) sent.push_back(w.requests[i]);
  const auto got = Execute(b, sent);
  std::vector<TestResult> out(w.requests.size());
  for (size_t k = 0; k < order.size(); ++k) out[order[k]] = got[k][0];
  return out;
}

inline std::vector<size_t> InOrder() {
  std::vector<size_t> o(RealWorkload().requests.size());
  for (size_t i = 0; i < o.size(); ++i) o[i] = i;
  return o;
}

// Each item's predicted choice (argmax log-likelihood).
inline std::vector<size_t> Predictions(const std::vector<TestResult>& r) {
  const Workload& w = RealWorkload();
  std::vector<size_t> best(kRealItems, 0);
  std::vector<double> score(kRealItems, -INFINITY);
  std::vector<size_t> choice(kRealItems, 0);
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

inline void ExpectSame(const std::vector<TestResult>& got, const std::vector<TestResult>& want,
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

// The backend's figure `name` (in `scope`, when given); NaN (and a
// failure) when it has none.
inline double Figure(LoadedBackend& b, const std::string& name, const std::string& scope = "") {
  auto figures = b.instance->Figures();
  EXPECT_TRUE(figures.ok());
  for (const auto& f : *figures) {
    if (f.name == name && (scope.empty() || f.scope == scope)) return f.value;
  }
  ADD_FAILURE() << "no figure " << name << " " << scope;
  return NAN;
}

}  // namespace compass::testing

#endif  // COMPASS_TESTS_REAL_WORKLOAD_H_
