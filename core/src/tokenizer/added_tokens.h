// tokenizer.json "added_tokens": tokens matched in the text before anything
// else (special tokens such as "<|begin_of_text|>", and user-added ones),
// with the reference library's matching rules: leftmost-longest, the
// single_word / lstrip / rstrip flags, and tokens marked `normalized` matched
// in the normalized text instead of the raw one.
#ifndef COMPASS_TOKENIZER_ADDED_TOKENS_H_
#define COMPASS_TOKENIZER_ADDED_TOKENS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/json_fields.h"
#include "tokenizer/normalizer.h"
#include "tokenizer/regex.h"
#include "util/status.h"

namespace compass::hf {

struct AddedToken {
  int32_t id = -1;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = false;
  // What decoding starts from: the content, normalized when the token is
  // matched in normalized text (as the reference library decodes it).
  std::string decode_form;
};

class AddedVocabulary {
 public:
  // A stretch of text [begin, end): an added token when id >= 0.
  struct Segment {
    size_t begin, end;
    int32_t id;
  };

  // `list` is tokenizer.json's "added_tokens" array (or null). Ids are
  // checked against the ones the reference library assigns when it loads the
  // file; a mismatch is an error. `normalizer` (may be null) gives the
  // patterns of normalized tokens.
  static StatusOr<std::unique_ptr<AddedVocabulary>> FromJson(const Json* list,
                                                             const BpeModel& model,
                                                             const Normalizer* normalizer,
                                                             const std::string& where);
  ~AddedVocabulary();

  // Cuts `text` (valid UTF-8) into added tokens and the text between them,
  // using the tokens matched in raw text (`in_normalized` false) or those
  // matched in normalized text (true). With `parse_special` false, special
  // tokens are not matched (their text is encoded like any other). `out` is
  // replaced; it covers all of `text`.
  void Split(std::string_view text, bool in_normalized, bool parse_special,
             std::vector<Segment>* out) const;

  bool has_normalized_tokens() const { return !normalized_.empty(); }
  // nullptr when `id` is not an added token.
  const AddedToken* Find(int32_t id) const;
  // -1 when no added token has this content.
  int32_t IdOf(std::string_view content) const;
  int32_t max_id() const { return max_id_; }

 private:
  // Leftmost-longest matching over a byte trie.
  struct Matcher {
    struct Node {
      std::unordered_map<unsigned char, int32_t> next;
      int32_t id = -1;  // token ending here
    };
    std::vector<Node> nodes{1};
    bool first_byte[256] = {};
    void Add(std::string_view pattern, int32_t id);
    bool empty() const { return nodes.size() == 1; }
    // The longest token starting at `pos`: its end, or 0 when none.
    size_t LongestAt(std::string_view text, size_t pos, int32_t* id) const;
  };

  AddedVocabulary();
  bool EndsWithWordChar(std::string_view s) const;
  bool StartsWithWordChar(std::string_view s) const;

  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, size_t> by_id_;  // id -> index in tokens_ (the last definition)
  TokenMap by_content_;
  Matcher raw_;
  Matcher normalized_;
  int32_t max_id_ = -1;
  std::unique_ptr<Regex> word_start_;  // ^\w, as the reference library's single_word check
  std::unique_ptr<Regex> word_end_;    // \w$
};

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_ADDED_TOKENS_H_
