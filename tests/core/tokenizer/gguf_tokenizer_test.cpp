// Tokenizers built from GGUF metadata, against the goldens of
// scripts/goldens/make_gguf_tokenizer_goldens.py (transformers building the
// tokenizer from the same files): the real model (SmolLM2, byte-level BPE),
// the Llama-2 SentencePiece fixture, and small files written here for the
// rules and the errors.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf_builder.h"
#include "real_model.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/gguf_tokenizer.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/regex.h"
#include "tokenizer/tokenizer.h"

namespace compass {
namespace {

using hf::Json;
using testing::GgufBuilder;

const std::filesystem::path kSource = COMPASS_SOURCE_DIR;
const std::filesystem::path kFixture =
    kSource / "tests" / "fixtures" / "gguf" / "llama_spm_tokenizer.gguf";

Json ReadJson(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + " is missing");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return Json::parse(buffer.str());
}

const Json& Goldens() {
  static const Json goldens =
      ReadJson(kSource / "tests" / "fixtures" / "gguf" / "tokenizer_goldens.json");
  return goldens;
}

const std::vector<std::string>& Corpus() {
  static const std::vector<std::string> corpus =
      ReadJson(kSource / "tests" / "fixtures" / "tokenizers" / "corpus.json")
          .get<std::vector<std::string>>();
  return corpus;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Whether `text` holds a numeric character (\p{N}: Nd, Nl, No).
bool HasNumeric(const std::string& text) {
  static const auto regex = hf::Regex::Compile(R"(\p{N})");
  return (*regex)->Search(text);
}

std::string Shown(const std::string& text) {
  return Json(text).dump(-1, ' ', true, Json::error_handler_t::replace);
}

// Every metadata entry of `file` copied into a builder, with `key` set to
// the string `value` (added when absent).
GgufBuilder CopyWith(const gguf::GgufFile& file, const std::string& key, const std::string& value) {
  GgufBuilder b;
  bool replaced = false;
  for (const auto& [k, v] : file.metadata()) {
    if (k == key) {
      b.Str(k, value);
      replaced = true;
      continue;
    }
    switch (v.type()) {
      case gguf::ValueType::kString: b.Str(k, v.as_string()); break;
      case gguf::ValueType::kUint32: b.U32(k, static_cast<uint32_t>(*file.GetInt(k))); break;
      case gguf::ValueType::kInt32: b.I32(k, static_cast<int32_t>(*file.GetInt(k))); break;
      case gguf::ValueType::kBool: b.Bool(k, v.as_bool()); break;
      case gguf::ValueType::kArray:
        if (v.element_type() == gguf::ValueType::kString) {
          b.StrArray(k, *file.GetStringArray(k));
        } else if (v.element_type() == gguf::ValueType::kFloat32) {
          const auto d = *file.GetFloatArray(k);
          b.F32Array(k, std::vector<float>(d.begin(), d.end()));
        } else {
          const auto d = *file.GetIntArray(k);
          b.I32Array(k, std::vector<int32_t>(d.begin(), d.end()));
        }
        break;
      default: ADD_FAILURE() << "CopyWith: unexpected type of " << k;
    }
  }
  if (!replaced) b.Str(key, value);
  return b;
}

StatusOr<std::unique_ptr<Tokenizer>> FromBytes(const GgufBuilder& b,
                                               const std::string& name = "test.gguf") {
  auto file = gguf::GgufFile::Parse(name, b.Build());
  if (!file.ok()) return file.status();
  return LoadGgufTokenizer(**file);
}

// Checks `t` against the goldens of `name`: ids and decoded text of every
// corpus string, and the special ids. Returns how many strings matched.
size_t ExpectGoldens(const Tokenizer& t, const std::string& name) {
  const Json& g = Goldens().at("files").at(name);
  const auto& corpus = Corpus();
  EXPECT_EQ(g.at("ids").size(), corpus.size());
  EXPECT_EQ(t.vocab_size(), g.at("vocab_size").get<uint32_t>());
  EXPECT_EQ(t.bos_id(), g.at("bos_id").get<int32_t>());
  EXPECT_EQ(t.eos_ids(), std::vector<int32_t>{g.at("eos_id").get<int32_t>()});
  EXPECT_EQ(t.pad_id(), g.at("pad_id").get<int32_t>());
  EXPECT_EQ(t.add_bos(), g.at("add_bos").get<bool>());
  size_t equal = 0;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const auto expected = g.at("ids")[i].get<std::vector<int32_t>>();
    const auto ids = t.Encode(corpus[i]);
    EXPECT_EQ(ids, expected) << name << " string " << i << ": " << Shown(corpus[i]);
    auto decoded = t.Decode(ids.data(), ids.size());
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(decoded.ok() ? *decoded : "", g.at("decoded")[i].get<std::string>())
        << name << " string " << i << ": " << Shown(corpus[i]);
    if (ids == expected) ++equal;
  }
  return equal;
}

TEST(GgufTokenizer, SmolLM2MatchesItsOwnTokenizer) {
  const std::string path = testing::RealModelPath();
  if (path.empty()) FAIL() << testing::kRealModelHint;
  auto t = LoadGgufTokenizer(path);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->name(), "gguf-bpe-byte-level");
  EXPECT_EQ(ExpectGoldens(**t, "smollm2"), Corpus().size());

