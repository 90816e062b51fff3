#include "tokenizer/gguf_tokenizer.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/utf8.h"

namespace compass {
namespace {

using hf::Json;

// llama.cpp's token types (gguf.TokenType).
constexpr int64_t kControl = 3;
constexpr int64_t kUserDefined = 4;

constexpr std::string_view kMetaspace = "\u2581";

// The split regexes transformers sets for tokenizer.ggml.pre
// (GGUF_PRE_TOKENIZER_SPLITS in its gguf_tokenizer_mapping.py).
constexpr std::string_view kLlama3Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen35Split =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kTekkenSplit =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kGpt4oSplit =
    R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

struct PreSplit {
  std::string_view name;
  std::string_view regex;
};
constexpr std::array<PreSplit, 23> kPreSplits = {{
    {"llama3", kLlama3Split},       {"llama-v3", kLlama3Split},
    {"llama-bpe", kLlama3Split},    {"falcon3", kLlama3Split},
    {"falcon-h1", kLlama3Split},    {"pixtral", kLlama3Split},
    {"midm-2.0", kLlama3Split},     {"lfm2", kLlama3Split},
    {"jina-v5-nano", kLlama3Split}, {"dbrx", kLlama3Split},
    {"smaug-bpe", kLlama3Split},    {"tekken", kTekkenSplit},
    {"qwen2", kQwen2Split},         {"deepseek-r1-qwen", kQwen2Split},
    {"kormo", kQwen2Split},         {"f2llmv2", kQwen2Split},
    {"megrez", kQwen2Split},        {"qwen35", kQwen35Split},
    {"gpt-4o", kGpt4oSplit},        {"llama4", kGpt4oSplit},
    {"kanana2", kGpt4oSplit},       {"talkie", kGpt4oSplit},
    {"minimax-m2", kGpt4oSplit},
}};

// Pre types that keep GPT-2's ByteLevel regex ("" and absent too).
constexpr std::array<std::string_view, 2> kGpt2Pres = {"default", "gpt2"};
// SmolLM2's own pre-tokenizer (its tokenizer.json, llama.cpp's "smollm").
constexpr std::string_view kSmolLmPre = "smollm";

std::string KnownPreTypes() {
  std::string out;
  for (std::string_view name : kGpt2Pres) out += std::string(name) + ", ";
  out += std::string(kSmolLmPre);
  for (const PreSplit& p : kPreSplits) out += ", " + std::string(p.name);
  return out;
}

Json ByteLevelJson(bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", false},
          {"trim_offsets", true},
          {"use_regex", use_regex}};
}

// The pre-tokenizer of a byte-level vocabulary; nullopt for an unknown pre.
std::optional<Json> ByteLevelPreTokenizer(const std::string& pre) {
  if (pre.empty() || std::find(kGpt2Pres.begin(), kGpt2Pres.end(), pre) != kGpt2Pres.end()) {
    return ByteLevelJson(true);
  }
  if (pre == kSmolLmPre) {
    return Json{{"type", "Sequence"},
                {"pretokenizers",
                 {{{"type", "Digits"}, {"individual_digits", true}}, ByteLevelJson(true)}}};
  }
  for (const PreSplit& p : kPreSplits) {
    if (p.name != pre) continue;
    return Json{{"type", "Sequence"},
                {"pretokenizers",
                 {{{"type", "Split"},
                   {"pattern", {{"Regex", std::string(p.regex)}}},
                   {"behavior", "Isolated"},
                   {"invert", false}},
                  ByteLevelJson(false)}}};
  }
  return std::nullopt;
}

// Whether every character of `token` is in the byte-level alphabet.
bool IsByteLevelSpelled(std::string_view token) {
  for (size_t i = 0; i < token.size();) {
    if (hf::ByteLevelByte(hf::NextCodePoint(token, &i)) < 0) return false;
  }
  return true;
}

size_t CodePointCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) hf::NextCodePoint(s, &i);
  return n;
}

