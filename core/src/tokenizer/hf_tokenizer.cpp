#include "tokenizer/hf_tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <optional>

#include "tokenizer/byte_level.h"
#include "tokenizer/utf8.h"

namespace compass::hf {
namespace {

// The id of the special token the post-processor puts first (the BOS a
// model expects), when it puts one there.
std::optional<int32_t> LeadingSpecialToken(const Json& post) {
  const Json* type = FindField(post, "type");
  if (type == nullptr || !type->is_string()) return std::nullopt;
  if (*type == "TemplateProcessing") {
    const Json* single = FindField(post, "single");
    const Json* specials = FindField(post, "special_tokens");
    if (single == nullptr || !single->is_array() || single->empty() || specials == nullptr) {
      return std::nullopt;
    }
    const Json* piece = FindField(single->front(), "SpecialToken");
    const Json* name = piece == nullptr ? nullptr : FindField(*piece, "id");
    if (name == nullptr || !name->is_string()) return std::nullopt;
    const Json* entry = FindField(*specials, name->get<std::string>());
    const Json* ids = entry == nullptr ? nullptr : FindField(*entry, "ids");
    if (ids == nullptr || !ids->is_array() || ids->empty() || !ids->front().is_number_integer()) {
      return std::nullopt;
    }
    return ids->front().get<int32_t>();
  }
  if (*type == "RobertaProcessing" || *type == "BertProcessing") {
    const Json* cls = FindField(post, "cls");
    if (cls != nullptr && cls->is_array() && cls->size() == 2 && (*cls)[1].is_number_integer()) {
      return (*cls)[1].get<int32_t>();
    }
    return std::nullopt;
  }
  if (*type == "Sequence") {
    const Json* list = FindField(post, "processors");
    if (list == nullptr || !list->is_array()) return std::nullopt;
    for (const Json& p : *list) {
      if (auto id = LeadingSpecialToken(p)) return id;
    }
  }
  return std::nullopt;
}

// A special token in tokenizer_config.json: "text", {"content": "text", ...}
// or null. Returns "" for null or absent.
StatusOr<std::string> ConfigToken(const Json& config, std::string_view key) {
  const Json* v = FindField(config, key);
  if (v == nullptr) return std::string();
  if (v->is_string()) return v->get<std::string>();
  if (v->is_object()) {
    const Json* content = FindField(*v, "content");
    if (content != nullptr && content->is_string()) return content->get<std::string>();
  }
  return FieldError(key, "expected a token: a string or {\"content\": \"...\"}");
}

}  // namespace

StatusOr<std::unique_ptr<HfTokenizer>> HfTokenizer::Create(const Json& tokenizer,
                                                           const Json* config,
                                                           const std::string& tokenizer_file,
                                                           const std::string& config_file) {
  auto in_file = [&](const Status& s) { return s.WithContext(tokenizer_file); };
  std::unique_ptr<HfTokenizer> t(new HfTokenizer());
  if (Status s = ExpectObject(tokenizer, "top level"); !s.ok()) return in_file(s);

  const Json* model = FindField(tokenizer, "model");
  if (model == nullptr || !model->is_object()) {
    return in_file(FieldError("model", "missing; a tokenizer.json needs a \"model\" object"));
  }
  auto type = StringField(*model, "type", "model", "");
  if (!type.ok()) return in_file(type.status());
  if (*type != "BPE") {
    const std::string shown = type->empty() ? "(none)" : *type;
    return Unsupported(tokenizer_file + ": tokenizer model type '" + shown +
                       "' is not supported; supported: BPE (byte-level, or SentencePiece-style "
                       "with byte fallback)");
  }
  // "truncation" and "padding" are ignored: a prompt is always encoded whole.

  if (const Json* n = FindField(tokenizer, "normalizer")) {
    auto normalizer = NormalizerFromJson(*n, "normalizer");
    if (!normalizer.ok()) return in_file(normalizer.status());
    t->normalizer_ = std::move(normalizer).value();
  }
  if (const Json* p = FindField(tokenizer, "pre_tokenizer")) {
    auto pre = PreTokenizerFromJson(*p, "pre_tokenizer");
    if (!pre.ok()) return in_file(pre.status());
    t->pre_tokenizer_ = std::move(pre).value();
  }
  auto bpe = BpeModel::FromJson(*model, "model");
  if (!bpe.ok()) return in_file(bpe.status());
  t->model_ = std::move(bpe).value();
  const bool byte_level = t->pre_tokenizer_ != nullptr && t->pre_tokenizer_->DeferByteMapping();
  if (byte_level) t->model_->SetByteLevelInput();
  t->name_ = byte_level ? "hf-bpe-byte-level" : "hf-bpe";
  auto added = AddedVocabulary::FromJson(FindField(tokenizer, "added_tokens"), *t->model_,
                                         t->normalizer_.get(), "added_tokens");
  if (!added.ok()) return in_file(added.status());
  t->added_ = std::move(added).value();
  if (const Json* d = FindField(tokenizer, "decoder")) {
    auto decoder = DecoderFromJson(*d, "decoder");
    if (!decoder.ok()) return in_file(decoder.status());
    t->decoder_ = std::move(decoder).value();
  }
  t->vocab_size_ = static_cast<uint32_t>(std::max(t->model_->max_id(), t->added_->max_id()) + 1);

  int32_t template_bos = -1;
  if (const Json* post = FindField(tokenizer, "post_processor")) {
    template_bos = LeadingSpecialToken(*post).value_or(-1);
  }
  COMPASS_RETURN_IF_ERROR(t->ApplyConfig(config, config_file, tokenizer_file, template_bos));
  return t;
}

Status HfTokenizer::ApplyConfig(const Json* config, const std::string& config_file,
                                const std::string& tokenizer_file, int32_t template_bos) {
  bos_id_ = template_bos;
  add_bos_ = template_bos >= 0;
  if (config == nullptr) return Status::Ok();
  auto in_config = [&](const Status& s) { return s.WithContext(config_file); };
  if (Status s = ExpectObject(*config, "top level"); !s.ok()) return in_config(s);

  auto lookup = [&](std::string_view key, bool required, int32_t* id) -> Status {
    auto token = ConfigToken(*config, key);
    if (!token.ok()) return in_config(token.status());
    if (token->empty()) return Status::Ok();
    const int32_t found = TokenToId(*token);
    if (found < 0) {
      if (!required) return Status::Ok();
      return in_config(FieldError(key, "token '" + *token + "' is not in the vocabulary of " +
                                           tokenizer_file + "; fix the token or remove the key"));
    }
    *id = found;
    return Status::Ok();
  };
  COMPASS_RETURN_IF_ERROR(lookup("bos_token", true, &bos_id_));
  int32_t eos = -1;
  COMPASS_RETURN_IF_ERROR(lookup("eos_token", true, &eos));
  if (eos >= 0) eos_ids_ = {eos};
  // transformers adds a missing pad token on the fly; here it is just absent.
  COMPASS_RETURN_IF_ERROR(lookup("pad_token", false, &pad_id_));

  auto add_bos = BoolField(*config, "add_bos_token", "", add_bos_);
  if (!add_bos.ok()) return in_config(add_bos.status());
  add_bos_ = *add_bos;
  if (add_bos_ && bos_id_ < 0) {
    return in_config(FieldError("add_bos_token", "is true but no bos_token is set; set bos_token"));
  }
  return Status::Ok();
}

void HfTokenizer::SetIdentity(std::string name, int32_t bos_id, std::vector<int32_t> eos_ids,
                              int32_t pad_id, bool add_bos) {
  name_ = std::move(name);
  bos_id_ = bos_id;
  eos_ids_ = std::move(eos_ids);
  pad_id_ = pad_id;
  add_bos_ = add_bos;
}

int32_t HfTokenizer::TokenToId(std::string_view token) const {
  const int32_t id = added_->IdOf(token);
  return id >= 0 ? id : model_->TokenToId(token);
}

std::string HfTokenizer::TokenText(int32_t id) const {
  if (const AddedToken* t = added_->Find(id)) return t->content;
  const std::string* token = model_->IdToToken(id);
  return token == nullptr ? std::string() : *token;
}

std::vector<int32_t> HfTokenizer::DoEncode(std::string_view text, bool parse_special) const {
  // The reference library only takes valid UTF-8 (Python str); invalid
  // bytes are read as U+FFFD, as Python's errors="replace" does.
  std::string repaired;
  if (!IsValidUtf8(text)) {
    repaired = ToValidUtf8Lossy(text);
    text = repaired;
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  std::vector<AddedVocabulary::Segment> segments;
  added_->Split(text, /*in_normalized=*/false, parse_special, &segments);
  for (const auto& seg : segments) {
    if (seg.id >= 0) {
      ids.push_back(seg.id);
    } else if (seg.end > seg.begin) {
      EncodeSegment(text.substr(seg.begin, seg.end - seg.begin), seg.begin == 0, parse_special,
                    &ids);
    }
  }
  return ids;
}

void HfTokenizer::EncodeSegment(std::string_view text, bool at_start, bool parse_special,
                                std::vector<int32_t>* ids) const {
  if (normalizer_ == nullptr) {
    EncodeNormalized(text, at_start, parse_special, ids);
    return;
  }
  std::string normalized(text);
  normalizer_->Normalize(&normalized);
  EncodeNormalized(normalized, at_start, parse_special, ids);
}

void HfTokenizer::EncodeNormalized(std::string_view text, bool at_start, bool parse_special,
                                   std::vector<int32_t>* ids) const {
  auto encode_piece = [&](std::string_view piece, bool) {
    if (!piece.empty()) model_->Tokenize(piece, ids);
  };
  auto pre_tokenize = [&](std::string_view piece, bool start) {
    if (piece.empty()) return;
    if (pre_tokenizer_ == nullptr) {
      encode_piece(piece, start);
    } else {
      pre_tokenizer_->Split(piece, start, encode_piece);
    }
  };
  if (!added_->has_normalized_tokens()) {
    pre_tokenize(text, at_start);
    return;
  }
  std::vector<AddedVocabulary::Segment> segments;
  added_->Split(text, /*in_normalized=*/true, parse_special, &segments);
  for (const auto& seg : segments) {
    if (seg.id >= 0) {
      ids->push_back(seg.id);
    } else {
      pre_tokenize(text.substr(seg.begin, seg.end - seg.begin), at_start && seg.begin == 0);
    }
  }
}

std::string HfTokenizer::TokenBytes(int32_t id) const {
  std::string bytes = Tokenizer::TokenBytes(id);
  // Decoding replaces a lone piece of a multi-byte character with U+FFFD;
  // the raw bytes of such a piece are its byte-fallback byte or its
  // byte-level characters' bytes.
  if (bytes.find("\xEF\xBF\xBD") == std::string::npos || added_->Find(id) != nullptr) return bytes;
  const std::string* piece = model_->IdToToken(id);
  if (piece == nullptr) return bytes;
  unsigned byte = 0;
  if (piece->size() == 6 && std::sscanf(piece->c_str(), "<0x%2X>", &byte) == 1) {
    return std::string(1, static_cast<char>(byte));
  }
  if (auto raw = FromByteLevel(*piece)) return *raw;
  return bytes;
}

StatusOr<std::string> HfTokenizer::Decode(const int32_t* ids, size_t n) const {
  std::vector<std::string> tokens;
  tokens.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    const AddedToken* added = added_->Find(ids[i]);
    const std::string* token = added != nullptr ? &added->decode_form : model_->IdToToken(ids[i]);
    if (token == nullptr) {
      return InvalidArgument("token id " + std::to_string(ids[i]) +
                             " is not in the tokenizer's vocabulary (ids 0.." +
                             std::to_string(vocab_size_ - 1) + ")");
    }
    tokens.push_back(*token);
  }
  if (decoder_ == nullptr) {
    std::string out;
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) out += ' ';
      out += tokens[i];
    }
    return out;
  }
  decoder_->DecodeChain(&tokens);
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

}  // namespace compass::hf
