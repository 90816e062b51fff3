// The tokenizer a GGUF file's metadata describes (tokenizer.ggml.*): the
// input as a file's bytes; when a tokenizer comes out, a fixed text is
// encoded and decoded and every token's bytes are read.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf/gguf_file.h"
#include "status_check.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/tokenizer.h"

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
  const Tokenizer& t = **tokenizer;
  for (bool special : {true, false}) {
    const std::vector<int32_t> ids = t.Encode(kText, special);
    for (int32_t id : ids) {
      if (id < 0 || static_cast<uint32_t>(id) >= t.vocab_size()) __builtin_trap();
    }
    (void)t.Decode(ids.data(), ids.size());
  }
  const int32_t probe[] = {-1, 0, 1, static_cast<int32_t>(t.vocab_size()) - 1,
                           static_cast<int32_t>(t.vocab_size())};
  (void)t.Decode(probe, sizeof(probe) / sizeof(probe[0]));
  for (int32_t id : probe) {
    (void)t.TokenText(id);
    (void)t.TokenBytes(id);
  }
  (void)TokenByteTable(t);
  (void)t.bos_id();
  (void)t.eos_ids();
  (void)t.add_bos();
  return 0;
}