  // transformers as it is differs only where SmolLM2's own pre-tokenizer
  // splits off a digit that GPT-2's regex keeps with a space or other digits.
  const Json& g = Goldens().at("files").at("smollm2");
  const Json& as_is = g.at("transformers_ids");
  EXPECT_FALSE(as_is.empty());
  for (const auto& [index, ids] : as_is.items()) {
    const size_t i = std::stoul(index);
    EXPECT_NE(ids, g.at("ids")[i]) << i;
    EXPECT_TRUE(HasNumeric(Corpus()[i])) << "string " << i << " " << Shown(Corpus()[i])
                                         << " differs from transformers without a digit";
  }

  // Byte-level: decoding gives back every text, with and without special
  // tokens read as such, except for the bytes SmolLM2's vocabulary has no
  // token for (0x04, 0x06, 0x13, 0x14, 0x16, 0x1D and bytes that cannot
  // occur in UTF-8 text), which BPE drops, as it does in transformers.
  std::string missing;
  for (int b = 0; b < 256; ++b) missing.push_back(static_cast<char>(b));
  for (uint32_t id = 0; id < (*t)->vocab_size(); ++id) {
    const std::string bytes = (*t)->TokenBytes(static_cast<int32_t>(id));
    if (bytes.size() == 1) missing.erase(missing.find(bytes[0]), 1);
  }
  EXPECT_EQ(missing,
            "\x04\x06\x13\x14\x16\x1D\xC0\xC1\xF1\xF2\xF5\xF6\xF7\xF8\xF9\xFA\xFB\xFC\xFD\xFE\xFF");
  size_t exact = 0;
  for (const std::string& text : Corpus()) {
    std::string kept = text;
    std::erase_if(kept, [&](char c) { return missing.find(c) != std::string::npos; });
    exact += kept == text;
    for (bool special : {true, false}) {
      const auto ids = (*t)->Encode(text, special);
      auto decoded = (*t)->Decode(ids.data(), ids.size());
      ASSERT_TRUE(decoded.ok());
      EXPECT_EQ(*decoded, kept);
    }
  }
  EXPECT_EQ(exact, Corpus().size() - 1);
  EXPECT_EQ((*t)->TokenText(1), "<|im_start|>");
  EXPECT_EQ((*t)->TokenText(2), "<|im_end|>");
  EXPECT_EQ((*t)->Encode("<|im_end|>"), std::vector<int32_t>{2});
  EXPECT_NE((*t)->Encode("<|im_end|>", false), std::vector<int32_t>{2});
}

TEST(GgufTokenizer, LlamaSentencePieceFixture) {
  auto t = LoadTokenizer("auto", kFixture.string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->name(), "gguf-bpe");
  EXPECT_EQ(ExpectGoldens(**t, "llama_spm"), Corpus().size());
  // The published reference, with BOS.
  EXPECT_EQ((*t)->Encode("I believe the meaning of life is"),
            (std::vector<int32_t>{306, 4658, 278, 6593, 310, 2834, 338}));
  EXPECT_EQ((*t)->bos_id(), 1);
  EXPECT_TRUE((*t)->add_bos());
  // Decoding gives back texts that do not start with a space.
  for (const char* text : {"Hello world", "a\n\tb", "中文 🙂", "<s>x</s>"}) {
    const auto ids = (*t)->Encode(text);
    EXPECT_EQ(*(*t)->Decode(ids.data(), ids.size()), text);
  }
}

