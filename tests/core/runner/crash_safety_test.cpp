// Kills a real compass run with SIGKILL at several points, resumes it, and
// checks that (1) the final results equal an uninterrupted run's, and (2) no
// request whose response had been committed before a kill is computed again.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/runner/run_compass.h"
#include "test_files.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "results/request_hash.h"
#include "results/results_store.h"

namespace compass {
namespace {

namespace fs = std::filesystem;
using compass::testing::Slurp;
fs::path TempDir(const std::string& name) {
  return compass::testing::TempDir("crash", name);
}

fs::path WriteConfig(const fs::path& dir, int delay_ms, const fs::path& log) {
  fs::create_directories(dir / "model");
  const fs::path cfg = dir / ("eval_" + std::to_string(delay_ms) + ".toml");
  std::ofstream(cfg) << "[model]\npath = \"model\"\ntokenizer = \"bytes\"\n\n[backend.slow]\n"
                     << "delay_ms = " << delay_ms << "\nlog_file = \"" << log.string() << "\"\n\n"
                     << "[[task]]\ndataset = \"mmlu\"\npath = \"" << COMPASS_SOURCE_DIR
                     << "/tests/fixtures/mmlu\"\nshots = 1\n";
  return cfg;
}

pid_t Spawn(const fs::path& config, const fs::path& out, const std::vector<std::string>& extra) {
  std::vector<std::string> args = {"--plugin-dir",
                                   COMPASS_SLOW_PLUGIN_DIR,
                                   "--backend",
                                   "slow",
                                   "--config",
                                   config.string(),
                                   "--output",
                                   out.string(),
                                   "-q"};
  args.insert(args.end(), extra.begin(), extra.end());
  return compass::testing::SpawnCompass(args);
}

int Wait(pid_t pid) {
  return compass::testing::WaitFor(pid);
}

// Hashes of the requests a run's backend logged as computed.
std::set<std::string> Computed(const fs::path& log) {
  std::set<std::string> out;
  std::ifstream f(log);
  std::string line;
  while (std::getline(f, line)) {
    const auto bar = line.find('|');
    std::vector<int32_t> ctx, cont;
    std::istringstream a(line.substr(0, bar)), b(line.substr(bar + 1));
    for (int32_t x; a >> x;) ctx.push_back(x);
    for (int32_t x; b >> x;) cont.push_back(x);
    compass_request r{};
    r.struct_size = sizeof r;
    r.kind = COMPASS_REQUEST_LOGLIKELIHOOD;
    r.context = {ctx.data(), ctx.size()};
    r.continuation = {cont.data(), cont.size()};
    out.insert(HashRequest(r));
  }
  return out;
}

std::set<std::string> Committed(const fs::path& run) {
  auto store = ResultsStore::OpenExisting(run.string());
  if (!store.ok()) return {};
  auto hashes = (*store)->ResponseHashes();
  return hashes.ok() ? *hashes : std::set<std::string>();
}

nlohmann::json Scores(const fs::path& run) {
  nlohmann::json r = nlohmann::json::parse(Slurp(run / "results.json"));
  nlohmann::json out = nlohmann::json::array();
  for (const auto& t : r["tasks"]) out.push_back({t["metrics"], t["groups"], t["items"]});
  return out;
}

TEST(CrashSafety, KilledRunsResumeToTheSameResultsWithoutRecomputing) {
  const fs::path dir = TempDir("resume");
  // The reference: one uninterrupted run.
  const fs::path ref = dir / "reference";
  ASSERT_EQ(Wait(Spawn(WriteConfig(dir, 0, dir / "ref.log"), ref, {})), 0);
  const size_t total = Computed(dir / "ref.log").size();
  ASSERT_EQ(total, 80u);  // 20 items x 4 choices, all distinct

  // The same config each time (a changed config would be refused).
  const fs::path cfg = WriteConfig(dir, 12, dir / "run.log");
  const fs::path run = dir / "interrupted";
  std::set<std::string> committed;
  int kills = 0;
  for (int attempt = 0; attempt < 12 && committed.size() < total; ++attempt) {
    fs::remove(dir / "run.log");
    const pid_t pid = Spawn(cfg, run, {});
    std::this_thread::sleep_for(std::chrono::milliseconds(150 + 60 * attempt));
    kill(pid, SIGKILL);
    const int rc = Wait(pid);
    const auto computed = Computed(dir / "run.log");
    for (const auto& h : computed) {
      EXPECT_EQ(committed.count(h), 0u) << "request " << h << " was committed before the kill "
                                        << "and computed again";
    }
    const auto now = Committed(run);
    EXPECT_GE(now.size(), committed.size());  // nothing committed is ever lost
    for (const auto& h : committed) EXPECT_EQ(now.count(h), 1u);
    committed = now;
    if (rc == -SIGKILL) ++kills;
  }
  EXPECT_GE(kills, 3) << "the run finished before it could be killed three times";

  fs::remove(dir / "run.log");
  ASSERT_EQ(Wait(Spawn(cfg, run, {})), 0);
  for (const auto& h : Computed(dir / "run.log")) EXPECT_EQ(committed.count(h), 0u);
  EXPECT_EQ(Committed(run).size(), total);

  EXPECT_EQ(Scores(run), Scores(ref));
  EXPECT_EQ(Slurp(run / "samples.jsonl"), Slurp(ref / "samples.jsonl"));
  fs::remove_all(dir);
}

TEST(CrashSafety, CtrlCStopsCleanlyAndKeepsWhatFinished) {
  const fs::path dir = TempDir("sigint");
  const fs::path run = dir / "run";
  const fs::path cfg = WriteConfig(dir, 12, dir / "run.log");
  const pid_t pid = Spawn(cfg, run, {});
  // Interrupt once the backend is under way (polling: machines vary).
  for (int i = 0; i < 1000 && Computed(dir / "run.log").size() < 5; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGINT);
  EXPECT_EQ(Wait(pid), 130);
  const auto kept = Committed(run);
  EXPECT_GT(kept.size(), 0u);
  EXPECT_LT(kept.size(), 80u);
  fs::remove(dir / "run.log");
  ASSERT_EQ(Wait(Spawn(cfg, run, {})), 0);
  EXPECT_EQ(Computed(dir / "run.log").size(), 80u - kept.size());
  fs::remove_all(dir);
}

// A request the backend answers badly fails alone: the others are stored,
// the reports are written with the failure named, the run exits 1, and the
// same command again computes only the failed requests.
struct BadAnswer {
  const char* name;
  const char* env;    // the test backend's fault switch
  const char* token;  // continuations holding this byte id get the fault
  const char* error;  // what the samples say
};

class FailedRequests : public ::testing::TestWithParam<BadAnswer> {};

TEST_P(FailedRequests, AreRecordedAndRetriedAlone) {
  const BadAnswer& bad = GetParam();
  const fs::path dir = TempDir(bad.name);
  const fs::path run = dir / "run";
  const fs::path cfg = WriteConfig(dir, 0, dir / "run.log");
  setenv(bad.env, bad.token, 1);
  const int rc = Wait(Spawn(cfg, run, {}));
  unsetenv(bad.env);
  EXPECT_EQ(rc, 1);
  EXPECT_EQ(Committed(run).size(), 60u);  // 20 items x the 3 choices that did not fail
  const std::string samples = Slurp(run / "samples.jsonl");
  EXPECT_NE(samples.find(bad.error), std::string::npos) << samples.substr(0, 2000);
  EXPECT_TRUE(fs::exists(run / "results.json"));
  EXPECT_NE(Slurp(run / "report.md").find("- note: 20 request(s) failed"), std::string::npos);
  fs::remove(dir / "run.log");
  ASSERT_EQ(Wait(Spawn(cfg, run, {})), 0);
  EXPECT_EQ(Computed(dir / "run.log").size(), 20u);
  EXPECT_EQ(Committed(run).size(), 80u);
  EXPECT_EQ(Slurp(run / "samples.jsonl").find("\"error\""), std::string::npos);
  fs::remove_all(dir);
}

// An error answer for the choice " C" ('C' is byte 67); a NaN log-prob for
// " B" (66), which stored as nothing would read back as a number and score.
INSTANTIATE_TEST_SUITE_P(
    CrashSafety, FailedRequests,
    ::testing::Values(BadAnswer{"error", "COMPASS_TEST_FAIL_TOKEN", "67",
                                "\"error\":\"this test backend refuses token 67\""},
                      BadAnswer{"nan", "COMPASS_TEST_NAN_TOKEN", "66",
                                "the backend returned a non-finite log-prob"}),
    [](const ::testing::TestParamInfo<BadAnswer>& info) { return std::string(info.param.name); });

TEST(CrashSafety, ChangedConfigIsRefusedUnlessRestarted) {
  const fs::path dir = TempDir("changed");
  const fs::path run = dir / "run";
  ASSERT_EQ(Wait(Spawn(WriteConfig(dir, 0, dir / "a.log"), run, {})), 0);
  const auto before = Committed(run);
  ASSERT_FALSE(before.empty());
  // Same config: nothing is recomputed.
  fs::remove(dir / "a.log");
  ASSERT_EQ(Wait(Spawn(WriteConfig(dir, 0, dir / "a.log"), run, {})), 0);
  EXPECT_TRUE(Computed(dir / "a.log").empty());
  // Another config (a different shot count) is refused and changes nothing.
  const fs::path other = WriteConfig(dir, 0, dir / "b.log");
  const pid_t pid = Spawn(other, run, {"--set", "task.0.shots=2"});
  EXPECT_EQ(Wait(pid), 2);
  EXPECT_EQ(Committed(run), before);
  // --restart starts over.
  ASSERT_EQ(Wait(Spawn(other, run, {"--set", "task.0.shots=2", "--restart"})), 0);
  EXPECT_EQ(Computed(dir / "b.log").size(), 80u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace compass
