#include "tokenizer/tokenizer.h"

namespace compass {

std::vector<int32_t> ByteTokenizer::DoEncode(std::string_view text, bool /*parse_special*/) const {
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

std::string ByteTokenizer::TokenText(int32_t id) const {
  if (id == kBos) return "<bos>";
  if (id == kEos) return "<eos>";
  if (id < 0 || id > 255) return "";
  return std::string(1, static_cast<char>(id));
}

std::string ByteTokenizer::TokenBytes(int32_t id) const {
  if (id < 0 || id > 255) return "";  // BOS and EOS decode to nothing
  return std::string(1, static_cast<char>(id));
}

std::string Tokenizer::TokenBytes(int32_t id) const {
  // The difference between decoding [id, id] and [id]: what the token adds
  // after another token, clear of start-of-text rules.
  const int32_t twice[] = {id, id};
  auto one = Decode(twice, 1);
  auto two = Decode(twice, 2);
  if (!one.ok() || !two.ok() || two->size() < one->size()) return "";
  return two->substr(one->size());
}

std::vector<std::string> TokenByteTable(const Tokenizer& tokenizer) {
  std::vector<std::string> table(tokenizer.vocab_size());
  for (uint32_t id = 0; id < table.size(); ++id) {
    table[id] = tokenizer.TokenBytes(static_cast<int32_t>(id));
  }
  return table;
}

}  // namespace compass