TEST(GgufTokenizer, Phi3Layout) {
  auto fixture = gguf::GgufFile::Open(kFixture.string());
  ASSERT_TRUE(fixture.ok()) << fixture.status().ToString();
  auto t = FromBytes(CopyWith(**fixture, "general.architecture", "phi3"));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(ExpectGoldens(**t, "llama_spm_phi3"), Corpus().size());
}

TEST(GgufTokenizer, TokenizerJsonBesideTheFileWins) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("compass_gguf_tokenizer_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto gguf_path = dir / "model.gguf";
  std::filesystem::copy_file(kFixture, gguf_path);
  {
    auto t = LoadTokenizer("auto", gguf_path.string());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ((*t)->name(), "gguf-bpe");
    EXPECT_EQ((*t)->vocab_size(), 32000u);
  }
  const auto gpt2 = kSource / "tests" / "fixtures" / "tokenizers" / "gpt2";
  std::filesystem::copy_file(gpt2 / "tokenizer.json", dir / "tokenizer.json");
  {
    auto t = LoadTokenizer("auto", gguf_path.string());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ((*t)->name(), "hf-bpe-byte-level");
    EXPECT_EQ((*t)->vocab_size(), 50257u);
    EXPECT_EQ((*t)->bos_id(), -1);  // no tokenizer_config.json yet
  }
  std::filesystem::copy_file(gpt2 / "tokenizer_config.json", dir / "tokenizer_config.json");
  {
    auto t = LoadTokenizer("auto", gguf_path.string());
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    EXPECT_EQ((*t)->bos_id(), 50256);
  }
  EXPECT_EQ((*LoadTokenizer("bytes", gguf_path.string()))->name(), "bytes");
  std::filesystem::remove_all(dir);

  auto missing = LoadTokenizer("auto", (dir / "absent.gguf").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), COMPASS_NOT_FOUND);
  EXPECT_PRED2(Contains, missing.status().message(), (dir / "absent.gguf").string());
}

// A small byte-level vocabulary: the 256 byte characters (id = byte), then
// "Ġt" 256, "he" 257, "Ġthe" 258, "hello" 259, then `extra` (from 260).
GgufBuilder SmallByteLevel(const std::vector<std::pair<std::string, int32_t>>& extra = {},
                           const std::string& pre = "",
                           const std::vector<std::string>& merges = {"\xC4\xA0 t", "h e",
                                                                     "\xC4\xA0t he"}) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(hf::ByteLevelChar(static_cast<uint8_t>(b)));
  for (const char* t : {"\xC4\xA0t", "he", "\xC4\xA0the", "hello"}) tokens.push_back(t);
  std::vector<int32_t> types(tokens.size(), 1);
  for (const auto& [t, type] : extra) {
    tokens.push_back(t);
    types.push_back(type);
  }
  GgufBuilder b;
  b.Str("general.architecture", "llama").Str("tokenizer.ggml.model", "gpt2");
  if (!pre.empty()) b.Str("tokenizer.ggml.pre", pre);
  b.StrArray("tokenizer.ggml.tokens", tokens)
      .I32Array("tokenizer.ggml.token_type", types)
      .StrArray("tokenizer.ggml.merges", merges);
  return b;
}

