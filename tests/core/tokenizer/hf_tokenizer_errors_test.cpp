// Loading errors: each names the file (and the key) and says what to do.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "tokenizer/tokenizer.h"

namespace compass {
namespace {

class TokenizerFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("compass_tokenizer_errors_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  // A small valid BPE tokenizer.json with the given model members replaced.
  static std::string Tokenizer(const std::string& model_extra,
                               const std::string& merges = R"(["a b"])") {
    return R"({"added_tokens": [{"id": 3, "content": "<s>", "special": true}],
               "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
               "decoder": {"type": "ByteLevel"},
               "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": )" +
           merges + model_extra + "}}";
  }

  Status Load() {
    auto t = LoadTokenizer("auto", dir_.string());
    return t.ok() ? Status::Ok() : t.status();
  }

  std::filesystem::path dir_;
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_F(TokenizerFiles, SmallTokenizerLoadsAndEncodes) {
  Write("tokenizer.json", Tokenizer(""));
  auto t = LoadTokenizer("auto", dir_.string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->Encode("abab<s>a"), (std::vector<int32_t>{2, 2, 3, 0}));
  EXPECT_EQ((*t)->vocab_size(), 4u);
  EXPECT_EQ((*t)->bos_id(), -1);
  EXPECT_FALSE((*t)->add_bos());
}

TEST_F(TokenizerFiles, MergesAsPairsAndAsStringsAgree) {
  Write("tokenizer.json", Tokenizer("", R"([["a", "b"]])"));
  auto t = LoadTokenizer("auto", dir_.string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->Encode("abab"), (std::vector<int32_t>{2, 2}));
}

TEST_F(TokenizerFiles, UnsupportedModelType) {
  Write("tokenizer.json", R"({"model": {"type": "Unigram", "vocab": [["a", 0.0]]}})");
  const Status s = Load();
  EXPECT_EQ(s.code(), COMPASS_UNSUPPORTED);
  EXPECT_PRED2(Contains, s.message(),
               Path("tokenizer.json") +
                   ": tokenizer model type 'Unigram' is not supported; "
                   "supported: BPE (byte-level, or SentencePiece-style with "
                   "byte fallback)");
}

TEST_F(TokenizerFiles, MissingFiles) {
  const Status s = Load();
  EXPECT_EQ(s.code(), COMPASS_NOT_FOUND);
  EXPECT_PRED2(Contains, s.message(), "tokenizer.json is missing");
  auto direct = LoadHfTokenizer(Path("nothing.json"), "");
  ASSERT_FALSE(direct.ok());
  EXPECT_PRED2(Contains, direct.status().message(), Path("nothing.json"));
}

TEST_F(TokenizerFiles, MalformedJsonNamesTheFile) {
  Write("tokenizer.json", R"({"model": {"type": "BPE", )");
  const Status s = Load();
  EXPECT_FALSE(s.ok());
  EXPECT_PRED2(Contains, s.message(), Path("tokenizer.json") + ": not valid JSON");

  // A number beyond double was an exception of another type that escaped
  // (found by fuzz/tokenizer_json_fuzzer.cpp; fuzz/regressions/tokenizer_json/).
  Write("tokenizer.json", Tokenizer(R"(, "dropout": 11e30086)"));
  EXPECT_PRED2(Contains, Load().message(),
               Path("tokenizer.json") + ": not valid JSON: number overflow parsing '11e30086'");

  Write("tokenizer.json", Tokenizer(""));
  Write("tokenizer_config.json", "{\"bos_token\": ");
  const Status c = Load();
  EXPECT_FALSE(c.ok());
  EXPECT_PRED2(Contains, c.message(), Path("tokenizer_config.json") + ": not valid JSON");
}

TEST_F(TokenizerFiles, MergeOfUnknownToken) {
  Write("tokenizer.json", Tokenizer("", R"(["a b", "a c"])"));
  const Status s = Load();
  EXPECT_FALSE(s.ok());
  EXPECT_PRED2(Contains, s.message(), Path("tokenizer.json") + ": model.merges[1]");
  EXPECT_PRED2(Contains, s.message(), "'c', which is not in model.vocab");

  Write("tokenizer.json", Tokenizer("", R"(["b a"])"));  // "ba" is not in the vocabulary
  EXPECT_PRED2(Contains, Load().message(), "the merged token 'ba' is not in model.vocab");

  Write("tokenizer.json", Tokenizer("", R"(["ab"])"));
  EXPECT_PRED2(Contains, Load().message(), "model.merges[0]: 'ab' is not two tokens");
}

// Hugging Face tokenizers refuses a BPE model without `merges` ("Missing
// vocab/merges"); read as no merges it would split every word into
// characters, silently. An empty list is legal there and here.
TEST_F(TokenizerFiles, BpeWithoutMergesIsRefusedNamingTheFile) {
  Write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}}})");
  const Status s = Load();
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_PRED2(Contains, s.message(),
               Path("tokenizer.json") + ": model.merges: required but missing");
  EXPECT_PRED2(Contains, s.message(), "\"merges\": []");

  Write("tokenizer.json", Tokenizer("", "[]"));
  auto t = LoadTokenizer("auto", dir_.string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->Encode("ab"), (std::vector<int32_t>{0, 1}));
}

