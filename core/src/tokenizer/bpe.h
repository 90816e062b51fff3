// tokenizer.json "model" of type BPE: the vocabulary, the ranked merges, and
// the encoding of one pre-tokenized piece (the reference library's
// BPE::tokenize: characters to ids, with byte_fallback / unk_token for
// characters outside the vocabulary, then repeatedly the lowest-ranked
// adjacent pair is merged, leftmost first).
//
// Threading: Tokenize is const and safe to call concurrently.
#ifndef COMPASS_TOKENIZER_BPE_H_
#define COMPASS_TOKENIZER_BPE_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/json_fields.h"
#include "tokenizer/piece_cache.h"
#include "util/status.h"

namespace compass::hf {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

class BpeModel {
 public:
  // Ids may leave gaps, at most this many unused below the largest id (real
  // vocabularies leave none): tables are indexed by id.
  static constexpr int64_t kMaxUnusedIds = int64_t{1} << 20;

  // `model` is tokenizer.json's "model" object with "type": "BPE". Ids are
  // integers from 0 to 2^31-2, with at most kMaxUnusedIds unused.
  static StatusOr<std::unique_ptr<BpeModel>> FromJson(const Json& model, const std::string& where);
  ~BpeModel();

  // From then on Tokenize takes raw bytes, each standing for its character
  // in the byte-level alphabet (what a final ByteLevel pre-tokenizer gives).
  void SetByteLevelInput() { byte_level_input_ = true; }

  // Appends the ids of `piece` (not empty) to `ids`.
  void Tokenize(std::string_view piece, std::vector<int32_t>* ids) const;

  // -1 when `token` is not in the vocabulary.
  int32_t TokenToId(std::string_view token) const;
  // nullptr when no token has this id.
  const std::string* IdToToken(int32_t id) const;
  // Number of vocabulary entries, and the largest id (-1 when empty).
  size_t size() const { return vocab_.size(); }
  int32_t max_id() const { return static_cast<int32_t>(id_to_token_.size()) - 1; }

 private:
  class MergeTable;
  static constexpr size_t kCacheSlots = 1 << 17;

  BpeModel();
  void TokenizeCached(std::string_view piece, std::vector<int32_t>* ids) const;
  void Encode(std::string_view piece, std::vector<int32_t>* out) const;
  // The reference library's merge_word: initial symbols of a word.
  void InitialSymbols(std::string_view word, std::vector<int32_t>* symbols) const;
  void MergeAll(std::vector<int32_t>* symbols) const;
  void MergeAllWithHeap(std::vector<int32_t>* symbols) const;

  TokenMap vocab_;
  std::vector<const std::string*> id_to_token_;  // into vocab_'s keys; nullptr for gaps
  std::unique_ptr<MergeTable> merges_;
  int32_t unk_id_ = -1;
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
  bool ignore_merges_ = false;
  std::string continuing_subword_prefix_;
  std::string end_of_word_suffix_;
  std::array<int32_t, 256> byte_fallback_ids_{};  // "<0xNN>" tokens, -1 when absent
  std::array<int32_t, 256> byte_level_ids_{};     // byte-level characters, -1 when absent
  bool byte_level_input_ = false;
  // Whether a piece may be cut before each "▁" that follows another
  // character without changing its ids: true when no token holds "▁" after
  // another character (so no merge crosses such a point) and whole-piece
  // lookups (ignore_merges) and affixes are off. SentencePiece-style models
  // without a pre-tokenizer then get per-word caching.
  bool split_at_metaspace_ = false;
  std::unique_ptr<PieceCache> cache_;
};

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_BPE_H_
