// Access to the tokenizer fixtures shared by the tokenizer tests: the
// converted tokenizers and goldens in tests/fixtures/tokenizers, Llama-3 from
// ../shared/data/tokenizers, and the variants built from them by JSON patch.
#ifndef COMPASS_TESTS_CORE_TOKENIZER_TOKENIZER_FIXTURES_H_
#define COMPASS_TESTS_CORE_TOKENIZER_TOKENIZER_FIXTURES_H_

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace compass::tokenizer_fixtures {

inline std::filesystem::path FixtureDir() {
  return std::filesystem::path(COMPASS_SOURCE_DIR) / "tests" / "fixtures" / "tokenizers";
}

inline std::filesystem::path SharedTokenizerDir(const std::string& name) {
  return std::filesystem::path(COMPASS_SOURCE_DIR) / ".." / "shared" / "data" / "tokenizers" / name;
}

inline hf::Json ReadJsonFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error(path.string() +
                             " is missing (the Llama-3 tokenizer comes from ../shared beside the "
                             "repository; the others from scripts/goldens/"
                             "make_tokenizer_goldens.py)");
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return hf::Json::parse(buffer.str());
}

// The folder holding tokenizer.json (+ tokenizer_config.json) of a base
// tokenizer: gpt2, llama2 or llama3.
inline std::filesystem::path BaseDir(const std::string& name) {
  return name == "llama3" ? SharedTokenizerDir("llama3") : FixtureDir() / name;
}

// Loads each tokenizer once per test program.
inline const Tokenizer& GetTokenizer(const std::string& name) {
  static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return *it->second;
  std::unique_ptr<Tokenizer> t;
  if (name == "gpt2" || name == "llama2" || name == "llama3") {
    const std::filesystem::path dir = BaseDir(name);
    if (!std::filesystem::exists(dir / "tokenizer.json")) {
      throw std::runtime_error(
          (dir / "tokenizer.json").string() +
          " is missing: the Llama-3 tokenizer is read from ../shared/data beside the repository "
          "(as CI has it); the others are made by scripts/goldens/make_tokenizer_goldens.py");
    }
    auto loaded = LoadTokenizer("auto", dir.string());
    if (!loaded.ok()) throw std::runtime_error(loaded.status().ToString());
    t = std::move(loaded).value();
  } else {
    static const hf::Json variants = ReadJsonFile(FixtureDir() / "variants.json");
    const hf::Json& v = variants.at(name);
    const std::filesystem::path dir = BaseDir(v.at("base").get<std::string>());
    const hf::Json doc = ReadJsonFile(dir / "tokenizer.json").patch(v.at("patch"));
    const hf::Json config = ReadJsonFile(dir / "tokenizer_config.json");
    auto created = hf::HfTokenizer::Create(doc, &config, name + "/tokenizer.json",
                                           (dir / "tokenizer_config.json").string());
    if (!created.ok()) throw std::runtime_error(created.status().ToString());
    t = std::move(created).value();
  }
  return *cache.emplace(name, std::move(t)).first->second;
}

}  // namespace compass::tokenizer_fixtures

#endif  // COMPASS_TESTS_CORE_TOKENIZER_TOKENIZER_FIXTURES_H_
