// The GGUF fixtures and goldens of the model tests (written by
// scripts/goldens/make_gguf_model_goldens.py from transformers' GGUF loader).
#ifndef COMPASS_TESTS_MODELS_GGUF_FIXTURES_H_
#define COMPASS_TESTS_MODELS_GGUF_FIXTURES_H_

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

namespace compass::model::testing {

inline std::string GgufFixture(const std::string& name) {
  return std::string(COMPASS_SOURCE_DIR) + "/tests/fixtures/gguf/" + name;
}

inline const nlohmann::json& GgufGoldens(const std::string& file) {
  static std::map<std::string, nlohmann::json> cache;
  auto it = cache.find(file);
  if (it == cache.end()) {
    std::ifstream in(GgufFixture(file));
    it = cache.emplace(file, nlohmann::json::parse(in)).first;
  }
  return it->second;
}

}  // namespace compass::model::testing

#endif  // COMPASS_TESTS_MODELS_GGUF_FIXTURES_H_
