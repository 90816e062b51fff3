#include "tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstring>
#include <queue>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace compass::hf {

// (left id, right id) -> (rank, merged id), open addressing.
class BpeModel::MergeTable {
 public:
  explicit MergeTable(size_t n) {
    size_t capacity = 16;
    while (capacity < n + n / 2 + 16) capacity *= 2;
    mask_ = capacity - 1;
    slots_.assign(capacity, Slot{kEmpty, 0, 0});
  }

  // A pair given twice keeps the later rank, as in the reference library.
  void Insert(int32_t left, int32_t right, int32_t rank, int32_t merged) {
    const uint64_t key = Key(left, right);
    for (size_t i = Hash(key);; i = (i + 1) & mask_) {
      if (slots_[i].key == kEmpty || slots_[i].key == key) {
        slots_[i] = Slot{key, rank, merged};
        return;
      }
    }
  }

  bool Find(int32_t left, int32_t right, int32_t* rank, int32_t* merged) const {
    const uint64_t key = Key(left, right);
    for (size_t i = Hash(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) {
        *rank = s.rank;
        *merged = s.merged;
        return true;
      }
      if (s.key == kEmpty) return false;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  struct Slot {
    uint64_t key;
    int32_t rank;
    int32_t merged;
  };
  static uint64_t Key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }
  size_t Hash(uint64_t key) const {
    return static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 20) & mask_;
  }

  size_t mask_ = 0;
  std::vector<Slot> slots_;
};

BpeModel::BpeModel() = default;
BpeModel::~BpeModel() = default;

namespace {

constexpr std::string_view kMetaspace = "\u2581";

// Whether `token` is a run of "▁" followed by other characters only.
bool MetaspaceOnlyLeading(std::string_view token) {
  size_t i = 0;
  while (token.compare(i, kMetaspace.size(), kMetaspace) == 0) i += kMetaspace.size();
  return token.find(kMetaspace, i) == std::string_view::npos;
}

StatusOr<std::string> OptionalString(const Json& model, std::string_view key,
                                     const std::string& where) {
  return StringField(model, key, where, "");
}

}  // namespace

