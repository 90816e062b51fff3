#include "results/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <thread>

namespace compass {
namespace {

// The pid the holder wrote, or "" (it may not have written it yet).
std::string HolderPid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return "";
  std::string pid(buf, static_cast<size_t>(n));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.find_first_not_of("0123456789") == std::string::npos ? pid : "";
}

}  // namespace

StatusOr<std::unique_ptr<RunFolderLock>> RunFolderLock::Acquire(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return IoError("cannot create the output folder " + dir + ": " + ec.message() +
                   "; choose a writable folder with --output");
  }
  const std::string path = (fs::path(dir) / kFileName).string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) {
    return IoError("cannot create the lock file " + path + ": " + std::strerror(errno) +
                   "; choose a writable folder with --output");
  }
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int error = errno;
    if (error != EWOULDBLOCK) {
      ::close(fd);
      return IoError("cannot lock " + path + ": " + std::strerror(error));
    }
    // The holder writes its pid right after locking: give it a moment.
    std::string pid = HolderPid(fd);
    for (int i = 0; i < 20 && pid.empty(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      pid = HolderPid(fd);
    }
    ::close(fd);
    return InvalidArgument(dir + " is in use by another compass process (pid " +
                           (pid.empty() ? std::string("unknown") : pid) +
                           ") that is writing its results; wait for it to finish or stop it, "
                           "or choose another --output (" +
                           path + " holds the lock)");
  }
  // Best effort: the lock holds even when the pid cannot be written.
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] const ssize_t n = ::pwrite(fd, pid.data(), pid.size(), 0);
  }
  return std::unique_ptr<RunFolderLock>(new RunFolderLock(fd, path));
}

RunFolderLock::~RunFolderLock() {
  ::close(fd_);  // releases the lock
}

}  // namespace compass