TEST(GgufTokenizer, AddedTokensFollowTheTokenTypes) {
  // As transformers builds it (checked with 5.24): control tokens and the
  // named bos/eos are special, user-defined ones plain added tokens; tokens
  // spelled outside the byte-level alphabet are not matched whole.
  auto b = SmallByteLevel({{"<ctl>", 3}, {"<usr>", 4}, {"<ctl sp>", 3}, {"<usr sp>", 4}});
  b.U32("tokenizer.ggml.bos_token_id", 258)
      .U32("tokenizer.ggml.eos_token_id", 259)
      .U32("tokenizer.ggml.padding_token_id", 262);
  auto t = FromBytes(b);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->vocab_size(), 264u);
  EXPECT_EQ((*t)->Encode("hello the<ctl> <usr>x"),
            (std::vector<int32_t>{259, 258, 260, 32, 261, 120}));
  // Special-token text as plain text: the user-defined token still matches.
  EXPECT_EQ((*t)->Encode("<ctl><usr>", false),
            (std::vector<int32_t>{'<', 'c', 't', 'l', '>', 261}));
  // The respelled token keeps its id and bytes but is not matched in text.
  EXPECT_EQ((*t)->pad_id(), 262);
  EXPECT_EQ((*t)->TokenText(262), "<ctl\xC4\xA0sp>");
  EXPECT_EQ((*t)->TokenBytes(262), "<ctl sp>");
  EXPECT_EQ((*t)->Encode("<ctl sp>").size(), 8u);
  EXPECT_EQ((*t)->bos_id(), 258);
  EXPECT_EQ((*t)->eos_ids(), std::vector<int32_t>{259});
  EXPECT_FALSE((*t)->add_bos());
}

TEST(GgufTokenizer, AddBosDefaultsAndFlag) {
  auto gpt2 = SmallByteLevel({{"<s>", 3}});
  gpt2.U32("tokenizer.ggml.bos_token_id", 260);
  EXPECT_FALSE((*FromBytes(gpt2))->add_bos());
  gpt2.Bool("tokenizer.ggml.add_bos_token", true);
  EXPECT_TRUE((*FromBytes(gpt2))->add_bos());

  auto fixture = gguf::GgufFile::Open(kFixture.string());
  ASSERT_TRUE(fixture.ok());
  auto llama = CopyWith(**fixture, "general.name", "x");
  EXPECT_TRUE((*FromBytes(llama))->add_bos());
  llama.Bool("tokenizer.ggml.add_bos_token", false);
  EXPECT_FALSE((*FromBytes(llama))->add_bos());
}

TEST(GgufTokenizer, PreTokenizers) {
  // " 1": GPT-2's regex keeps the space with the digit; SmolLM2's splits
  // every digit off; Llama-3's puts digits apart from the space.
  const std::string space_one =
      "\xC4\xA0"
      "1";
  auto with_pre = [&](const std::string& pre) {
    auto t = FromBytes(SmallByteLevel({{space_one, 1}}, pre, {"\xC4\xA0 1"}));
    EXPECT_TRUE(t.ok()) << pre << ": " << t.status().ToString();
    return t.ok() ? (*t)->Encode("a 12") : std::vector<int32_t>{};
  };
  EXPECT_EQ(with_pre(""), (std::vector<int32_t>{'a', 260, '2'}));
  EXPECT_EQ(with_pre("default"), (std::vector<int32_t>{'a', 260, '2'}));
  EXPECT_EQ(with_pre("gpt2"), (std::vector<int32_t>{'a', 260, '2'}));
  EXPECT_EQ(with_pre("smollm"), (std::vector<int32_t>{'a', ' ', '1', '2'}));
  EXPECT_EQ(with_pre("llama-bpe"), (std::vector<int32_t>{'a', ' ', '1', '2'}));
  // Every pre type transformers knows builds (its regex compiles).
  for (const char* pre : {"llama3",    "llama-v3", "llama-bpe", "falcon3",          "falcon-h1",
                          "pixtral",   "midm-2.0", "lfm2",      "jina-v5-nano",     "dbrx",
                          "smaug-bpe", "tekken",   "qwen2",     "deepseek-r1-qwen", "kormo",
                          "f2llmv2",   "megrez",   "qwen35",    "gpt-4o",           "llama4",
                          "kanana2",   "talkie",   "minimax-m2"}) {
    auto t = FromBytes(SmallByteLevel({}, pre));
    ASSERT_TRUE(t.ok()) << pre << ": " << t.status().ToString();
    EXPECT_EQ((*t)->Encode(" the the"), (std::vector<int32_t>{258, 258})) << pre;
  }
}