// transformers' generate_merges(vocab, scores): every split of every token
// into two tokens, ordered by the token's score (highest first), then by the
// lengths of the left and right parts (longest first), ties kept in order
// (tokens in file order, the splits of one token by the ids of their parts).
std::vector<std::pair<std::string_view, std::string_view>> MergesFromScores(
    const std::vector<std::string>& tokens, const std::vector<double>& scores,
    const hf::TokenMap& vocab) {
  // Python's dict(zip(tokens, scores)): a token given twice keeps its first
  // place and its last score.
  hf::TokenMap first;
  std::vector<size_t> order;
  std::vector<double> score_of(tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    auto [it, inserted] = first.emplace(tokens[i], static_cast<int32_t>(i));
    if (inserted) order.push_back(i);
    score_of[static_cast<size_t>(it->second)] = scores[i];
  }
  struct Merge {
    std::string_view left, right;
    double score;
    size_t left_len, right_len;
    int32_t left_id, right_id;
  };
  std::vector<Merge> merges;
  std::vector<Merge> local;
  for (size_t i : order) {
    const std::string_view token = tokens[i];
    local.clear();
    size_t left_len = 0;
    for (size_t cut = 0; cut < token.size();) {
      hf::NextCodePoint(token, &cut);
      ++left_len;
      if (cut >= token.size()) break;
      const std::string_view left = token.substr(0, cut);
      const std::string_view right = token.substr(cut);
      const auto l = vocab.find(left);
      if (l == vocab.end()) continue;
      const auto r = vocab.find(right);
      if (r == vocab.end()) continue;
      local.push_back({left, right, score_of[i], left_len, 0, l->second, r->second});
    }
    std::stable_sort(local.begin(), local.end(), [](const Merge& a, const Merge& b) {
      return std::pair(a.left_id, a.right_id) < std::pair(b.left_id, b.right_id);
    });
    for (Merge& m : local) {
      m.right_len = CodePointCount(m.right);
      merges.push_back(m);
    }
  }
  std::stable_sort(merges.begin(), merges.end(), [](const Merge& a, const Merge& b) {
    if (a.score != b.score) return a.score > b.score;
    if (a.left_len != b.left_len) return a.left_len > b.left_len;
    return a.right_len > b.right_len;
  });
  std::vector<std::pair<std::string_view, std::string_view>> out;
  out.reserve(merges.size());
  for (const Merge& m : merges) out.emplace_back(m.left, m.right);
  return out;
}

class Builder {
 public:
  explicit Builder(const gguf::GgufFile& file) : file_(file), path_(file.path()) {}

