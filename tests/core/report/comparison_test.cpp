// The comparison of run folders, on real results stores written here: runs
// that agree, an injected difference (ten items flipped from right to wrong)
// found and flagged by McNemar, generations that diverge, a backend that did
// not run, request streams that differ, and the three files with every
// chart.
#include "report/comparison.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace compass {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int kItems = 40;

// A run of one multiple-choice task of kItems items (gold = choice 0, right
// on even items) and one generation task of 4 items, into `dir`. `flip`
// turns right items wrong; `token_change` changes the generated tokens of
// generation item 2 from position 3.
struct RunSpec {
  std::string backend = "hf_native";
  std::vector<int> flip;
  double logprob_shift = 0;
  bool token_change = false;
  bool extra_request = false;
};

// Every run of a test lives in one results store, under its label, as
// `compass compare` writes them.
void WriteRun(const fs::path& dir, const std::string& label, const RunSpec& spec) {
  auto store = ResultsStore::Open(dir.string(), label);
  ASSERT_TRUE(store.ok()) << store.status().message();
  RunMetadata m;
  m.config_hash = "h";
  m.backend = spec.backend;
  m.backend_version = "1";
  m.compass_version = "0.1.0";
  m.dtype = "float32";
  m.devices_json = R"(["cpu"])";
  m.backend_options_json = "{}";
  ASSERT_TRUE((*store)->BeginRun(m, false).ok());
  for (int i = 0; i < kItems + (spec.extra_request ? 1 : 0); ++i) {
    StoredResponse r;
    r.hash = "req" + std::to_string(i);
    r.kind = "loglikelihood";
    ASSERT_TRUE((*store)->PutResponse(r).ok());
  }
  std::vector<StoredSample> samples;
  double correct = 0;
  for (int i = 0; i < kItems; ++i) {
    bool right = i % 2 == 0;
    if (std::find(spec.flip.begin(), spec.flip.end(), i) != spec.flip.end()) right = false;
    correct += right;
    const std::vector<double> lp =
        right ? std::vector<double>{-1.0, -2.0, -3.0} : std::vector<double>{-2.0, -1.0, -3.0};
    std::vector<double> shifted = lp;
    for (double& v : shifted) v += spec.logprob_shift;
    json s = {{"id", "q" + std::to_string(i)},
              {"logprobs", shifted},
              {"prediction", right ? "A" : "B"},
              {"reference", "A"}};
    samples.push_back({"mcq",
                       "q" + std::to_string(i),
                       "",
                       static_cast<uint64_t>(i),
                       s.dump(),
                       {{"acc", right ? 1.0 : 0.0}}});
  }
  StoredTask t{"mcq", "jsonl", "mcq_accuracy", kItems, kItems, kItems, 1.0, 0};
  const double acc = correct / kItems;
  ASSERT_TRUE((*store)
                  ->PutTask(t, samples,
                            {{"mcq", "", "acc", "analytic", acc,
                              std::sqrt(acc * (1 - acc) / (kItems - 1)), kItems, true}})
                  .ok());
  std::vector<StoredSample> gens;
  for (int i = 0; i < 4; ++i) {
    std::vector<int> tokens = {5, 6, 7, 8, 9};
    if (spec.token_change && i == 2) tokens[3] = 42;
    json s = {
        {"id", "g" + std::to_string(i)},
        {"generation", "x"},
        {"prediction", spec.token_change && i == 2 ? "7" : "6"},
        {"tokens", tokens},
        {"token_logprobs", {-0.1, -0.2, -0.3, spec.token_change && i == 2 ? -2.5 : -0.4, -0.5}}};
    gens.push_back({"gen",
                    "g" + std::to_string(i),
                    "",
                    static_cast<uint64_t>(i),
                    s.dump(),
                    {{"exact_match", spec.token_change && i == 2 ? 0.0 : 1.0}}});
  }
  StoredTask g{"gen", "gsm8k", "exact_match", 4, 4, 4, 1.0, 1};
  ASSERT_TRUE(
      (*store)->PutTask(g, gens, {{"gen", "", "exact_match", "analytic", 1.0, 0, 4, true}}).ok());
  ASSERT_TRUE((*store)->PutFigures({{"load_seconds", "", 0.5, COMPASS_UNIT_SECONDS}}).ok());
  ASSERT_TRUE((*store)->FinishRun("2026-01-01T00:00:00Z", 2.0, "[]").ok());
}

class ComparisonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("compare_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  ComparedRun Run(const std::string& label, const RunSpec& spec) {
    WriteRun(dir_, label, spec);
    return {label, dir_.string(), "", ""};
  }
  fs::path dir_;
};

const Agreement& Find(const Comparison& c, const std::string& task, const std::string& other) {
  for (const Agreement& a : c.agreements) {
    if (a.task == task && a.other == other) return a;
  }
  ADD_FAILURE() << "no agreement for " << task << " " << other;
  static const Agreement none;
  return none;
}

TEST_F(ComparisonTest, RunsThatAgreeHaveNoFlipAndNoSignificantDifference) {
  const auto c = Compare({Run("a", {}), Run("b", {"paged_tp", {}, 2e-6})});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(c->identical_requests);
  const Agreement& mcq = Find(*c, "mcq", "b");
  EXPECT_EQ(mcq.items, 40u);
  EXPECT_EQ(mcq.same_prediction, 40u);
  EXPECT_EQ(mcq.choices, 120u);
  EXPECT_NEAR(mcq.max_abs_delta, 2e-6, 1e-12);
  EXPECT_NEAR(mcq.mean_abs_delta, 2e-6, 1e-12);
  EXPECT_TRUE(mcq.flips.empty());
  const Agreement& gen = Find(*c, "gen", "b");
  EXPECT_EQ(gen.generations, 4u);
  EXPECT_EQ(gen.identical_generations, 4u);
  for (const PairedDifference& d : c->differences) {
    EXPECT_FALSE(d.significant) << d.task << " " << d.metric;
    EXPECT_DOUBLE_EQ(d.p_value, 1.0);
  }
  ASSERT_EQ(c->scores.size(), 2u);
  EXPECT_EQ(c->scores[0].task, "mcq");
  EXPECT_DOUBLE_EQ(c->scores[0].cells[0].value, 0.5);
}