StatusOr<std::unique_ptr<BpeModel>> BpeModel::FromJson(const Json& model,
                                                       const std::string& where) {
  std::unique_ptr<BpeModel> bpe(new BpeModel());
  bpe->cache_ = std::make_unique<PieceCache>(kCacheSlots);
  COMPASS_RETURN_IF_ERROR(ExpectObject(model, where));
  if (const Json* dropout = FindField(model, "dropout");
      dropout != nullptr && !(dropout->is_number() && dropout->get<double>() == 0.0)) {
    return FieldError(KeyPath(where, "dropout"),
                      "BPE dropout is not supported (it makes encoding random); set it to null");
  }

  const std::string vocab_path = KeyPath(where, "vocab");
  const Json* vocab = FindField(model, "vocab");
  if (vocab == nullptr || !vocab->is_object()) {
    return FieldError(vocab_path, "expected an object mapping tokens to ids");
  }
  bpe->vocab_.reserve(vocab->size());
  int64_t max_id = -1;
  for (const auto& [token, id] : vocab->items()) {
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= INT32_MAX) {
      return FieldError(vocab_path, "token '" + token + "' has id " + id.dump() +
                                        "; ids are integers from 0 to 2^31-2");
    }
    bpe->vocab_[token] = static_cast<int32_t>(id.get<int64_t>());
    max_id = std::max(max_id, id.get<int64_t>());
  }
  // Tables are indexed by id (here, and every backend's token table), so an
  // id space far larger than the vocabulary is refused, not allocated.
  const int64_t unused_ids = max_id + 1 - static_cast<int64_t>(bpe->vocab_.size());
  if (unused_ids > kMaxUnusedIds) {
    return FieldError(vocab_path, "the largest id is " + std::to_string(max_id) +
                                      " but there are " + std::to_string(bpe->vocab_.size()) +
                                      " tokens; ids may leave at most " +
                                      std::to_string(kMaxUnusedIds) + " unused");
  }
  bpe->id_to_token_.assign(static_cast<size_t>(max_id + 1), nullptr);
  for (const auto& [token, id] : bpe->vocab_) bpe->id_to_token_[id] = &token;

  COMPASS_ASSIGN_OR_RETURN(const std::string unk, OptionalString(model, "unk_token", where));
  if (!unk.empty()) {
    bpe->unk_id_ = bpe->TokenToId(unk);
    if (bpe->unk_id_ < 0) {
      return FieldError(KeyPath(where, "unk_token"), "'" + unk + "' is not in " + vocab_path);
    }
  }
  COMPASS_ASSIGN_OR_RETURN(bpe->fuse_unk_, BoolField(model, "fuse_unk", where, false));
  COMPASS_ASSIGN_OR_RETURN(bpe->byte_fallback_, BoolField(model, "byte_fallback", where, false));
  COMPASS_ASSIGN_OR_RETURN(bpe->ignore_merges_, BoolField(model, "ignore_merges", where, false));
  COMPASS_ASSIGN_OR_RETURN(bpe->continuing_subword_prefix_,
                           OptionalString(model, "continuing_subword_prefix", where));
  COMPASS_ASSIGN_OR_RETURN(bpe->end_of_word_suffix_,
                           OptionalString(model, "end_of_word_suffix", where));

  bpe->split_at_metaspace_ =
      !bpe->ignore_merges_ && bpe->continuing_subword_prefix_.empty() &&
      bpe->end_of_word_suffix_.empty() && bpe->TokenToId(kMetaspace) >= 0 &&
      std::all_of(bpe->vocab_.begin(), bpe->vocab_.end(),
                  [](const auto& entry) { return MetaspaceOnlyLeading(entry.first); });

  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    bpe->byte_fallback_ids_[b] = bpe->TokenToId(name);
    bpe->byte_level_ids_[b] = bpe->TokenToId(ByteLevelChar(static_cast<uint8_t>(b)));
  }

  // As in Hugging Face tokenizers: the key is required (without it every
  // word would silently fall apart into characters), an empty list is legal
  // (a vocabulary of single characters or bytes has nothing to merge).
  const std::string merges_path = KeyPath(where, "merges");
  const Json* merges = FindField(model, "merges");
  if (merges == nullptr) {
    return FieldError(merges_path,
                      "required but missing: a BPE model needs its merges (without them every "
                      "word would "
                      "be split into single characters); export the tokenizer again with "
                      "its merges, or write \"merges\": [] if the vocabulary truly has none");
  }
  if (!merges->is_array()) return FieldError(merges_path, "expected a list");
  bpe->merges_ = std::make_unique<MergeTable>(merges->size());
  const size_t prefix_len = bpe->continuing_subword_prefix_.size();
  int32_t rank = 0;
  std::string left, right;
  for (size_t i = 0; i < merges->size(); ++i) {
    const Json& m = (*merges)[i];
    const std::string path = IndexPath(merges_path, i);
    if (m.is_string()) {
      const std::string& line = m.get_ref<const std::string&>();
      if (line.rfind("#version", 0) == 0) continue;
      const size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        return FieldError(path, "'" + line + "' is not two tokens separated by one space");
      }
      left = line.substr(0, space);
      right = line.substr(space + 1);
    } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
      left = m[0].get<std::string>();
      right = m[1].get<std::string>();
    } else {
      return FieldError(path, "expected \"left right\" or [\"left\", \"right\"]");
    }
    const int32_t left_id = bpe->TokenToId(left);
    const int32_t right_id = bpe->TokenToId(right);
    for (const auto& [part, id] : {std::pair{&left, left_id}, std::pair{&right, right_id}}) {
      if (id < 0) {
        return FieldError(path, "the merge of '" + left + "' and '" + right + "' refers to '" +
                                    *part + "', which is not in " + vocab_path);
      }
    }
    if (right.size() < prefix_len) {
      return FieldError(path, "'" + right + "' is shorter than continuing_subword_prefix");
    }
    const std::string merged = left + right.substr(prefix_len);
    const int32_t merged_id = bpe->TokenToId(merged);
    if (merged_id < 0) {
      return FieldError(path, "the merged token '" + merged + "' is not in " + vocab_path);
    }
    bpe->merges_->Insert(left_id, right_id, rank++, merged_id);
  }
  return bpe;
}

