#include "util/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

namespace compass {
namespace {

namespace fs = std::filesystem;

std::string ErrnoText(int error) {
  return std::strerror(error);
}

// "<dir>/.<name>.<pid>.tmp": beside the target (a rename never crosses file
// systems), hidden, and one per process.
fs::path TemporaryFor(const fs::path& path) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : fs::path(".");
  return dir / ("." + path.filename().string() + "." + std::to_string(::getpid()) + ".tmp");
}

Status WriteError(const fs::path& path, const std::string& why) {
  return IoError("cannot write " + path.string() + ": " + why +
                 "; it was left as it was (free some space, or check that the folder is "
                 "writable, and try again)");
}

// Writes, flushes to disk and closes `tmp`; errors name `path`.
Status WriteTemporary(const fs::path& tmp, const fs::path& path, const std::string& content) {
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (fd < 0) return WriteError(path, ErrnoText(errno));
  const char* p = content.data();
  size_t left = content.size();
  while (left > 0) {
    const ssize_t n = ::write(fd, p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      ::close(fd);
      return WriteError(path, ErrnoText(error));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error = errno;
    ::close(fd);
    return WriteError(path, ErrnoText(error));
  }
  if (::close(fd) != 0) return WriteError(path, ErrnoText(errno));
  return Status::Ok();
}

// Makes the renames themselves durable; best effort (some file systems
// cannot sync a folder, and the content is already safe).
void SyncFolder(const fs::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

Status WriteFileAtomically(const fs::path& path, const std::string& content) {
  return WriteFilesAtomically({{path, content}});
}

Status WriteFilesAtomically(const std::vector<std::pair<fs::path, std::string>>& files) {
  std::vector<fs::path> written;
  auto discard = [&] {
    for (const fs::path& tmp : written) ::unlink(tmp.c_str());
  };
  for (const auto& [path, content] : files) {
    const fs::path tmp = TemporaryFor(path);
    Status s = WriteTemporary(tmp, path, content);
    written.push_back(tmp);
    if (!s.ok()) {
      discard();
      return s;
    }
  }
  std::set<fs::path> folders;
  for (size_t i = 0; i < files.size(); ++i) {
    const fs::path& path = files[i].first;
    if (::rename(written[i].c_str(), path.c_str()) != 0) {
      const int error = errno;
      // Those renamed already hold their complete new content.
      written.erase(written.begin(), written.begin() + static_cast<std::ptrdiff_t>(i));
      discard();
      return IoError("cannot replace " + path.string() + ": " + ErrnoText(error) +
                     "; it was left as it was");
    }
    folders.insert(path.parent_path());
  }
  for (const fs::path& dir : folders) SyncFolder(dir);
  return Status::Ok();
}

}  // namespace compass