  StatusOr<std::unique_ptr<Tokenizer>> Build() {
    COMPASS_RETURN_IF_ERROR(ReadModelType());
    COMPASS_RETURN_IF_ERROR(ReadTokens());
    COMPASS_RETURN_IF_ERROR(ReadSpecialIds());
    COMPASS_RETURN_IF_ERROR(BuildVocab());
    Json doc = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr}};
    Json model = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", nullptr},
                  {"fuse_unk", !byte_level_},
                  {"byte_fallback", !byte_level_},
                  {"ignore_merges", false}};
    if (byte_level_) {
      model["continuing_subword_prefix"] = "";
      model["end_of_word_suffix"] = "";
    }
    model["vocab"] = std::move(vocab_json_);
    COMPASS_ASSIGN_OR_RETURN(model["merges"], Merges());
    doc["model"] = std::move(model);
    COMPASS_RETURN_IF_ERROR(SetPipeline(&doc));
    doc["added_tokens"] = AddedTokens();

    auto created = hf::HfTokenizer::Create(doc, nullptr, path_, "");
    if (!created.ok()) return created.status();
    std::unique_ptr<hf::HfTokenizer> t = std::move(created).value();
    std::vector<int32_t> eos;
    if (eos_ >= 0) eos.push_back(eos_);
    t->SetIdentity(byte_level_ ? "gguf-bpe-byte-level" : "gguf-bpe", bos_, std::move(eos), pad_,
                   add_bos_ && bos_ >= 0);
    return std::unique_ptr<Tokenizer>(std::move(t));
  }

 private:
  static constexpr std::string_view kModelKey = "tokenizer.ggml.model";
  static constexpr std::string_view kTokensKey = "tokenizer.ggml.tokens";
  static constexpr std::string_view kMergesKey = "tokenizer.ggml.merges";
  static constexpr std::string_view kScoresKey = "tokenizer.ggml.scores";
  static constexpr std::string_view kTypesKey = "tokenizer.ggml.token_type";
  static constexpr std::string_view kPreKey = "tokenizer.ggml.pre";

  std::string Where(std::string_view key) const { return path_ + ": " + std::string(key); }

  static std::string UseTokenizerJson() {
    return "; put the model's tokenizer.json (Hugging Face format) beside the .gguf to use it "
           "instead";
  }

  Status ReadModelType() {
    if (!file_.Has(kModelKey)) {
      return NotFound(Where(kModelKey) + " is missing: the file describes no tokenizer" +
                      UseTokenizerJson() + ", or set model.tokenizer = \"bytes\"");
    }
    COMPASS_ASSIGN_OR_RETURN(model_type_, file_.GetString(kModelKey));
    if (model_type_ != "gpt2" && model_type_ != "llama") {
      return Unsupported(Where(kModelKey) + " '" + model_type_ +
                         "' is not supported; supported: gpt2 (byte-level BPE), llama "
                         "(SentencePiece-style BPE with byte fallback)" +
                         UseTokenizerJson());
    }
    byte_level_ = model_type_ == "gpt2";
    if (file_.Has("general.architecture")) {
      COMPASS_ASSIGN_OR_RETURN(architecture_, file_.GetString("general.architecture"));
    }
    if (!byte_level_ && architecture_.rfind("gemma", 0) == 0) {
      return Unsupported(Where("general.architecture") + " '" + architecture_ + "' with " +
                         std::string(kModelKey) +
                         " 'llama' is not supported: Gemma's vocabulary is rebuilt differently "
                         "from a GGUF" +
                         UseTokenizerJson());
    }
    if (byte_level_) {
      // llama.cpp reads tokenizer.ggml.pre for BPE vocabularies only; so
      // does this (transformers would also put a split regex in front of a
      // SentencePiece vocabulary, which no file in the wild asks for).
      if (file_.Has(kPreKey)) {
        COMPASS_ASSIGN_OR_RETURN(pre_, file_.GetString(kPreKey));
      }
      auto pre = ByteLevelPreTokenizer(pre_);
      if (!pre) {
        return Unsupported(Where(kPreKey) + " '" + pre_ +
                           "' is not a known pre-tokenizer; known: " + KnownPreTypes() +
                           UseTokenizerJson());
      }
      pre_tokenizer_ = std::move(*pre);
    }
    return Status::Ok();
  }

  Status ReadTokens() {
    if (!file_.Has(kTokensKey)) {
      return NotFound(Where(kTokensKey) + " is missing: the file lists no vocabulary" +
                      UseTokenizerJson());
    }
    COMPASS_ASSIGN_OR_RETURN(tokens_, file_.GetStringArray(kTokensKey));
    if (tokens_.empty()) return InvalidArgument(Where(kTokensKey) + " is empty");
    if (tokens_.size() >= static_cast<size_t>(INT32_MAX)) {
      return InvalidArgument(Where(kTokensKey) + " has more than 2^31-1 entries");
    }
    for (size_t i = 0; i < tokens_.size(); ++i) {
      if (!hf::IsValidUtf8(tokens_[i])) {
        return InvalidArgument(path_ + ": " + std::string(kTokensKey) + "[" + std::to_string(i) +
                               "] is not valid UTF-8");
      }
    }
    if (file_.Has(kTypesKey)) {
      COMPASS_ASSIGN_OR_RETURN(token_types_, file_.GetIntArray(kTypesKey));
      COMPASS_RETURN_IF_ERROR(CheckCount(kTypesKey, token_types_.size()));
    }
    if (file_.Has(kScoresKey)) {
      COMPASS_ASSIGN_OR_RETURN(scores_, file_.GetFloatArray(kScoresKey));
      COMPASS_RETURN_IF_ERROR(CheckCount(kScoresKey, scores_.size()));
    }
    return Status::Ok();
  }

  Status CheckCount(std::string_view key, size_t count) const {
    if (count == tokens_.size()) return Status::Ok();
    return InvalidArgument(Where(key) + " has " + std::to_string(count) + " entries but " +
                           std::string(kTokensKey) + " has " + std::to_string(tokens_.size()) +
                           "; there must be one per token");
  }

  StatusOr<int32_t> SpecialId(std::string_view key) const {
    if (!file_.Has(key)) return -1;
    COMPASS_ASSIGN_OR_RETURN(const int64_t id, file_.GetInt(key));
    if (id < 0 || static_cast<uint64_t>(id) >= tokens_.size()) {
      return InvalidArgument(
          Where(key) + " is " + std::to_string(id) + ", outside the vocabulary (ids 0.." +
          std::to_string(tokens_.size() - 1) + " of " + std::string(kTokensKey) + ")");
    }
    return static_cast<int32_t>(id);
  }

  Status ReadSpecialIds() {
    COMPASS_ASSIGN_OR_RETURN(bos_, SpecialId("tokenizer.ggml.bos_token_id"));
    COMPASS_ASSIGN_OR_RETURN(eos_, SpecialId("tokenizer.ggml.eos_token_id"));
    COMPASS_ASSIGN_OR_RETURN(unk_, SpecialId("tokenizer.ggml.unknown_token_id"));
    COMPASS_ASSIGN_OR_RETURN(pad_, SpecialId("tokenizer.ggml.padding_token_id"));
    // Absent: transformers adds BOS for SentencePiece vocabularies (as
    // llama.cpp does) and none for byte-level ones.
    add_bos_ = !byte_level_;
    if (file_.Has("tokenizer.ggml.add_bos_token")) {
      COMPASS_ASSIGN_OR_RETURN(add_bos_, file_.GetBool("tokenizer.ggml.add_bos_token"));
    }
    return Status::Ok();
  }

  // The vocabulary as tokenizer.json spells it: byte-level vocabularies in
  // the byte-level alphabet (a token the file spells otherwise, e.g. with a
  // plain space, is respelled from its UTF-8 bytes, as transformers does).
  // A token given twice keeps the later id, as a Python dict does.
  Status BuildVocab() {
    spelled_.resize(tokens_.size());
    vocab_.reserve(tokens_.size());
    vocab_json_ = Json::object();
    for (size_t i = 0; i < tokens_.size(); ++i) {
      const std::string& t = tokens_[i];
      spelled_[i] = byte_level_ && !IsByteLevelSpelled(t) ? hf::ToByteLevel(t) : t;
      vocab_[spelled_[i]] = static_cast<int32_t>(i);
      vocab_json_[spelled_[i]] = static_cast<int32_t>(i);
    }
    return Status::Ok();
  }

  StatusOr<Json> Merges() {
    Json out = Json::array();
    if (file_.Has(kMergesKey)) {
      COMPASS_ASSIGN_OR_RETURN(const std::vector<std::string> merges,
                               file_.GetStringArray(kMergesKey));
      out.get_ref<Json::array_t&>().reserve(merges.size());
      for (size_t i = 0; i < merges.size(); ++i) {
        const std::string& m = merges[i];
        const std::string where =
            path_ + ": " + std::string(kMergesKey) + "[" + std::to_string(i) + "]";
        const size_t space = m.find(' ');
        if (space == std::string::npos || m.find(' ', space + 1) != std::string::npos) {
          return InvalidArgument(where + ": '" + m + "' is not two tokens separated by one space");
        }
        std::string left = m.substr(0, space), right = m.substr(space + 1);
        for (const std::string& part : {left, right, left + right}) {
          if (vocab_.find(part) == vocab_.end()) {
            return InvalidArgument(where + ": '" + m + "' needs the token '" + part +
                                   "', which is not in " + std::string(kTokensKey));
          }
        }
        out.push_back(Json::array({std::move(left), std::move(right)}));
      }
      return out;
    }
    if (byte_level_) {
      return NotFound(Where(kMergesKey) +
                      " is missing: a byte-level ('gpt2') vocabulary needs its merges");
    }
    if (scores_.empty()) {
      return NotFound(Where(kMergesKey) + " and " + std::string(kScoresKey) +
                      " are missing: a 'llama' vocabulary needs its merges, or the scores to "
                      "derive them from");
    }
    const auto merges = MergesFromScores(tokens_, scores_, vocab_);
    out.get_ref<Json::array_t&>().reserve(merges.size());
    for (const auto& [l, r] : merges) out.push_back(Json::array({l, r}));
    return out;
  }

  Status SetPipeline(Json* doc) const {
    if (byte_level_) {
      (*doc)["normalizer"] = nullptr;
      (*doc)["pre_tokenizer"] = pre_tokenizer_;
      (*doc)["post_processor"] = nullptr;
      (*doc)["decoder"] = ByteLevelJson(true);
      return Status::Ok();
    }
    // transformers' LlamaTokenizer: a Metaspace pre-tokenizer that prepends
    // "▁" at the start of the text only (legacy = false); Phi-3 writes the
    // spaces with a normalizer instead.
    if (architecture_ == "phi3") {
      (*doc)["normalizer"] = {
          {"type", "Sequence"},
          {"normalizers",
           {{{"type", "Prepend"}, {"prepend", kMetaspace}},
            {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kMetaspace}}}}};
      (*doc)["pre_tokenizer"] = nullptr;
    } else {
      (*doc)["normalizer"] = nullptr;
      (*doc)["pre_tokenizer"] = {{"type", "Metaspace"},
                                 {"replacement", kMetaspace},
                                 {"prepend_scheme", "first"},
                                 {"split", false}};
    }
    (*doc)["post_processor"] = nullptr;
    (*doc)["decoder"] = {
        {"type", "Sequence"},
        {"decoders",
         {{{"type", "Replace"}, {"pattern", {{"String", kMetaspace}}}, {"content", " "}},
          {{"type", "ByteFallback"}},
          {{"type", "Fuse"}},
          {{"type", "Strip"}, {"content", " "}, {"start", 1u}, {"stop", 0u}}}}};
    return Status::Ok();
  }

  // Control tokens and the named special tokens as special added tokens,
  // user-defined ones as plain added tokens, all matched before the
  // normalizer. In a byte-level vocabulary a token is only added under its
  // file spelling when that is its vocabulary spelling (transformers skips
  // the others, or adds them as new tokens the model does not have; here
  // the named ones keep their ids without being matched in text).
  Json AddedTokens() const {
    std::map<int32_t, std::pair<std::string, bool>> added;  // id -> (content, special)
    auto add = [&](size_t i, bool special) {
      const std::string& t = tokens_[i];
      if (byte_level_ && spelled_[i] != t) return;
      const auto it = vocab_.find(t);
      if (it == vocab_.end() || t.empty()) return;
      auto [slot, inserted] = added.try_emplace(it->second, t, special);
      if (!inserted) slot->second.second = slot->second.second || special;
    };
    for (size_t i = 0; i < token_types_.size(); ++i) {
      if (token_types_[i] == kControl) add(i, true);
    }
    for (size_t i = 0; i < token_types_.size(); ++i) {
      if (token_types_[i] == kUserDefined) add(i, false);
    }
    for (int32_t id : {bos_, eos_, unk_, pad_}) {
      if (id >= 0) add(static_cast<size_t>(id), true);
    }
    Json out = Json::array();
    for (const auto& [id, entry] : added) {
      out.push_back({{"id", id},
                     {"content", entry.first},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", entry.second}});
    }
    return out;
  }

  const gguf::GgufFile& file_;
  const std::string path_;
  std::string model_type_;
  std::string architecture_;
  std::string pre_;
  bool byte_level_ = false;
  Json pre_tokenizer_;
  std::vector<std::string> tokens_;
  std::vector<std::string> spelled_;
  std::vector<int64_t> token_types_;
  std::vector<double> scores_;
  hf::TokenMap vocab_;
  Json vocab_json_;
  int32_t bos_ = -1, eos_ = -1, unk_ = -1, pad_ = -1;
  bool add_bos_ = false;
};

}  // namespace

StatusOr<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const gguf::GgufFile& file) {
  try {
    return Builder(file).Build();
  } catch (const std::exception& e) {  // nlohmann::json or allocation failures
    return Internal(file.path() +
                    ": building the tokenizer from the GGUF metadata failed: " + e.what());
  }
}

StatusOr<std::unique_ptr<Tokenizer>> LoadGgufTokenizer(const std::string& path) {
  COMPASS_ASSIGN_OR_RETURN(const auto file, gguf::GgufFile::Open(path));
  return LoadGgufTokenizer(*file);
}

}  // namespace compass