int32_t BpeModel::TokenToId(std::string_view token) const {
  const auto it = vocab_.find(token);
  return it == vocab_.end() ? -1 : it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return nullptr;
  return id_to_token_[id];
}

void BpeModel::Tokenize(std::string_view piece, std::vector<int32_t>* ids) const {
  if (!split_at_metaspace_ || byte_level_input_) {
    TokenizeCached(piece, ids);
    return;
  }
  size_t begin = 0;
  for (size_t pos = piece.find(kMetaspace, 1); pos != std::string_view::npos;
       pos = piece.find(kMetaspace, pos + kMetaspace.size())) {
    if (pos >= kMetaspace.size() &&
        piece.compare(pos - kMetaspace.size(), kMetaspace.size(), kMetaspace) == 0) {
      continue;  // inside a run of "▁"
    }
    TokenizeCached(piece.substr(begin, pos - begin), ids);
    begin = pos;
  }
  TokenizeCached(piece.substr(begin), ids);
}

void BpeModel::TokenizeCached(std::string_view piece, std::vector<int32_t>* ids) const {
  if (piece.size() > PieceCache::kMaxPiece) {
    Encode(piece, ids);
    return;
  }
  const uint64_t hash = PieceCache::Hash(piece);
  if (cache_->Lookup(piece, hash, ids)) return;
  const size_t before = ids->size();
  Encode(piece, ids);
  cache_->Store(piece, hash, ids->data() + before, ids->size() - before);
}

void BpeModel::Encode(std::string_view piece, std::vector<int32_t>* out) const {
  std::string mapped;
  std::string_view word = piece;
  const bool plain_affixes = continuing_subword_prefix_.empty() && end_of_word_suffix_.empty();
  std::vector<int32_t> symbols;
  if (byte_level_input_) {
    bool all_mapped = plain_affixes;
    if (all_mapped) {
      symbols.reserve(piece.size());
      for (unsigned char b : piece) {
        if (byte_level_ids_[b] < 0) {
          all_mapped = false;
          break;
        }
        symbols.push_back(byte_level_ids_[b]);
      }
    }
    if (!all_mapped || ignore_merges_) {
      mapped = ToByteLevel(piece);
      word = mapped;
    }
    if (!all_mapped) symbols.clear();
  }
  if (ignore_merges_) {
    const int32_t id = TokenToId(word);
    if (id >= 0) {
      out->push_back(id);
      return;
    }
  }
  if (symbols.empty()) InitialSymbols(word, &symbols);
  MergeAll(&symbols);
  out->insert(out->end(), symbols.begin(), symbols.end());
}

void BpeModel::InitialSymbols(std::string_view word, std::vector<int32_t>* symbols) const {
  std::string buffer;
  bool pending_unk = false;
  for (size_t i = 0; i < word.size();) {
    const size_t end = std::min(word.size(), i + Utf8SequenceLength(word[i]));
    const bool first = i == 0;
    const bool last = end == word.size();
    std::string_view s = word.substr(i, end - i);
    if ((!first && !continuing_subword_prefix_.empty()) || (last && !end_of_word_suffix_.empty())) {
      buffer.clear();
      if (!first) buffer += continuing_subword_prefix_;
      buffer += s;
      if (last) buffer += end_of_word_suffix_;
      s = buffer;
    }
    i = end;
    const int32_t id = TokenToId(s);
    if (id >= 0) {
      if (pending_unk) symbols->push_back(unk_id_);
      pending_unk = false;
      symbols->push_back(id);
      continue;
    }
    if (byte_fallback_ && std::all_of(s.begin(), s.end(), [&](char c) {
          return byte_fallback_ids_[static_cast<unsigned char>(c)] >= 0;
        })) {
      // As in the reference library, a pending unknown is not flushed first.
      for (char c : s) symbols->push_back(byte_fallback_ids_[static_cast<unsigned char>(c)]);
      continue;
    }
    if (unk_id_ >= 0) {
      if (pending_unk && !fuse_unk_) symbols->push_back(unk_id_);
      pending_unk = true;
    }
    // Without an unknown token the character is dropped, as in the reference.
  }
  if (pending_unk) symbols->push_back(unk_id_);
}

