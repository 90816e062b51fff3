// sdk::StopMatcher over the host's token byte table against the ABI 1
// reference it replaced: decode the whole continuation after every token
// and search it. On real tokenizer output, at a few hundred random cut
// points, with stop strings that span token boundaries and multi-byte
// characters split over byte-level tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <compass/stop_matcher.hpp>
#include <random>
#include <string>
#include <vector>

#include "tokenizer_fixtures.h"

namespace compass {
namespace {

using tokenizer_fixtures::GetTokenizer;

// Length of the UTF-8 character starting with `lead`; 0 for a continuation
// byte or an invalid lead.
size_t CharLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 0;
}

// Generation-like text: words, numbers, newlines, chat markers, accented
// letters, and CJK, emoji and math letters that GPT-2 has no token for (each
// is split over byte-level tokens).
std::string RandomText(std::mt19937& rng, size_t fragments) {
  static const char* const kFragments[] = {
      "The",   " answer",    " is",      " 42",      ".",      ",",   "\n",        "\n\n",
      " so",   " 7",         " +",       " 5",       " =",     " 12", "Question:", " Answer:",
      " </s>", "<|im_end|>", " café",    " naïve",   " über",  " Ω",  " 日本語",   " 龘",
      "龘",    " 🙂",      "🙂🙂", " 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", " ¿qué?", "  ",  "\t",        " ####",
      " the",  " total",     " of",      " 3.5",
  };
  constexpr size_t kCount = sizeof(kFragments) / sizeof(kFragments[0]);
  std::string text;
  for (size_t i = 0; i < fragments; ++i) text += kFragments[rng() % kCount];
  return text;
}

// The stop index the ABI 1 path gives: the number of tokens generated when
// a stop string first occurs in the decoded continuation, or 0. The
// continuation is decoded after an anchor token and the anchor's text taken
// off, so that it reads as inside a text (SentencePiece-style decoders strip
// the leading space of a text's first token).
size_t BruteForce(const Tokenizer& t, int32_t anchor, const std::vector<int32_t>& gen,
                  const std::vector<std::string>& stops) {
  const std::string head = *t.Decode(&anchor, 1);
  std::vector<int32_t> ids = {anchor};
  for (size_t k = 0; k < gen.size(); ++k) {
    ids.push_back(gen[k]);
    const std::string whole = *t.Decode(ids.data(), ids.size());
    const std::string text = whole.substr(head.size());
    for (const std::string& s : stops) {
      if (!s.empty() && text.find(s) != std::string::npos) return k + 1;
    }
  }
  return 0;
}

size_t Matcher(const sdk::TokenBytes& table, const std::vector<int32_t>& gen,
               const std::vector<std::string>& stops) {
  std::vector<compass_str> views;
  for (const std::string& s : stops) views.push_back({s.data(), s.size()});
  sdk::StopMatcher m(table, views.data(), views.size());
  for (size_t k = 0; k < gen.size(); ++k) {
    if (m.feed(gen[k])) return k + 1;
  }
  return 0;
}

class StopMatcherTest : public ::testing::TestWithParam<std::string> {};

TEST_P(StopMatcherTest, AgreesWithDecodeAndFind) {
  const Tokenizer& t = GetTokenizer(GetParam());
  const std::vector<std::string> bytes = TokenByteTable(t);
  std::vector<compass_str> views;
  for (const std::string& b : bytes) views.push_back({b.data(), b.size()});
  const sdk::TokenBytes table(views.data(), views.size());

  const std::vector<int32_t> anchor_ids = t.Encode("A");
  ASSERT_EQ(anchor_ids.size(), 1u);
  const int32_t anchor = anchor_ids[0];

  std::mt19937 rng(20261201);
  const std::vector<int32_t> stream = t.Encode(RandomText(rng, 3000));
  ASSERT_GT(stream.size(), 2000u);

  int cases = 0;
  int hits = 0;
  int spanning = 0;        // the first match covers more than one token
  int split_char = 0;      // ... and a token boundary falls inside one of its characters
  int no_stop_checks = 0;  // stop strings that never occur
  for (int trial = 0; cases < 400 && trial < 20000; ++trial) {
    // A generation: a window of the stream, cut at a random token where a
    // character starts (as a continuation starts after a prompt). A window
    // opening on a stray piece of a character is not compared: there the
    // decoded text is not the bytes (Hugging Face's ByteFallback decoder
    // turns every byte of a group of byte tokens with an invalid piece into
    // U+FFFD, newlines included), so the ABI 1 path could miss a stop string
    // that the text holds.
    const size_t len = 8 + rng() % 56;
    const size_t start = rng() % (stream.size() - len);
    const std::string& first = bytes[stream[start]];
    if (first.empty() || CharLength(static_cast<unsigned char>(first[0])) == 0) continue;
    const std::vector<int32_t> gen(stream.begin() + start, stream.begin() + start + len);
    // Its bytes, and where each token's bytes end.
    std::string raw;
    std::vector<size_t> ends;
    for (int32_t id : gen) {
      raw += bytes[id];
      ends.push_back(raw.size());
    }
    // A stop string cut from those bytes at character boundaries: 1 to 4
    // whole characters from a random cut point.
    size_t from = rng() % raw.size();
    while (from < raw.size() && CharLength(static_cast<unsigned char>(raw[from])) == 0) ++from;
    if (from >= raw.size()) continue;
    size_t to = from;
    bool valid = true;
    for (size_t chars = 1 + rng() % 4; chars > 0 && to < raw.size(); --chars) {
      const size_t n = CharLength(static_cast<unsigned char>(raw[to]));
      if (n == 0 || to + n > raw.size()) {
        valid = false;
        break;
      }
      for (size_t i = 1; i < n; ++i) {
        if ((static_cast<unsigned char>(raw[to + i]) & 0xC0) != 0x80) valid = false;
      }
      to += n;
    }
    if (!valid || to == from) continue;
    const std::string stop = raw.substr(from, to - from);
    if (stop.find("\xEF\xBF\xBD") != std::string::npos) continue;  // U+FFFD: decode's stand-in

    // With stops that never occur beside it, in random order.
    std::vector<std::string> stops = {"\x01never", stop, "<|not a stop|>"};
    std::shuffle(stops.begin(), stops.end(), rng);
    const size_t expected = BruteForce(t, anchor, gen, stops);
    ASSERT_EQ(Matcher(table, gen, stops), expected)
        << GetParam() << " trial " << trial << " stop \"" << stop << "\" at byte " << from;
    ASSERT_GT(expected, 0u) << "the stop string was cut from the generation";
    ++cases;
    ++hits;

    // Where the first match lies, to count the cases that matter.
    const size_t at = raw.find(stop);
    const auto first_token = std::upper_bound(ends.begin(), ends.end(), at) - ends.begin();
    const auto last_token =
        std::upper_bound(ends.begin(), ends.end(), at + stop.size() - 1) - ends.begin();
    EXPECT_EQ(static_cast<size_t>(last_token) + 1, expected);
    if (last_token > first_token) {
      ++spanning;
      for (auto k = first_token; k < last_token; ++k) {
        const size_t cut = ends[k];  // a token boundary inside the match
        if (cut < raw.size() && (static_cast<unsigned char>(raw[cut]) & 0xC0) == 0x80) {
          ++split_char;
          break;
        }
      }
    }

    // The same generation with only stops that do not occur runs to the end.
    const std::vector<std::string> absent = {"\x01never", "<|not a stop|>", "Question:\x02"};
    ASSERT_EQ(Matcher(table, gen, absent), BruteForce(t, anchor, gen, absent));
    ASSERT_EQ(Matcher(table, gen, absent), 0u);
    ++no_stop_checks;
  }
  EXPECT_EQ(cases, 400);
  EXPECT_EQ(hits, cases);
  EXPECT_GT(spanning, 100) << "stop strings spanning token boundaries";
  EXPECT_GT(split_char, 30) << "stop strings over characters split across byte tokens";
  EXPECT_EQ(no_stop_checks, cases);
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, StopMatcherTest, ::testing::Values("gpt2", "llama2"));

TEST(StopMatcher, CharacterSplitOverByteTokensStopsOnItsLastByte) {
  // GPT-2 has no token for U+9F98: its three bytes are split over tokens.
  // The stop string is found at the token holding the last piece, not
  // before (the decoded text up to an earlier piece ends in U+FFFD).
  const Tokenizer& t = GetTokenizer("gpt2");
  const std::vector<std::string> bytes = TokenByteTable(t);
  std::vector<compass_str> views;
  for (const std::string& b : bytes) views.push_back({b.data(), b.size()});
  const sdk::TokenBytes table(views.data(), views.size());
  const std::vector<int32_t> gen = t.Encode("ok \xE9\xBE\x98 done");
  const std::vector<std::string> stops = {"\xE9\xBE\x98"};
  const int32_t anchor = t.Encode("A")[0];
  const size_t expected = BruteForce(t, anchor, gen, stops);
  ASSERT_GE(expected, 3u);  // "ok", then at least two tokens holding pieces of the character
  EXPECT_EQ(Matcher(table, gen, stops), expected);
  EXPECT_EQ(bytes[gen[expected - 1]].find("\xE9\xBE\x98"), std::string::npos)
      << "the stop token holds only the character's last piece";
}

}  // namespace
}  // namespace compass
