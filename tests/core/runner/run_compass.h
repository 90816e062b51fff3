// Runs the real compass executable in a child process, for the runner's
// end-to-end tests (stdout discarded, stderr kept).
#ifndef COMPASS_TESTS_CORE_RUNNER_RUN_COMPASS_H_
#define COMPASS_TESTS_CORE_RUNNER_RUN_COMPASS_H_

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

namespace compass::testing {

// Starts `compass ARGS...`; returns the child's pid.
inline pid_t SpawnCompass(std::vector<std::string> args) {
  args.insert(args.begin(), COMPASS_EXE);
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    freopen("/dev/null", "w", stdout);
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

}  // namespace compass::testing

#endif  // COMPASS_TESTS_CORE_RUNNER_RUN_COMPASS_H_
