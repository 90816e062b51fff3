// Runs the real compass executable in a child process, for the runner's
// end-to-end tests (stdout discarded, stderr kept or sent to a file).
#ifndef COMPASS_TESTS_CORE_RUNNER_RUN_COMPASS_H_
#define COMPASS_TESTS_CORE_RUNNER_RUN_COMPASS_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace compass::testing {

struct SpawnOptions {
  std::string stderr_file;  // "" keeps the test's stderr
  // RLIMIT_FSIZE of the child: every file it writes may grow to this many
  // bytes; a write past it fails with EFBIG (SIGXFSZ is ignored), as on a
  // full disk.
  rlim_t file_size_limit = RLIM_INFINITY;
};

// Starts `compass ARGS...`; returns the child's pid. The child dumps no core.
inline pid_t SpawnCompass(std::vector<std::string> args, const SpawnOptions& options = {}) {
  args.insert(args.begin(), COMPASS_EXE);
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    freopen("/dev/null", "w", stdout);
    if (!options.stderr_file.empty()) freopen(options.stderr_file.c_str(), "w", stderr);
    const rlimit no_core{0, 0};
    setrlimit(RLIMIT_CORE, &no_core);
    if (options.file_size_limit != RLIM_INFINITY) {
      signal(SIGXFSZ, SIG_IGN);  // stays ignored across exec
      rlimit fsize{};
      getrlimit(RLIMIT_FSIZE, &fsize);
      fsize.rlim_cur = options.file_size_limit;
      setrlimit(RLIMIT_FSIZE, &fsize);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// The child's exit code, or minus the signal that ended it.
inline int WaitFor(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

// As WaitFor, but gives up after `limit` (then kills the child and returns
// 999), so that a run that does not stop fails its test instead of hanging.
inline int WaitFor(pid_t pid, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= end) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return 999;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

}  // namespace compass::testing

#endif  // COMPASS_TESTS_CORE_RUNNER_RUN_COMPASS_H_
