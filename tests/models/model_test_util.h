// Helpers shared by the model tests: scratch directories and tiny models.
#ifndef COMPASS_TESTS_MODELS_MODEL_TEST_UTIL_H_
#define COMPASS_TESTS_MODELS_MODEL_TEST_UTIL_H_

#include <ftw.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "models/tiny_model.h"

namespace compass::model::testing {

// rm -rf, without std::filesystem: at exit, libtorch (which exports its own
// copy of std::filesystem) may already be torn down.
inline void RemoveTree(const std::string& path) {
  nftw(
      path.c_str(), [](const char* p, const struct stat*, int, struct FTW*) { return ::remove(p); },
      16, FTW_DEPTH | FTW_PHYS);
}

// A fresh directory under the system temp dir, removed at exit.
inline std::string ScratchDir(const std::string& name) {
  static const std::string root = [] {
    std::string tmpl = (std::filesystem::temp_directory_path() / "compass_model_XXXXXX").string();
    const char* made = mkdtemp(tmpl.data());
    EXPECT_NE(made, nullptr);
    static std::string keep = tmpl;
    std::atexit([] { RemoveTree(keep); });
    return tmpl;
  }();
  const std::string dir = root + "/" + name;
  RemoveTree(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// The directory of a tiny model variant written once per process.
inline std::string TinyModelDir(const std::string& variant, DType dtype = DType::kF32,
                                int shards = 1) {
  static std::map<std::string, std::string> written;
  const std::string key = variant + "_" + DTypeName(dtype) + "_" + std::to_string(shards);
  auto it = written.find(key);
  if (it != written.end()) return it->second;
  auto spec = TinyModelVariant(variant);
  EXPECT_TRUE(spec.ok()) << spec.status().message();
  spec->dtype = dtype;
  spec->shards = shards;
  const std::string dir = ScratchDir(key);
  auto files = WriteTinyModel(*spec, dir);
  EXPECT_TRUE(files.ok()) << files.status().message();
  written[key] = dir;
  return dir;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

inline std::string FixtureDir(const std::string& variant) {
  return std::string(COMPASS_SOURCE_DIR) + "/tests/fixtures/models/" + variant;
}

}  // namespace compass::model::testing

#endif  // COMPASS_TESTS_MODELS_MODEL_TEST_UTIL_H_