void BpeModel::MergeAll(std::vector<int32_t>* symbols) const {
  std::vector<int32_t>& s = *symbols;
  if (s.size() < 2) return;
  constexpr size_t kLinearLimit = 64;
  if (s.size() > kLinearLimit) {
    MergeAllWithHeap(symbols);
    return;
  }
  // Short words: keep the rank of every adjacent pair and merge the lowest
  // (leftmost on ties) until no pair merges; same result as the heap.
  int32_t rank[kLinearLimit];
  int32_t merged[kLinearLimit];
  size_t n = s.size();
  for (size_t i = 0; i + 1 < n; ++i) {
    if (!merges_->Find(s[i], s[i + 1], &rank[i], &merged[i])) rank[i] = INT32_MAX;
  }
  while (true) {
    size_t best = n;
    int32_t best_rank = INT32_MAX;
    for (size_t i = 0; i + 1 < n; ++i) {
      if (rank[i] < best_rank) {
        best_rank = rank[i];
        best = i;
      }
    }
    if (best == n) break;
    s[best] = merged[best];
    // Drop symbol best+1 and pair best; the pairs after shift down by one.
    // (Pointers from data(): s[best + 2] would index past the end when the
    // last pair merges.)
    std::memmove(s.data() + best + 1, s.data() + best + 2, (n - best - 2) * sizeof(int32_t));
    if (best + 2 < n) {
      std::memmove(&rank[best], &rank[best + 1], (n - best - 2) * sizeof(int32_t));
      std::memmove(&merged[best], &merged[best + 1], (n - best - 2) * sizeof(int32_t));
    }
    --n;
    if (best > 0 && !merges_->Find(s[best - 1], s[best], &rank[best - 1], &merged[best - 1])) {
      rank[best - 1] = INT32_MAX;
    }
    if (best + 1 < n && !merges_->Find(s[best], s[best + 1], &rank[best], &merged[best])) {
      rank[best] = INT32_MAX;
    }
  }
  s.resize(n);
}

void BpeModel::MergeAllWithHeap(std::vector<int32_t>* symbols) const {
  // The reference library's Word::merge_all: a queue of candidate merges
  // ordered by (rank, position), entries made stale by earlier merges skipped.
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    bool alive;
  };
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t merged;
    bool operator<(const Candidate& o) const {  // inverted: the queue pops the lowest
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::vector<int32_t>& s = *symbols;
  const int32_t n = static_cast<int32_t>(s.size());
  std::vector<Symbol> sym(n);
  for (int32_t i = 0; i < n; ++i) sym[i] = {s[i], i - 1, i + 1 < n ? i + 1 : -1, true};
  std::priority_queue<Candidate> queue;
  int32_t rank, merged;
  for (int32_t i = 0; i + 1 < n; ++i) {
    if (merges_->Find(s[i], s[i + 1], &rank, &merged)) queue.push({rank, i, merged});
  }
  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    Symbol& cur = sym[top.pos];
    if (!cur.alive || cur.next < 0) continue;
    const int32_t next = cur.next;
    if (!merges_->Find(cur.id, sym[next].id, &rank, &merged) || merged != top.merged) continue;
    cur.id = top.merged;
    sym[next].alive = false;
    cur.next = sym[next].next;
    if (cur.next >= 0) sym[cur.next].prev = top.pos;
    if (cur.prev >= 0 && merges_->Find(sym[cur.prev].id, cur.id, &rank, &merged)) {
      queue.push({rank, cur.prev, merged});
    }
    if (cur.next >= 0 && merges_->Find(cur.id, sym[cur.next].id, &rank, &merged)) {
      queue.push({rank, top.pos, merged});
    }
  }
  s.clear();
  for (const Symbol& x : sym) {
    if (x.alive) s.push_back(x.id);
  }
}

}  // namespace compass::hf
