// Text through the tokenizers of the test fixtures (byte-level GPT-2 and
// SentencePiece-style Llama-2, from tokenizer.json): any bytes encode, with
// and without special tokens, to ids inside the vocabulary that decode
// again. Dataset text reaches the tokenizer unchecked, so this is a parser
// of user files too.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

using namespace compass;

namespace {

std::unique_ptr<Tokenizer> Load(const std::string& name) {
  const std::string dir = std::string(COMPASS_SOURCE_DIR) + "/tests/fixtures/tokenizers/" + name;
  auto t = LoadHfTokenizer(dir + "/tokenizer.json", dir + "/tokenizer_config.json");
  if (!t.ok()) {
    std::fprintf(stderr, "%s\n", t.status().ToString().c_str());
    std::abort();
  }
  return std::move(*t);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::unique_ptr<Tokenizer> tokenizers[] = {Load("gpt2"), Load("llama2")};
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (const auto& t : tokenizers) {
    for (bool special : {true, false}) {
      const std::vector<int32_t> ids = t->Encode(text, special);
      for (int32_t id : ids) {
        if (id < 0 || static_cast<uint32_t>(id) >= t->vocab_size()) __builtin_trap();
      }
      if (!t->Decode(ids.data(), ids.size()).ok()) __builtin_trap();
    }
  }
  return 0;
}
