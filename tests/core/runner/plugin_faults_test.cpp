// A faulty backend (plugins/slow_backend.cpp, faults chosen through the
// environment) never passes for a working one: an answer given twice or for
// a request that does not exist stops it at once and fails the run naming
// the plugin and the request; exit(0) in the plugin fails the run; a crash
// leaves a log file holding every line written before it.
#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "core/runner/slow_run.h"
#include "test_files.h"

namespace compass {
namespace {

namespace fs = std::filesystem;
using compass::testing::Committed;
using compass::testing::ComputedLines;
using compass::testing::Slurp;

// Runs the slow backend (no delay) with the environment variable `fault`
// set to `value`; returns the exit code, stderr in dir/stderr.
int RunWithFault(const fs::path& dir, const char* fault, const char* value,
                 const std::vector<std::string>& extra = {}) {
  const fs::path cfg = compass::testing::WriteSlowConfig(dir, 0, dir / "run.log");
  setenv(fault, value, 1);
  const pid_t pid =
      compass::testing::SpawnSlow(cfg, dir / "run", extra, {(dir / "stderr").string()});
  unsetenv(fault);
  return compass::testing::WaitFor(pid, std::chrono::seconds(60));
}

TEST(PluginFaults, AnAnswerGivenTwiceStopsTheRunAtOnceNamingThePluginAndTheRequest) {
  const fs::path dir = compass::testing::TempDir("faults", "twice");
  EXPECT_EQ(RunWithFault(dir, "COMPASS_TEST_DUPLICATE_INDEX", "4"), 1);
  const std::string err = Slurp(dir / "stderr");
  EXPECT_NE(err.find("backend 'slow' execute: answered request 4 twice; this is a bug in the "
                     "plugin ("),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("libtest_slow_backend.so"), std::string::npos) << err;
  // Refused at once: request 4 is the fifth computed, and nothing after it.
  EXPECT_EQ(ComputedLines(dir / "run.log"), 5u);
  EXPECT_EQ(Committed(dir / "run").size(), 5u);  // the first answer of each, nothing more
  EXPECT_FALSE(fs::exists(dir / "run" / "results.json"));
  fs::remove_all(dir);
}

TEST(PluginFaults, AnAnswerForAnUnknownRequestStopsTheRunAtOnce) {
  const fs::path dir = compass::testing::TempDir("faults", "unknown");
  EXPECT_EQ(RunWithFault(dir, "COMPASS_TEST_UNKNOWN_INDEX_AFTER", "3"), 1);
  const std::string err = Slurp(dir / "stderr");
  EXPECT_NE(err.find("backend 'slow' execute: answered request 85, but the call has 80 "
                     "request(s), 0 to 79; this is a bug in the plugin ("),
            std::string::npos)
      << err;
  EXPECT_EQ(ComputedLines(dir / "run.log"), 3u);
  EXPECT_EQ(Committed(dir / "run").size(), 3u);
  fs::remove_all(dir);
}

// exit(0) inside the plugin would end the run with status 0 and no report.
TEST(PluginFaults, APluginCallingExitFailsTheRunNamingThePlugin) {
  const fs::path dir = compass::testing::TempDir("faults", "exit");
  EXPECT_EQ(RunWithFault(dir, "COMPASS_TEST_EXIT_AFTER", "6"), 1);
  const std::string err = Slurp(dir / "stderr");
  EXPECT_NE(err.find("backend 'slow' ("), std::string::npos) << err;
  EXPECT_NE(err.find("), in execute(): the plugin ended the process (exit)"), std::string::npos)
      << err;
  EXPECT_NE(err.find("running the same command again resumes"), std::string::npos) << err;
  EXPECT_EQ(Committed(dir / "run").size(), 6u);
  EXPECT_FALSE(fs::exists(dir / "run" / "results.json"));
  // And the same command resumes from there.
  const fs::path cfg = compass::testing::WriteSlowConfig(dir, 0, dir / "run.log");
  fs::remove(dir / "run.log");
  EXPECT_EQ(compass::testing::WaitFor(compass::testing::SpawnSlow(cfg, dir / "run", {})), 0);
  EXPECT_EQ(ComputedLines(dir / "run.log"), 74u);
  fs::remove_all(dir);
}

// The log file is written line by line: a crash (abort in the plugin)
// leaves every line before it, not an empty file.
TEST(PluginFaults, TheLogFileHoldsEveryLineBeforeACrash) {
  const fs::path dir = compass::testing::TempDir("faults", "abort");
  const fs::path log = dir / "compass.log";
  EXPECT_EQ(RunWithFault(dir, "COMPASS_TEST_ABORT_AFTER", "5", {"--log-file", log.string()}),
            -SIGABRT);
  const std::string text = Slurp(log);
  EXPECT_NE(text.find("[info] task 'mmlu': 20 items from"), std::string::npos) << text;
  EXPECT_NE(text.find("[debug] [slow] computed request 4"), std::string::npos) << text;
  EXPECT_EQ(Committed(dir / "run").size(), 5u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace compass
