// The tokenizer a GGUF file's metadata describes (tokenizer.ggml.*): the
// input as a file's bytes; when a tokenizer comes out, a fixed text is
// encoded and decoded and every token's bytes are read.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/gguf_file.h"
#include "status_check.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer_checks.h"

using namespace compass;

namespace {
constexpr char kText[] = "Hello world! 123 4567 <s></s> <|endoftext|>\n\n\tcafé 日本語 😀 ' 's 've";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = gguf::GgufFile::Parse("fuzz.gguf", std::vector<uint8_t>(data, data + size));
  if (!file.ok()) {
    fuzz::CheckNotInternal(file.status());
    return 0;
  }
  auto tokenizer = LoadGgufTokenizer(**file);
  if (!tokenizer.ok()) {
    fuzz::CheckNotInternal(tokenizer.status());
    return 0;
  }
  fuzz::ExerciseTokenizer(**tokenizer, kText);
  return 0;
}