TEST(GgufTokenizer, DigitsPreTokenizer) {
  // Checked against tokenizers: individual digits, or runs of them.
  auto make = [](bool individual) {
    const Json doc = {{"model",
                       {{"type", "BPE"},
                        {"vocab",
                         {{"1", 0},
                          {"2", 1},
                          {"12", 2},
                          {"a", 3},
                          {"\xC4\xA0", 4},
                          {"\xC4\xA0"
                           "1",
                           5}}},
                        {"merges", Json::array({"1 2", "\xC4\xA0 1"})}}},
                      {"pre_tokenizer",
                       {{"type", "Sequence"},
                        {"pretokenizers",
                         {{{"type", "Digits"}, {"individual_digits", individual}},
                          {{"type", "ByteLevel"}, {"add_prefix_space", false}}}}}}};
    return hf::HfTokenizer::Create(doc, nullptr, "digits.json", "");
  };
  const std::string text =
      "a12 12a\xD9\xA3"
      "1 1";  // U+0663 ARABIC-INDIC DIGIT THREE
  auto individual = make(true);
  ASSERT_TRUE(individual.ok()) << individual.status().ToString();
  EXPECT_EQ((*individual)->Encode(text), (std::vector<int32_t>{3, 0, 1, 4, 0, 1, 3, 0, 4, 0}));
  auto runs = make(false);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ((*runs)->Encode(text), (std::vector<int32_t>{3, 2, 4, 2, 3, 0, 4, 0}));
}

// Errors: each names the file and the key.
Status LoadError(const GgufBuilder& b) {
  auto t = FromBytes(b, "broken.gguf");
  return t.ok() ? Status::Ok() : t.status();
}

TEST(GgufTokenizerErrors, UnsupportedModel) {
  GgufBuilder b;
  b.Str("tokenizer.ggml.model", "bert").StrArray("tokenizer.ggml.tokens", {"a"});
  const Status s = LoadError(b);
  EXPECT_EQ(s.code(), COMPASS_UNSUPPORTED);
  EXPECT_PRED2(Contains, s.message(),
               "broken.gguf: tokenizer.ggml.model 'bert' is not supported; supported: gpt2 "
               "(byte-level BPE), llama (SentencePiece-style BPE with byte fallback)");
  EXPECT_PRED2(Contains, s.message(), "tokenizer.json");
}

TEST(GgufTokenizerErrors, MissingModel) {
  GgufBuilder b;
  b.Str("general.architecture", "llama");
  const Status s = LoadError(b);
  EXPECT_EQ(s.code(), COMPASS_NOT_FOUND);
  EXPECT_PRED2(Contains, s.message(), "broken.gguf: tokenizer.ggml.model is missing");
}

TEST(GgufTokenizerErrors, UnknownPre) {
  const Status s = LoadError(SmallByteLevel({}, "mystery"));
  EXPECT_EQ(s.code(), COMPASS_UNSUPPORTED);
  EXPECT_PRED2(Contains, s.message(),
               "broken.gguf: tokenizer.ggml.pre 'mystery' is not a known pre-tokenizer; known: "
               "default, gpt2, smollm, llama3,");
  EXPECT_PRED2(Contains, s.message(), "qwen2");
  EXPECT_PRED2(Contains, s.message(), "put the model's tokenizer.json");
}

TEST(GgufTokenizerErrors, MissingTokens) {
  GgufBuilder b;
  b.Str("tokenizer.ggml.model", "gpt2").StrArray("tokenizer.ggml.merges", {"a b"});
  const Status s = LoadError(b);
  EXPECT_EQ(s.code(), COMPASS_NOT_FOUND);
  EXPECT_PRED2(Contains, s.message(), "broken.gguf: tokenizer.ggml.tokens is missing");
}

TEST(GgufTokenizerErrors, TokensOfTheWrongType) {
  GgufBuilder b;
  b.Str("tokenizer.ggml.model", "gpt2").I32Array("tokenizer.ggml.tokens", {1, 2});
  const Status s = LoadError(b);
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_PRED2(Contains, s.message(), "broken.gguf");
  EXPECT_PRED2(Contains, s.message(), "tokenizer.ggml.tokens");
}

