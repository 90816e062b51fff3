#include "tokenizer/added_tokens.h"

#include "tokenizer/utf8.h"

namespace compass::hf {
namespace {

// Rust regex's Unicode \w, which the reference library uses for single_word.
constexpr std::string_view kWordClass = R"([\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}])";

bool SameFlags(const AddedToken& a, const AddedToken& b) {
  return a.content == b.content && a.single_word == b.single_word && a.lstrip == b.lstrip &&
         a.rstrip == b.rstrip && a.normalized == b.normalized && a.special == b.special;
}

}  // namespace

AddedVocabulary::AddedVocabulary() = default;
AddedVocabulary::~AddedVocabulary() = default;

void AddedVocabulary::Matcher::Add(std::string_view pattern, int32_t id) {
  if (pattern.empty()) return;
  first_byte[static_cast<unsigned char>(pattern[0])] = true;
  int32_t node = 0;
  for (unsigned char c : pattern) {
    auto it = nodes[node].next.find(c);
    if (it == nodes[node].next.end()) {
      nodes.emplace_back();
      const auto child = static_cast<int32_t>(nodes.size() - 1);
      nodes[node].next.emplace(c, child);
      node = child;
    } else {
      node = it->second;
    }
  }
  // The same pattern twice keeps the first, as the automaton reports the
  // first pattern among equal matches.
  if (nodes[node].id < 0) nodes[node].id = id;
}

size_t AddedVocabulary::Matcher::LongestAt(std::string_view text, size_t pos, int32_t* id) const {
  size_t best = 0;
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto it = nodes[node].next.find(static_cast<unsigned char>(text[i]));
    if (it == nodes[node].next.end()) break;
    node = it->second;
    if (nodes[node].id >= 0) {
      best = i + 1;
      *id = nodes[node].id;
    }
  }
  return best;
}

StatusOr<std::unique_ptr<AddedVocabulary>> AddedVocabulary::FromJson(const Json* list,
                                                                     const BpeModel& model,
                                                                     const Normalizer* normalizer,
                                                                     const std::string& where) {
  std::unique_ptr<AddedVocabulary> vocab(new AddedVocabulary());
  COMPASS_ASSIGN_OR_RETURN(auto word_start, Regex::Compile("^" + std::string(kWordClass)));
  COMPASS_ASSIGN_OR_RETURN(auto word_end, Regex::Compile(std::string(kWordClass) + "$"));
  vocab->word_start_ = std::move(word_start);
  vocab->word_end_ = std::move(word_end);
  if (list == nullptr) return vocab;
  if (!list->is_array()) return FieldError(where, "expected a list");

  int32_t max_added = -1;
  for (size_t i = 0; i < list->size(); ++i) {
    const Json& j = (*list)[i];
    const std::string path = IndexPath(where, i);
    COMPASS_RETURN_IF_ERROR(ExpectObject(j, path));
    AddedToken t;
    COMPASS_ASSIGN_OR_RETURN(const int64_t file_id, RequiredInt(j, "id", path));
    COMPASS_ASSIGN_OR_RETURN(t.content, RequiredString(j, "content", path));
    COMPASS_ASSIGN_OR_RETURN(t.single_word, BoolField(j, "single_word", path, false));
    COMPASS_ASSIGN_OR_RETURN(t.lstrip, BoolField(j, "lstrip", path, false));
    COMPASS_ASSIGN_OR_RETURN(t.rstrip, BoolField(j, "rstrip", path, false));
    COMPASS_ASSIGN_OR_RETURN(t.special, BoolField(j, "special", path, false));
    COMPASS_ASSIGN_OR_RETURN(t.normalized, BoolField(j, "normalized", path, !t.special));
    if (!IsValidUtf8(t.content)) return FieldError(KeyPath(path, "content"), "not valid UTF-8");
    if (t.content.empty()) continue;  // ignored by the reference library too

    // The id the reference library gives: the existing one when the content
    // is already known, else one past the largest added id (at least the
    // model's vocabulary size).
    int32_t id = vocab->IdOf(t.content);
    if (id < 0) id = model.TokenToId(t.content);
    if (id < 0) {
      const auto model_size = static_cast<int32_t>(model.size());
      id = max_added < 0                                  ? model_size
           : (max_added >= model_size || model_size == 0) ? max_added + 1
                                                          : model_size;
    }
    if (id != file_id) {
      return FieldError(KeyPath(path, "id"),
                        "token '" + t.content + "' has id " + std::to_string(file_id) +
                            " here, but loading this file with Hugging Face tokenizers gives it "
                            "id " +
                            std::to_string(id) +
                            " (added tokens outside the model vocabulary must follow it without "
                            "gaps, in order); fix the id");
    }
    t.id = id;
    t.decode_form = t.content;
    if (t.normalized && normalizer != nullptr) normalizer->Normalize(&t.decode_form);
    bool duplicate = false;
    if (const AddedToken* old = vocab->Find(id); old != nullptr && SameFlags(*old, t)) {
      duplicate = true;
    }
    if (duplicate) continue;
    max_added = std::max(max_added, id);
    vocab->max_id_ = std::max(vocab->max_id_, id);
    vocab->by_id_[id] = vocab->tokens_.size();
    vocab->by_content_[t.content] = id;
    vocab->tokens_.push_back(std::move(t));
  }

  // The matchers hold special tokens first, then the others, each in file
  // order (the order the reference library builds its automata in).
  for (const bool special : {true, false}) {
    for (const AddedToken& t : vocab->tokens_) {
      if (t.special != special) continue;
      if (!t.normalized) {
        vocab->raw_.Add(t.content, t.id);
      } else {
        vocab->normalized_.Add(t.decode_form, t.id);
      }
    }
  }
  return vocab;
}

