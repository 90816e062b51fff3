// Files are replaced whole or not at all: a write that fails (a full disk,
// simulated with RLIMIT_FSIZE) names the file and leaves every previous
// file as it was, with no temporary file behind.
#include "util/atomic_file.h"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/resource.h>

#include <filesystem>
#include <string>

#include "test_files.h"

namespace compass {
namespace {

namespace fs = std::filesystem;
using compass::testing::Slurp;

// Files written while this lives may grow to `bytes` at most; a write past
// that fails with EFBIG (SIGXFSZ ignored), as on a full disk.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = signal(SIGXFSZ, SIG_IGN);
    rlimit low = saved_;
    low.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &low);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, old_handler_);
  }

 private:
  rlimit saved_{};
  sighandler_t old_handler_;
};

size_t Entries(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(AtomicFile, WritesAndReplaces) {
  const fs::path dir = compass::testing::TempDir("atomic_file", "replace");
  ASSERT_TRUE(WriteFileAtomically(dir / "a.txt", "first").ok());
  EXPECT_EQ(Slurp(dir / "a.txt"), "first");
  ASSERT_TRUE(WriteFileAtomically(dir / "a.txt", "second, longer").ok());
  EXPECT_EQ(Slurp(dir / "a.txt"), "second, longer");
  ASSERT_TRUE(WriteFileAtomically(dir / "a.txt", "").ok());
  EXPECT_EQ(Slurp(dir / "a.txt"), "");
  EXPECT_EQ(Entries(dir), 1u);  // no temporary file left
  fs::remove_all(dir);
}

TEST(AtomicFile, AFullDiskLeavesEveryPreviousFileWhole) {
  const fs::path dir = compass::testing::TempDir("atomic_file", "full");
  const std::string small_old = "old a", big_old(3000, 'o');
  ASSERT_TRUE(WriteFilesAtomically({{dir / "a.md", small_old}, {dir / "b.html", big_old}}).ok());
  Status s;
  {
    // The first file fits, the second does not: neither may change.
    FileSizeLimit limit(4096);
    s = WriteFilesAtomically({{dir / "a.md", "new a"}, {dir / "b.html", std::string(9000, 'n')}});
  }
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), COMPASS_IO);
  EXPECT_NE(s.message().find("cannot write " + (dir / "b.html").string() + ": File too large"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(Slurp(dir / "a.md"), small_old);
  EXPECT_EQ(Slurp(dir / "b.html"), big_old);
  EXPECT_EQ(Entries(dir), 2u);

  // A content small enough for a stream's buffer fails the same way (the
  // error comes from the flush, not the write).
  {
    FileSizeLimit limit(10);
    s = WriteFileAtomically(dir / "a.md", "more than ten bytes");
  }
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(Slurp(dir / "a.md"), small_old);
  EXPECT_EQ(Entries(dir), 2u);
  fs::remove_all(dir);
}

TEST(AtomicFile, AFolderThatDoesNotExistIsAnErrorNamingTheFile) {
  const fs::path dir = compass::testing::TempDir("atomic_file", "missing");
  const Status s = WriteFileAtomically(dir / "nowhere" / "report.md", "x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find((dir / "nowhere" / "report.md").string()), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("No such file or directory"), std::string::npos) << s.message();
  EXPECT_EQ(Entries(dir), 0u);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace compass
