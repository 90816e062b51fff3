#include "tokenizer/tokenizer.h"

namespace compass {

std::vector<int32_t> ByteTokenizer::Encode(std::string_view text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

StatusOr<std::string> ByteTokenizer::Decode(const int32_t* ids, size_t n) const {
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (ids[i] == kBos || ids[i] == kEos) continue;  // special tokens decode to nothing
    if (ids[i] < 0 || ids[i] > 257) {
      return InvalidArgument("token id " + std::to_string(ids[i]) +
                             " is outside the byte tokenizer's vocabulary (0..257)");
    }
    out.push_back(static_cast<char>(ids[i]));
  }
  return out;
}

}  // namespace compass