TEST(GgufTokenizerErrors, TokenTypeCountMismatch) {
  GgufBuilder c;
  c.Str("tokenizer.ggml.model", "llama")
      .StrArray("tokenizer.ggml.tokens", {"a", "b", "ab"})
      .I32Array("tokenizer.ggml.token_type", {1, 1})
      .F32Array("tokenizer.ggml.scores", {0, 0, 0});
  const Status s = LoadError(c);
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_PRED2(Contains, s.message(),
               "broken.gguf: tokenizer.ggml.token_type has 2 entries but tokenizer.ggml.tokens "
               "has 3");
}

TEST(GgufTokenizerErrors, ScoreCountMismatch) {
  GgufBuilder b;
  b.Str("tokenizer.ggml.model", "llama")
      .StrArray("tokenizer.ggml.tokens", {"a", "b", "ab"})
      .F32Array("tokenizer.ggml.scores", {0, 0, 0, 0});
  const Status s = LoadError(b);
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_PRED2(Contains, s.message(),
               "broken.gguf: tokenizer.ggml.scores has 4 entries but tokenizer.ggml.tokens has 3");
}

TEST(GgufTokenizerErrors, BosOutOfRange) {
  auto b = SmallByteLevel();
  b.U32("tokenizer.ggml.bos_token_id", 999);
  const Status s = LoadError(b);
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_PRED2(Contains, s.message(),
               "broken.gguf: tokenizer.ggml.bos_token_id is 999, outside the vocabulary (ids "
               "0..259 of tokenizer.ggml.tokens)");
}

TEST(GgufTokenizerErrors, MergesMissingOrBroken) {
  GgufBuilder b;
  b.Str("tokenizer.ggml.model", "gpt2").StrArray("tokenizer.ggml.tokens", {"a", "b", "ab"});
  Status s = LoadError(b);
  EXPECT_EQ(s.code(), COMPASS_NOT_FOUND);
  EXPECT_PRED2(Contains, s.message(), "broken.gguf: tokenizer.ggml.merges is missing");

  b.StrArray("tokenizer.ggml.merges", {"a b", "b a"});
  s = LoadError(b);
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_PRED2(Contains, s.message(),
               "broken.gguf: tokenizer.ggml.merges[1]: 'b a' needs the token 'ba', which is not "
               "in tokenizer.ggml.tokens");

  GgufBuilder c;
  c.Str("tokenizer.ggml.model", "llama").StrArray("tokenizer.ggml.tokens", {"a", "b", "ab"});
  s = LoadError(c);
  EXPECT_EQ(s.code(), COMPASS_NOT_FOUND);
  EXPECT_PRED2(Contains, s.message(),
               "broken.gguf: tokenizer.ggml.merges and tokenizer.ggml.scores are missing");
}

TEST(GgufTokenizerErrors, GemmaSentencePiece) {
  GgufBuilder b;
  b.Str("general.architecture", "gemma2")
      .Str("tokenizer.ggml.model", "llama")
      .StrArray("tokenizer.ggml.tokens", {"a"})
      .F32Array("tokenizer.ggml.scores", {0});
  const Status s = LoadError(b);
  EXPECT_EQ(s.code(), COMPASS_UNSUPPORTED);
  EXPECT_PRED2(Contains, s.message(), "broken.gguf: general.architecture 'gemma2'");
}

TEST(GgufTokenizer, MergesFromTheFileOrFromScores) {
  // SentencePiece vocabularies: merges from the scores (highest first),
  // unless the file lists them.
  GgufBuilder b;
  b.Str("tokenizer.ggml.model", "llama")
      .StrArray("tokenizer.ggml.tokens", {"\xE2\x96\x81", "a", "b", "c", "ab", "bc"})
      .F32Array("tokenizer.ggml.scores", {0, 0, 0, 0, -2, -1})
      .Bool("tokenizer.ggml.add_bos_token", false);
  auto by_scores = FromBytes(b);
  ASSERT_TRUE(by_scores.ok()) << by_scores.status().ToString();
  EXPECT_EQ((*by_scores)->Encode("abc"), (std::vector<int32_t>{0, 1, 5}));
  b.StrArray("tokenizer.ggml.merges", {"a b", "b c"});
  auto by_file = FromBytes(b);
  ASSERT_TRUE(by_file.ok()) << by_file.status().ToString();
  EXPECT_EQ((*by_file)->Encode("abc"), (std::vector<int32_t>{0, 4, 3}));
}

}  // namespace
}  // namespace compass
