// A run folder under stress: a second compass on it is refused while the
// first writes it (runs and compare alike; reading it with `compass report`
// needs no lock), and a full disk, simulated with RLIMIT_FSIZE, stops the
// backend as soon as the store cannot write and never damages a good
// report.
#include <gtest/gtest.h>

#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "core/runner/slow_run.h"
#include "test_files.h"

namespace compass {
namespace {

namespace fs = std::filesystem;
using compass::testing::Committed;
using compass::testing::ComputedLines;
using compass::testing::Slurp;
using compass::testing::SpawnOptions;
using compass::testing::WaitFor;

void WaitUntil(const std::function<bool()>& ready) {
  for (int i = 0; i < 2000 && !ready(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

TEST(RunFolder, ASecondRunOnTheSameFolderIsRefusedNamingTheFirst) {
  const fs::path dir = compass::testing::TempDir("run_folder", "lock");
  const fs::path run = dir / "run";
  const fs::path cfg = compass::testing::WriteSlowConfig(dir, 0, dir / "a.log");
  // The first run holds after 3 answers until the gate file exists.
  setenv("COMPASS_TEST_GATE", (dir / "gate").c_str(), 1);
  const pid_t first = compass::testing::SpawnSlow(cfg, run, {});
  unsetenv("COMPASS_TEST_GATE");
  WaitUntil([&] { return Committed(run).size() >= 3; });

  // The same command, and one with --restart (which would mix this
  // config into the first run's results): both refused, nothing computed.
  const fs::path other = compass::testing::WriteSlowConfig(dir / "other", 0, dir / "b.log");
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{}, std::vector<std::string>{"--restart"}}) {
    const int rc = WaitFor(
        compass::testing::SpawnSlow(other, run, extra, SpawnOptions{(dir / "stderr").string()}));
    EXPECT_EQ(rc, 2);
    const std::string err = Slurp(dir / "stderr");
    EXPECT_NE(err.find(run.string() + " is in use by another compass process (pid " +
                       std::to_string(first) + ")"),
              std::string::npos)
        << err;
  }
  EXPECT_EQ(ComputedLines(dir / "b.log"), 0u);

  // Reading needs no lock.
  const int report = WaitFor(compass::testing::SpawnCompass(
      {"report", run.string(), "-q"}, SpawnOptions{(dir / "report_stderr").string()}));
  EXPECT_EQ(Slurp(dir / "report_stderr").find("in use"), std::string::npos);
  EXPECT_EQ(report, 0) << Slurp(dir / "report_stderr");

  std::ofstream(dir / "gate") << "open";
  ASSERT_EQ(WaitFor(first), 0);
  EXPECT_EQ(ComputedLines(dir / "a.log"), 80u);  // the first run did all its work once
  // Once the first is done, the folder is free again.
  EXPECT_EQ(
      WaitFor(compass::testing::SpawnSlow(cfg, run, {}, SpawnOptions{(dir / "last").string()})), 0)
      << Slurp(dir / "last");
  fs::remove_all(dir);
}

TEST(RunFolder, ACompareFolderIsLockedForAllItsBackends) {
  const fs::path dir = compass::testing::TempDir("run_folder", "compare");
  const fs::path out = dir / "cmp";
  const fs::path cfg = compass::testing::WriteSlowConfig(dir, 0, dir / "a.log");
  // Held after 3 answers of its first backend until the gate file exists.
  setenv("COMPASS_TEST_GATE", (dir / "gate").c_str(), 1);
  const pid_t compare = compass::testing::SpawnCompass(
      {"compare", "--plugin-dir", COMPASS_SLOW_PLUGIN_DIR, "--backends", "slow,twin", "--config",
       cfg.string(), "--output", out.string(), "-q"});
  unsetenv("COMPASS_TEST_GATE");
  WaitUntil([&] { return Committed(out, "slow").size() >= 3; });
  const int rc = WaitFor(compass::testing::SpawnSlow(cfg, out, {"--restart"},
                                                     SpawnOptions{(dir / "stderr").string()}));
  EXPECT_EQ(rc, 2);
  EXPECT_NE(Slurp(dir / "stderr")
                .find(out.string() + " is in use by another compass process (pid " +
                      std::to_string(compare) + ")"),
            std::string::npos)
      << Slurp(dir / "stderr");
  // A second compare on it too.
  const int rc2 = WaitFor(compass::testing::SpawnCompass(
      {"compare", "--plugin-dir", COMPASS_SLOW_PLUGIN_DIR, "--backends", "slow,twin", "--config",
       cfg.string(), "--output", out.string(), "-q"},
      SpawnOptions{(dir / "stderr2").string()}));
  EXPECT_EQ(rc2, 2);
  EXPECT_NE(Slurp(dir / "stderr2").find("is in use by another compass process"), std::string::npos)
      << Slurp(dir / "stderr2");
  std::ofstream(dir / "gate") << "open";
  ASSERT_EQ(WaitFor(compare), 0);
  EXPECT_EQ(Committed(out, "slow").size(), 80u);
  EXPECT_EQ(Committed(out, "twin").size(), 80u);
  fs::remove_all(dir);
}

// The store grows with every answer; when it cannot (a full disk), the
// backend is stopped at once, the run fails naming the database, and what
// was committed is kept for the next run.
TEST(RunFolder, AFullDiskStopsTheBackendAtOnceAndKeepsWhatWasCommitted) {
  const fs::path dir = compass::testing::TempDir("run_folder", "full");
  const fs::path run = dir / "run";
  const fs::path cfg = compass::testing::WriteSlowConfig(dir, 0, dir / "run.log");
  // Room for the database and its first answers, not for all 80.
  const int rc = WaitFor(compass::testing::SpawnSlow(
      cfg, run, {}, SpawnOptions{(dir / "stderr").string(), 256 * 1024}));
  EXPECT_EQ(rc, 1);
  const std::string err = Slurp(dir / "stderr");
  EXPECT_NE(err.find((run / "results.sqlite").string() + ": storing a response: "),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("; the backend was stopped, every answer stored before is kept: make room "
                     "and run the same command again to resume"),
            std::string::npos)
      << err;
  const size_t committed = Committed(run).size();
  const size_t computed = ComputedLines(dir / "run.log");
  EXPECT_GT(committed, 0u);
  EXPECT_LT(committed, 80u);
  // The answer that could not be stored is the last one computed.
  EXPECT_LE(computed, committed + 1) << committed << " committed";

  // With room again, the same command computes only what is missing.
  fs::remove(dir / "run.log");
  EXPECT_EQ(WaitFor(compass::testing::SpawnSlow(cfg, run, {})), 0);
  EXPECT_EQ(ComputedLines(dir / "run.log"), 80u - committed);
  fs::remove_all(dir);
}

// `compass report` on a full disk: an error naming the file, a non-zero
// exit, and the reports already there left whole (never truncated, never
// a mix of old and new).
TEST(RunFolder, AFullDiskWhileWritingReportsLeavesTheGoodOnesWhole) {
  const fs::path dir = compass::testing::TempDir("run_folder", "reports");
  const fs::path run = dir / "run";
  const fs::path cfg = compass::testing::WriteSlowConfig(dir, 0, dir / "run.log");
  ASSERT_EQ(WaitFor(compass::testing::SpawnSlow(cfg, run, {})), 0);
  // Reading a WAL database maps a 32 KiB -shm file, which a low file size
  // limit forbids; in rollback-journal mode it is read without writing. A
  // note added to the run makes the rebuilt reports differ from those there.
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((run / "results.sqlite").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "PRAGMA journal_mode=DELETE; "
                           "UPDATE run SET notes_json = '[\"a note added later\"]'",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  const std::string md = Slurp(run / "report.md"), html = Slurp(run / "report.html");
  const std::string json = Slurp(run / "results.json"), samples = Slurp(run / "samples.jsonl");
  // 1000 bytes (room for the error on stderr, a file too): no report fits;
  // `fits_two`: results.json and report.md would, the others not: a failure
  // must not leave two new reports beside two old.
  const rlim_t fits_two = std::max(json.size(), md.size()) + 256;
  ASSERT_GT(html.size(), fits_two + 1024);
  ASSERT_GT(samples.size(), fits_two + 1024);
  ASSERT_GT(std::min(json.size(), md.size()), 1000u);
  for (rlim_t limit : {rlim_t{1000}, fits_two}) {
    const int rc = WaitFor(compass::testing::SpawnCompass(
        {"report", run.string(), "-q"}, SpawnOptions{(dir / "stderr").string(), limit}));
    EXPECT_EQ(rc, 1) << "limit " << limit;
    const std::string err = Slurp(dir / "stderr");
    EXPECT_NE(err.find("cannot write " + run.string() + "/"), std::string::npos) << err;
    EXPECT_NE(err.find(": File too large; it was left as it was"), std::string::npos) << err;
    EXPECT_EQ(Slurp(run / "report.md"), md) << "limit " << limit;
    EXPECT_EQ(Slurp(run / "report.html"), html) << "limit " << limit;
    EXPECT_EQ(Slurp(run / "results.json"), json) << "limit " << limit;
    EXPECT_EQ(Slurp(run / "samples.jsonl"), samples) << "limit " << limit;
  }
  // No temporary file is left behind, and with room the reports are written.
  for (const auto& e : fs::directory_iterator(run)) {
    EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
  }
  EXPECT_EQ(WaitFor(compass::testing::SpawnCompass({"report", run.string(), "-q"})), 0);
  EXPECT_NE(Slurp(run / "report.md").find("- note: a note added later"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace compass
