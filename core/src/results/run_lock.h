// The lock of a run folder: an advisory lock (flock(2)) on
// <dir>/.compass.lock, which holds the holder's pid. Whoever writes a run
// folder (a run, a resume, `compass compare`) holds it for as long as it
// writes; a second process is refused at once, naming the holder's pid and
// the folder, instead of doing the same work twice and mixing one run's
// config or results into the other's. Readers (`compass report`) take no
// lock: the results store is safe to read while it is written.
//
// The lock belongs to the process: it is released when the RunFolderLock
// is destroyed, or when the process ends in any way (a crash, kill -9), so
// a stale lock file never blocks a later run. The file itself stays.
//
// Threading: one RunFolderLock per folder per process; not copyable.
#ifndef COMPASS_RESULTS_RUN_LOCK_H_
#define COMPASS_RESULTS_RUN_LOCK_H_

#include <memory>
#include <string>

#include "util/status.h"

namespace compass {

class RunFolderLock {
 public:
  static constexpr char kFileName[] = ".compass.lock";

  // Creates `dir` when missing and takes its lock. InvalidArgument naming
  // the folder and the holder's pid when another process holds it; IoError
  // when the folder or the lock file cannot be created.
  static StatusOr<std::unique_ptr<RunFolderLock>> Acquire(const std::string& dir);
  ~RunFolderLock();
  RunFolderLock(const RunFolderLock&) = delete;
  RunFolderLock& operator=(const RunFolderLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  RunFolderLock(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace compass

#endif  // COMPASS_RESULTS_RUN_LOCK_H_
