// What the tokenizer fuzz targets do with a tokenizer that loaded: encode
// and decode a fixed text (with and without special tokens; every id must
// be in the vocabulary), decode ids at and past both ends of it, and read
// every token's text and bytes.
#ifndef COMPASS_FUZZ_TOKENIZER_CHECKS_H_
#define COMPASS_FUZZ_TOKENIZER_CHECKS_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace compass::fuzz {

inline void ExerciseTokenizer(const Tokenizer& t, std::string_view text) {
  for (bool special : {true, false}) {
    const std::vector<int32_t> ids = t.Encode(text, special);
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
}

}  // namespace compass::fuzz

#endif  // COMPASS_FUZZ_TOKENIZER_CHECKS_H_
