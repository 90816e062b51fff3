// A run folder is written by one process at a time: a second one is refused
// naming the holder's pid and the folder, and a holder that dies (even by
// SIGKILL) leaves nothing that blocks the next run.
#include "results/run_lock.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "test_files.h"

namespace compass {
namespace {

namespace fs = std::filesystem;

TEST(RunFolderLock, ASecondHolderIsRefusedNamingTheFirst) {
  const fs::path dir = compass::testing::TempDir("run_lock", "second") / "run";
  auto first = RunFolderLock::Acquire(dir.string());  // creates the folder
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ((*first)->path(), (dir / ".compass.lock").string());
  EXPECT_EQ(compass::testing::Slurp(dir / ".compass.lock"), std::to_string(getpid()) + "\n");

  auto second = RunFolderLock::Acquire(dir.string());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), COMPASS_INVALID_ARGUMENT);
  const std::string& m = second.status().message();
  EXPECT_NE(m.find(dir.string() + " is in use by another compass process (pid " +
                   std::to_string(getpid()) + ")"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("choose another --output"), std::string::npos) << m;

  first->reset();
  EXPECT_TRUE(RunFolderLock::Acquire(dir.string()).ok());
  fs::remove_all(dir.parent_path());
}

TEST(RunFolderLock, AKilledHolderLeavesNoStaleLock) {
  const fs::path dir = compass::testing::TempDir("run_lock", "killed");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  if (child == 0) {
    auto lock = RunFolderLock::Acquire(dir.string());
    const char c = lock.ok() ? 'y' : 'n';
    [[maybe_unused]] ssize_t n = write(ready[1], &c, 1);
    pause();
    _exit(0);
  }
  char c = 0;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  auto refused = RunFolderLock::Acquire(dir.string());
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("(pid " + std::to_string(child) + ")"),
            std::string::npos)
      << refused.status().message();

  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  auto after = RunFolderLock::Acquire(dir.string());
  EXPECT_TRUE(after.ok()) << after.status().ToString();
  close(ready[0]);
  close(ready[1]);
  fs::remove_all(dir);
}

TEST(RunFolderLock, AFolderThatCannotBeCreatedIsAnError) {
  const fs::path dir = compass::testing::TempDir("run_lock", "file");
  std::ofstream(dir / "a_file") << "x";
  auto lock = RunFolderLock::Acquire((dir / "a_file" / "run").string());
  ASSERT_FALSE(lock.ok());
  EXPECT_EQ(lock.status().code(), COMPASS_IO);
  EXPECT_NE(lock.status().message().find("cannot create the output folder"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace compass