const AddedToken* AddedVocabulary::Find(int32_t id) const {
  const auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &tokens_[it->second];
}

int32_t AddedVocabulary::IdOf(std::string_view content) const {
  const auto it = by_content_.find(content);
  return it == by_content_.end() ? -1 : it->second;
}

bool AddedVocabulary::EndsWithWordChar(std::string_view s) const {
  return word_end_->Search(s);
}

bool AddedVocabulary::StartsWithWordChar(std::string_view s) const {
  return word_start_->Search(s);
}

void AddedVocabulary::Split(std::string_view text, bool in_normalized, bool parse_special,
                            std::vector<Segment>* out) const {
  out->clear();
  const Matcher& matcher = in_normalized ? normalized_ : raw_;
  size_t cursor = 0;  // end of the last emitted segment
  if (!matcher.empty()) {
    size_t pos = 0;
    while (pos < text.size()) {
      if (!matcher.first_byte[static_cast<unsigned char>(text[pos])]) {
        ++pos;
        continue;
      }
      int32_t id = -1;
      const size_t match_end = matcher.LongestAt(text, pos, &id);
      if (match_end == 0) {
        ++pos;
        continue;
      }
      // Matches are found first and filtered after, so a skipped match still
      // hides the tokens that overlap it, as in the reference library.
      const size_t match_begin = pos;
      pos = match_end;
      const AddedToken& token = *Find(id);
      if (token.special && !parse_special) continue;
      size_t begin = match_begin, end = match_end;
      if (token.single_word) {
        const bool start_ok = begin == 0 || !EndsWithWordChar(text.substr(0, begin));
        const bool stop_ok = end == text.size() || !StartsWithWordChar(text.substr(end));
        if (!start_ok || !stop_ok) continue;
      }
      if (token.lstrip) {
        size_t b = begin;
        while (b > cursor) {
          // Step back one character; whitespace is ASCII or a multi-byte
          // character whose start is found by skipping continuation bytes.
          size_t prev = b - 1;
          while (prev > 0 && (static_cast<unsigned char>(text[prev]) & 0xC0) == 0x80) --prev;
          size_t i = prev;
          if (!IsWhiteSpace(NextCodePoint(text, &i))) break;
          b = prev;
        }
        begin = b;
      }
      if (token.rstrip) {
        size_t e = end;
        while (e < text.size()) {
          size_t i = e;
          if (!IsWhiteSpace(NextCodePoint(text, &i))) break;
          e = i;
        }
        end = e;
      }
      if (begin > cursor) out->push_back({cursor, begin, -1});
      out->push_back({begin, end, id});
      cursor = end;
    }
  }
  if (cursor < text.size() || out->empty()) out->push_back({cursor, text.size(), -1});
}

}  // namespace compass::hf