TEST_F(TokenizerFiles, ConfigTokensMustBeInTheVocabulary) {
  Write("tokenizer.json", Tokenizer(""));
  Write("tokenizer_config.json", R"({"bos_token": "<bos>", "eos_token": "<s>"})");
  const Status s = Load();
  EXPECT_FALSE(s.ok());
  EXPECT_PRED2(Contains, s.message(), Path("tokenizer_config.json") + ": bos_token");
  EXPECT_PRED2(Contains, s.message(), "'<bos>' is not in the vocabulary");

  Write("tokenizer_config.json",
        R"({"bos_token": {"content": "<s>"}, "eos_token": "<s>", "add_bos_token": true})");
  auto t = LoadTokenizer("auto", dir_.string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->bos_id(), 3);
  EXPECT_EQ((*t)->eos_ids(), std::vector<int32_t>{3});
  EXPECT_TRUE((*t)->add_bos());

  Write("tokenizer_config.json", R"({"add_bos_token": "yes"})");
  EXPECT_PRED2(Contains, Load().message(), "add_bos_token: expected true or false");
}

TEST_F(TokenizerFiles, UnsupportedComponentsNameTheKey) {
  Write("tokenizer.json",
        R"({"pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}]},
            "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  EXPECT_PRED2(Contains, Load().message(),
               "pre_tokenizer.pretokenizers[0].type: pre-tokenizer type 'Whitespace' "
               "is not supported");

  Write("tokenizer.json", R"({"normalizer": {"type": "BertNormalizer"},
                             "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  EXPECT_PRED2(Contains, Load().message(), "normalizer.type: normalizer type 'BertNormalizer'");

  Write("tokenizer.json",
        R"({"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "(unclosed"},
                              "behavior": "Isolated"},
            "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})");
  EXPECT_PRED2(Contains, Load().message(), "pre_tokenizer.pattern: regular expression");
}

TEST_F(TokenizerFiles, AddedTokenIdsMustFollowTheVocabulary) {
  Write("tokenizer.json",
        R"({"added_tokens": [{"id": 7, "content": "<x>", "special": true}],
            "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": []}})");
  const Status s = Load();
  EXPECT_FALSE(s.ok());
  EXPECT_PRED2(Contains, s.message(), "added_tokens[0].id: token '<x>' has id 7 here");
  EXPECT_PRED2(Contains, s.message(), "id 2");
}

// Found by fuzz/tokenizer_json_fuzzer.cpp (fuzz/regressions/tokenizer_json/):
// one id of 2e9 in a small vocabulary asked for a 16 GB id table.
TEST_F(TokenizerFiles, SparseIdsBeyondTheVocabularyAreRefused) {
  Write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2000000000},
                                        "merges": ["a b"]}})");
  const Status s = Load();
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_PRED2(Contains, s.message(),
               "model.vocab: the largest id is 2000000000 but there are 3 tokens; ids may leave "
               "at most 1048576 unused");
  // A gap within the bound is accepted.
  Write("tokenizer.json",
        R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 1000}, "merges": ["a b"]}})");
  auto t = LoadTokenizer("auto", dir_.string());
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->vocab_size(), 1001u);
  EXPECT_EQ((*t)->Encode("ab"), (std::vector<int32_t>{1000}));
}

}  // namespace
}  // namespace compass
