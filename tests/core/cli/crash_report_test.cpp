// A backend that crashes (a segfault or an abort on one of its threads)
// still takes the process down, but not silently: compass names the plugin
// and the call it was in, says the stored results are kept and how to
// resume, and the same command then resumes to a complete run.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "test_files.h"

namespace compass {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  int status = 0;  // exit code, or minus the signal
  std::string err;
};

Outcome RunCompass(const fs::path& dir, const std::vector<std::string>& env) {
  const fs::path cfg = dir / "eval.toml";
  const fs::path err = dir / "stderr.txt";
  std::vector<std::string> args = {COMPASS_EXE,     "--plugin-dir", COMPASS_SLOW_PLUGIN_DIR,
                                   "--backend",     "slow",         "--config",
                                   cfg.string(),    "--output",     (dir / "run").string()};
  const pid_t pid = fork();
  if (pid == 0) {
    for (const std::string& e : env) putenv(const_cast<char*>(e.c_str()));
    const int fd = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDERR_FILENO);
    freopen("/dev/null", "w", stdout);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status),
          compass::testing::Slurp(err)};
}

class CrashReport : public ::testing::TestWithParam<const char*> {};

TEST_P(CrashReport, NamesThePluginAndTheCallAndTheRunResumes) {
  const std::string how = GetParam();
  const fs::path dir = compass::testing::TempDir("crash_report", how);
  fs::create_directories(dir / "model");
  std::ofstream(dir / "eval.toml") << "[model]\npath = \"model\"\ntokenizer = \"bytes\"\n\n"
                                   << "[[task]]\ndataset = \"mmlu\"\npath = \"" << COMPASS_SOURCE_DIR
                                   << "/tests/fixtures/mmlu\"\n";
  const Outcome crashed =
      RunCompass(dir, {"COMPASS_TEST_CRASH=" + how, "COMPASS_TEST_CRASH_AFTER=7"});
  EXPECT_EQ(crashed.status, how == "abort" ? -SIGABRT : -SIGSEGV) << crashed.err;
  EXPECT_NE(crashed.err.find("[fatal] compass died of SIG"), std::string::npos) << crashed.err;
  EXPECT_NE(crashed.err.find("in backend 'slow' ("), std::string::npos) << crashed.err;
  EXPECT_NE(crashed.err.find("in execute(): a fault of that plugin"), std::string::npos)
      << crashed.err;
  EXPECT_NE(crashed.err.find("kept in " + (dir / "run").string()), std::string::npos)
      << crashed.err;
  EXPECT_NE(crashed.err.find("run the same command again (same --output) to resume"),
            std::string::npos)
      << crashed.err;
  const Outcome resumed = RunCompass(dir, {});
  EXPECT_EQ(resumed.status, 0) << resumed.err;
  EXPECT_TRUE(fs::exists(dir / "run" / "report.md"));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Faults, CrashReport, ::testing::Values("segv", "abort"));

}  // namespace
}  // namespace compass
