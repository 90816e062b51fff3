// Encoding and decoding against the reference goldens
// (scripts/goldens/make_tokenizer_goldens.py), on every tokenizer and string.
#include <gtest/gtest.h>

#include <sstream>
#include <thread>

#include "tokenizer_fixtures.h"

namespace compass {
namespace {

using tokenizer_fixtures::FixtureDir;
using tokenizer_fixtures::GetTokenizer;
using tokenizer_fixtures::ReadJsonFile;

const hf::Json& Corpus() {
  static const hf::Json corpus = ReadJsonFile(FixtureDir() / "corpus.json");
  return corpus;
}

const hf::Json& Goldens(const std::string& name) {
  static const hf::Json goldens = ReadJsonFile(FixtureDir() / "goldens.json");
  return goldens.at("tokenizers").at(name);
}

std::string Show(const std::vector<int32_t>& ids) {
  std::ostringstream out;
  for (size_t i = 0; i < ids.size(); ++i) out << (i ? " " : "") << ids[i];
  return out.str();
}

std::vector<int32_t> Ids(const hf::Json& j) {
  return j.get<std::vector<int32_t>>();
}

// The ids of string `i` with special-token text parsed or not.
std::vector<int32_t> GoldenIds(const hf::Json& g, size_t i, bool parse_special) {
  if (!parse_special && g.at("ids_no_special").contains(std::to_string(i))) {
    return Ids(g.at("ids_no_special").at(std::to_string(i)));
  }
  return Ids(g.at("ids").at(i));
}

class GoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  const Tokenizer& tokenizer() { return GetTokenizer(GetParam()); }
  const hf::Json& golden() { return Goldens(GetParam()); }
  bool byte_level() {
    // Lossless: byte-level without a normalizer that rewrites text.
    return GetParam() == "gpt2" || GetParam() == "llama3" || GetParam() == "qwen2";
  }

  void CheckEncode(bool parse_special) {
    const Tokenizer& t = tokenizer();
    const hf::Json& corpus = Corpus();
    int mismatches = 0;
    for (size_t i = 0; i < corpus.size(); ++i) {
      const std::string s = corpus[i].get<std::string>();
      const std::vector<int32_t> expected = GoldenIds(golden(), i, parse_special);
      const std::vector<int32_t> got = t.Encode(s, parse_special);
      if (got != expected && ++mismatches <= 8) {
        ADD_FAILURE() << GetParam() << " string " << i << " " << hf::Json(s).dump()
                      << "\n  expected: " << Show(expected) << "\n  got:      " << Show(got);
      }
    }
    EXPECT_EQ(mismatches, 0) << "of " << corpus.size() << " strings";
  }

  void CheckDecode() {
    const Tokenizer& t = tokenizer();
    const hf::Json& g = golden();
    int mismatches = 0;
    auto check = [&](const std::vector<int32_t>& ids, const std::string& expected) {
      auto got = t.Decode(ids.data(), ids.size());
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      if (*got != expected && ++mismatches <= 8) {
        ADD_FAILURE() << GetParam() << " decoding " << Show(ids)
                      << "\n  expected: " << hf::Json(expected).dump()
                      << "\n  got:      " << hf::Json(*got).dump();
      }
    };
    for (size_t i = 0; i < g.at("ids").size(); ++i) {
      check(Ids(g.at("ids")[i]), g.at("decoded")[i].get<std::string>());
    }
    for (const auto& [i, ids] : g.at("ids_no_special").items()) {
      check(Ids(ids), g.at("decoded_no_special").at(i).get<std::string>());
    }
    for (const hf::Json& c : g.at("decode_cases")) {
      check(Ids(c.at("ids")), c.at("text").get<std::string>());
    }
    EXPECT_EQ(mismatches, 0);
  }

  // Decoding what was encoded gives the text back wherever the reference
  // does: everywhere for byte-level tokenizers.
  void CheckRoundTrip() {
    const Tokenizer& t = tokenizer();
    const hf::Json& corpus = Corpus();
    size_t lossless = 0;
    for (size_t i = 0; i < corpus.size(); ++i) {
      const std::string s = corpus[i].get<std::string>();
      if (golden().at("decoded")[i].get<std::string>() != s) continue;
      ++lossless;
      const auto ids = t.Encode(s);
      EXPECT_EQ(*t.Decode(ids.data(), ids.size()), s) << GetParam() << " string " << i;
    }
    if (byte_level()) EXPECT_EQ(lossless, corpus.size());
  }