// Ten right items turned wrong: every flip is listed in dataset order with
// both log-prob vectors, McNemar is exact (10 discordant items) with
// p = 2 x 0.5^10, and the score difference is -10/40.
TEST_F(ComparisonTest, AnInjectedDifferenceIsFoundAndFlagged) {
  const std::vector<int> flipped = {0, 2, 4, 10, 12, 20, 22, 30, 34, 38};
  const auto c = Compare({Run("a", {}), Run("perturbed", {"test", flipped})});
  ASSERT_TRUE(c.ok()) << c.status().message();
  const Agreement& mcq = Find(*c, "mcq", "perturbed");
  EXPECT_EQ(mcq.same_prediction, 30u);
  ASSERT_EQ(mcq.flips.size(), flipped.size());
  for (size_t k = 0; k < flipped.size(); ++k) {
    const Flip& f = mcq.flips[k];
    EXPECT_EQ(f.item_id, "q" + std::to_string(flipped[k]));
    EXPECT_EQ(f.reference_prediction, "A");
    EXPECT_EQ(f.other_prediction, "B");
    EXPECT_EQ(f.gold, "A");
    EXPECT_EQ(f.reference_logprobs, (std::vector<double>{-1, -2, -3}));
    EXPECT_EQ(f.other_logprobs, (std::vector<double>{-2, -1, -3}));
  }
  bool tested = false;
  for (const PairedDifference& d : c->differences) {
    if (d.task != "mcq") continue;
    tested = true;
    EXPECT_EQ(d.test, "McNemar (exact)");
    EXPECT_EQ(d.only_reference, 10u);
    EXPECT_EQ(d.only_other, 0u);
    EXPECT_NEAR(d.p_value, 2 * std::pow(0.5, 10), 1e-12);
    EXPECT_TRUE(d.significant);
    EXPECT_DOUBLE_EQ(d.difference, -10.0 / 40);
  }
  EXPECT_TRUE(tested);
  EXPECT_NE(ComparisonTable(*c).find("Significant differences"), std::string::npos);
}

TEST_F(ComparisonTest, GenerationsThatDivergeShowTheFirstDifferingToken) {
  const auto c = Compare({Run("a", {}), Run("b", {"paged_tp", {}, 0, true})});
  ASSERT_TRUE(c.ok());
  const Agreement& gen = Find(*c, "gen", "b");
  EXPECT_EQ(gen.identical_generations, 3u);
  ASSERT_EQ(gen.divergences.size(), 1u);
  const Divergence& d = gen.divergences[0];
  EXPECT_EQ(d.item_id, "g2");
  EXPECT_EQ(d.position, 3);
  EXPECT_EQ(d.reference_token, 8);
  EXPECT_EQ(d.other_token, 42);
  EXPECT_NEAR(d.reference_logprob, -0.4, 1e-6);
  EXPECT_NEAR(d.other_logprob, -2.5, 1e-6);
}

TEST_F(ComparisonTest, ABackendThatDidNotRunAndDifferentRequestsAreReported) {
  ComparedRun failed{"pipeline", dir_.string(), "pipeline: stage 1 failed", ""};
  const auto c = Compare({Run("a", {}), failed, Run("c", {"paged_tp", {}, 0, false, true})});
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->identical_requests);
  EXPECT_NE(c->request_note.find("c answered 41 requests, a 40"), std::string::npos)
      << c->request_note;
  EXPECT_EQ(c->facts.size(), 2u);
  ASSERT_EQ(c->scores[0].cells.size(), 3u);
  EXPECT_FALSE(c->scores[0].cells[1].present);
  const std::string table = ComparisonTable(*c);
  EXPECT_NE(table.find("pipeline did not run: pipeline: stage 1 failed"), std::string::npos);
  EXPECT_NE(table.find("WARNING: the request streams differ"), std::string::npos);
}

TEST_F(ComparisonTest, FilesHoldEveryChartAndTheFlips) {
  const auto c = Compare({Run("a", {}), Run("perturbed", {"test", {0, 2}}),
                          [&] {
                            ComparedRun r = Run("a@bs1", {});
                            r.repeats = "a";
                            return r;
                          }()});
  ASSERT_TRUE(c.ok());
  // The rerun is compared with the run it repeats.
  EXPECT_EQ(Find(*c, "mcq", "a@bs1").reference, "a");
  auto files = WriteComparison(*c, (dir_ / "out").string());
  ASSERT_TRUE(files.ok()) << files.status().message();
  std::stringstream html, md;
  html << std::ifstream(files->html).rdbuf();
  md << std::ifstream(files->markdown).rdbuf();
  for (const char* id : {"chart-scores", "chart-agreement", "chart-logprob-delta", "chart-time"}) {
    EXPECT_NE(html.str().find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  }
  EXPECT_NE(md.str().find("| q0 | A | A | B |"), std::string::npos) << md.str();
  const json j = json::parse(std::ifstream(files->json));
  EXPECT_EQ(j["runs"].size(), 3u);
  EXPECT_EQ(j["agreement"][0]["flips"].size(), 2u);
}

}  // namespace
}  // namespace compass
