// Kills a real compass run with SIGKILL at several points, resumes it, and
// checks that (1) the final results equal an uninterrupted run's, and (2) no
// request whose response had been committed before a kill is computed again.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include "core/runner/slow_run.h"
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

namespace compass {
namespace {

namespace fs = std::filesystem;
using compass::testing::Slurp;
fs::path TempDir(const std::string& name) {
  return compass::testing::TempDir("crash", name);
}

using compass::testing::Committed;
using compass::testing::Computed;

fs::path WriteConfig(const fs::path& dir, int delay_ms, const fs::path& log) {
  return compass::testing::WriteSlowConfig(dir, delay_ms, log);
}

pid_t Spawn(const fs::path& config, const fs::path& out, const std::vector<std::string>& extra,
            const compass::testing::SpawnOptions& options = {}) {
  return compass::testing::SpawnSlow(config, out, extra, options);
}

int Wait(pid_t pid) {
  return compass::testing::WaitFor(pid);
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

// Waits until the backend has logged `n` computed requests.
void WaitComputed(const fs::path& log, size_t n) {
  for (int i = 0; i < 2000 && compass::testing::ComputedLines(log) < n; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

// A backend that ignores Ctrl-C (and the sink's "stop") would hold the run
// for as long as it likes: a second Ctrl-C ends it at once, keeping what is
// stored, and the same command resumes.
TEST(CrashSafety, ASecondCtrlCEndsARunWhoseBackendIgnoresTheFirst) {
  const fs::path dir = TempDir("second_sigint");
  const fs::path run = dir / "run";
  // 80 requests of 100 ms: 8 s if nothing stops the backend.
  const fs::path cfg = WriteConfig(dir, 100, dir / "run.log");
  setenv("COMPASS_TEST_IGNORE_CANCEL", "1", 1);
  const pid_t pid = Spawn(cfg, run, {}, {(dir / "stderr").string()});
  unsetenv("COMPASS_TEST_IGNORE_CANCEL");
  WaitComputed(dir / "run.log", 3);
  kill(pid, SIGINT);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  const auto second = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  EXPECT_EQ(compass::testing::WaitFor(pid, std::chrono::seconds(30)), 130);
  EXPECT_LT(std::chrono::steady_clock::now() - second, std::chrono::seconds(3));
  const std::string err = Slurp(dir / "stderr");
  EXPECT_NE(err.find("interrupted a second time: ending the run now without waiting for backend "
                     "'slow'"),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("run the same command again to resume"), std::string::npos) << err;
  const auto kept = Committed(run);
  EXPECT_GT(kept.size(), 0u);
  EXPECT_LT(kept.size(), 40u);
  // The same command computes exactly what was not stored.
  fs::remove(dir / "run.log");
  ASSERT_EQ(Wait(Spawn(cfg, run, {})), 0);
  EXPECT_EQ(Computed(dir / "run.log").size(), 80u - kept.size());
  fs::remove_all(dir);
}

// Without a second Ctrl-C, --stop-grace bounds the wait.
TEST(CrashSafety, TheStopGraceEndsARunWhoseBackendIgnoresCtrlC) {
  const fs::path dir = TempDir("grace");
  const fs::path run = dir / "run";
  const fs::path cfg = WriteConfig(dir, 100, dir / "run.log");
  setenv("COMPASS_TEST_IGNORE_CANCEL", "1", 1);
  const pid_t pid = Spawn(cfg, run, {"--stop-grace", "1"}, {(dir / "stderr").string()});
  unsetenv("COMPASS_TEST_IGNORE_CANCEL");
  WaitComputed(dir / "run.log", 3);
  const auto start = std::chrono::steady_clock::now();
  kill(pid, SIGTERM);
  EXPECT_EQ(compass::testing::WaitFor(pid, std::chrono::seconds(30)), 130);
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::seconds(4));
  const std::string err = Slurp(dir / "stderr");
  EXPECT_NE(err.find("backend 'slow' did not stop within 1 s of the interrupt (--stop-grace)"),
            std::string::npos)
      << err;
  EXPECT_GT(Committed(run).size(), 0u);
  // Out of range is a usage error naming the input.
  EXPECT_EQ(Wait(Spawn(cfg, run, {"--stop-grace", "-1"})), 2);
  EXPECT_EQ(Wait(Spawn(cfg, run, {"--stop-grace", "nan"})), 2);
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