  // Token bytes concatenate to the decoded text after the first token (the
  // stop-string contract of compass_backend_config.token_bytes), also where
  // byte-level pieces split a character.
  void CheckTokenBytes() {
    const Tokenizer& t = tokenizer();
    const hf::Json& corpus = Corpus();
    size_t checked = 0;
    for (size_t i = 0; i < corpus.size(); ++i) {
      const auto ids = t.Encode(corpus[i].get<std::string>());
      if (ids.size() < 2) continue;
      const std::string whole = *t.Decode(ids.data(), ids.size());
      const std::string head = *t.Decode(ids.data(), 1);
      if (whole.find("\xEF\xBF\xBD") != std::string::npos || whole.rfind(head, 0) != 0) continue;
      std::string bytes;
      for (size_t k = 1; k < ids.size(); ++k) bytes += t.TokenBytes(ids[k]);
      EXPECT_EQ(bytes, whole.substr(head.size())) << GetParam() << " string " << i;
      ++checked;
    }
    EXPECT_GT(checked, 0u) << GetParam();
    EXPECT_EQ(TokenByteTable(t).size(), t.vocab_size());
  }

  // What the reference's post-processor adds is what the core adds: BOS when
  // add_bos().
  void CheckVocabularyAndBos() {
    const Tokenizer& t = tokenizer();
    EXPECT_EQ(t.vocab_size(), golden().at("vocab_size").get<uint32_t>());
    for (const auto& [text, expected] : golden().at("with_special_tokens").items()) {
      std::vector<int32_t> ids;
      if (t.add_bos()) ids.push_back(t.bos_id());
      const auto body = t.Encode(text);
      ids.insert(ids.end(), body.begin(), body.end());
      EXPECT_EQ(ids, Ids(expected)) << GetParam() << " " << hf::Json(text).dump();
    }
  }
};

// One test per tokenizer (CTest runs each test in its own process, and
// loading is the slow part).
TEST_P(GoldenTest, MatchesReference) {
  {
    SCOPED_TRACE("encode");
    CheckEncode(/*parse_special=*/true);
  }
  {
    SCOPED_TRACE("encode with special-token text as plain text");
    CheckEncode(/*parse_special=*/false);
  }
  {
    SCOPED_TRACE("decode");
    CheckDecode();
  }
  {
    SCOPED_TRACE("round trip");
    CheckRoundTrip();
  }
  {
    SCOPED_TRACE("vocabulary size and BOS");
    CheckVocabularyAndBos();
  }
  {
    SCOPED_TRACE("token bytes");
    CheckTokenBytes();
  }
}

TEST(HfTokenizer, TokenBytesKeepPiecesOfACharacterRaw) {
  // GPT-2 has no token for this character: its three UTF-8 bytes are split
  // over byte-level tokens, each of which decodes alone to U+FFFD; their raw
  // bytes join up to the character.
  const Tokenizer& t = GetTokenizer("gpt2");
  const std::string text = "\xE9\xBE\x98";  // U+9F98
  const auto ids = t.Encode(text);
  ASSERT_GE(ids.size(), 2u);
  std::string bytes;
  for (int32_t id : ids) bytes += t.TokenBytes(id);
  EXPECT_EQ(bytes, text);
  EXPECT_EQ(t.TokenBytes(static_cast<int32_t>(t.vocab_size()) + 5), "");
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, GoldenTest,
                         ::testing::Values("gpt2", "llama2", "llama3", "qwen2", "llama2-metaspace",
                                           "llama3-flags", "llama2-flags", "gpt2-prefix-space",
                                           "llama3-split-behaviors", "llama2-metaspace-split",
                                           "qwen2-nfc", "llama3-nfkc-lowercase"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

TEST(HfTokenizer, Llama2KnownReference) {
  const Tokenizer& t = GetTokenizer("llama2");
  std::vector<int32_t> ids;
  if (t.add_bos()) ids.push_back(t.bos_id());
  for (int32_t id : t.Encode("I believe the meaning of life is")) ids.push_back(id);
  EXPECT_EQ(ids, (std::vector<int32_t>{1, 306, 4658, 278, 6593, 310, 2834, 338}));
}

TEST(HfTokenizer, SpecialTokensFromTokenizerConfig) {
  const Tokenizer& llama2 = GetTokenizer("llama2");  // bos_token as {"content": ...}
  EXPECT_EQ(llama2.bos_id(), 1);
  EXPECT_EQ(llama2.eos_ids(), std::vector<int32_t>{2});
  EXPECT_TRUE(llama2.add_bos());
  EXPECT_EQ(llama2.pad_id(), -1);

  const Tokenizer& gpt2 = GetTokenizer("gpt2");
  EXPECT_EQ(gpt2.bos_id(), 50256);
  EXPECT_EQ(gpt2.eos_ids(), std::vector<int32_t>{50256});
  EXPECT_FALSE(gpt2.add_bos());  // no add_bos_token, and the post-processor adds nothing

  const Tokenizer& llama3 = GetTokenizer("llama3");
  EXPECT_EQ(llama3.bos_id(), 128000);
  EXPECT_EQ(llama3.eos_ids(), std::vector<int32_t>{128001});
  EXPECT_FALSE(llama3.add_bos());  // this file's post-processor is ByteLevel only
  EXPECT_EQ(llama3.vocab_size(), 128256u);

  // Same files with a BOS template post-processor: add_bos defaults to true.
  EXPECT_TRUE(GetTokenizer("llama3-flags").add_bos());
}

TEST(HfTokenizer, TokenText) {
  const Tokenizer& llama3 = GetTokenizer("llama3");
  EXPECT_EQ(llama3.TokenText(279), "Ġthe");
  EXPECT_EQ(llama3.TokenText(128000), "<|begin_of_text|>");
  EXPECT_EQ(llama3.TokenText(-1), "");
  EXPECT_EQ(llama3.TokenText(200000), "");
  const Tokenizer& llama2 = GetTokenizer("llama2");
  EXPECT_EQ(llama2.TokenText(13), "<0x0A>");
  EXPECT_EQ(llama2.TokenText(278), "▁the");
}

TEST(HfTokenizer, SpecialTokenTextCanBePlainText) {
  const Tokenizer& llama3 = GetTokenizer("llama3");
  EXPECT_EQ(llama3.Encode("<|begin_of_text|>"), std::vector<int32_t>{128000});
  const auto plain = llama3.Encode("<|begin_of_text|>", /*parse_special=*/false);
  EXPECT_GT(plain.size(), 1u);
  for (int32_t id : plain) EXPECT_LT(id, 128000);
  EXPECT_EQ(*llama3.Decode(plain.data(), plain.size()), "<|begin_of_text|>");
}

TEST(HfTokenizer, InvalidUtf8IsReadAsReplacementCharacter) {
  for (const char* name : {"llama3", "llama2"}) {
    const Tokenizer& t = GetTokenizer(name);
    EXPECT_EQ(t.Encode("a\xff b\xe4\xb8"), t.Encode("a\uFFFD b\uFFFD")) << name;
  }
}

TEST(HfTokenizer, DecodeRejectsIdsOutsideTheVocabulary) {
  const Tokenizer& t = GetTokenizer("llama3");
  const int32_t ids[] = {9906, 128256};
  const auto decoded = t.Decode(ids, 2);
  ASSERT_FALSE(decoded.ok());
  EXPECT_NE(decoded.status().message().find("128256"), std::string::npos);
  const int32_t negative[] = {-1};
  EXPECT_FALSE(t.Decode(negative, 1).ok());
}

TEST(HfTokenizer, ConcurrentEncodingGivesTheSameIds) {
  const Tokenizer& t = GetTokenizer("llama3");
  const hf::Json& corpus = Corpus();
  std::vector<std::vector<int32_t>> expected;
  for (const auto& s : corpus) expected.push_back(t.Encode(s.get<std::string>()));
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 3; ++round) {
        for (size_t i = 0; i < corpus.size(); ++i) {
          if (t.Encode(corpus[i].get<std::string>()) != expected[i]) ++failures[k];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace compass
