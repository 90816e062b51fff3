// File helpers shared by the test suites.
#ifndef COMPASS_TESTS_TEST_FILES_H_
#define COMPASS_TESTS_TEST_FILES_H_

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace compass::testing {

// A fresh, empty folder compass_<suite>_<name>_<pid> in the temp folder.
inline std::filesystem::path TempDir(const std::string& suite, const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() /
      ("compass_" + suite + "_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The whole file, or "" when it cannot be read.
inline std::string Slurp(const std::filesystem::path& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace compass::testing

#endif  // COMPASS_TESTS_TEST_FILES_H_
