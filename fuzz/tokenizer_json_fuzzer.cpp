// Hugging Face tokenizer.json (with tokenizer_config.json): the input is
// tokenizer.json, optionally followed by a NUL byte and
// tokenizer_config.json. When a tokenizer comes out, a fixed text is
// encoded and decoded and every token's bytes are read.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.h"
#include "status_check.h"
#include "tokenizer_checks.h"

using namespace compass;

namespace {
constexpr char kText[] =
    "Hello world! 123 4567 <s></s> <|endoftext|>\n\n\tcafé 日本語 😀 ' 's 've  x";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = fuzz::SplitAtNul(data, size, 2);
  fuzz::ResetScratch();
  const std::string tokenizer_file = fuzz::WriteScratch("tokenizer.json", parts[0]).string();
  std::string config_file;
  if (!parts[1].empty()) {
    config_file = fuzz::WriteScratch("tokenizer_config.json", parts[1]).string();
  }
  auto tokenizer = LoadHfTokenizer(tokenizer_file, config_file);
  if (!tokenizer.ok()) {
    fuzz::CheckNotInternal(tokenizer.status());
    return 0;
  }
  fuzz::ExerciseTokenizer(**tokenizer, kText);
  return 0;
}
