// Scheduler: budgets, chunked prefill, decodes, sibling prefix sharing, the
// logits_from cap, preemption, and a stress test against a fake model whose
// "K/V" is the tokens written into the blocks, so any wrong reuse, overwrite or
// position changes what it generates.
#include "scheduler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "token_lists.h"

namespace compass::paged_tp {
namespace {

// The fake model's next token: a hash of the whole text so far, mod 100.
int32_t NextToken(const std::vector<int32_t>& text) {
  uint64_t h = 1469598103934665603ull;
  for (int32_t t : text) {
    h ^= static_cast<uint32_t>(t);
    h *= 1099511628211ull;
  }
  return static_cast<int32_t>((h >> 17) % 100);
}

bool IsStop(int32_t token) {
  return token < 3;
}

// What an unconstrained model generates for spec.
std::vector<int32_t> Reference(const SequenceSpec& spec) {
  std::vector<int32_t> text = spec.prompt, out;
  while (static_cast<int64_t>(out.size()) < spec.max_new_tokens) {
    const int32_t t = NextToken(text);
    out.push_back(t);
    text.push_back(t);
    if (IsStop(t)) break;
  }
  return out;
}

int64_t Tokens(const Step& step) {
  int64_t n = 0;
  for (const Chunk& c : step.chunks) n += static_cast<int64_t>(c.tokens.size());
  return n;
}

// Drives a scheduler like the engine does, checking every step: budgets, the
// chunk's tokens and start, the K/V it reads (what earlier chunks wrote into
// the blocks it holds), that it writes only its own unshared blocks, and that
// every position whose logits are needed is computed.
class FakeEngine {
 public:
  FakeEngine(int64_t num_blocks, int64_t block_size, bool prefix_caching, SchedulerOptions options)
      : blocks_(num_blocks, block_size, prefix_caching),
        sched_(&blocks_, options),
        options_(options),
        kv_(static_cast<size_t>(num_blocks),
            std::vector<int32_t>(static_cast<size_t>(block_size), -1)) {}

  BlockManager& blocks() { return blocks_; }
  Scheduler& sched() { return sched_; }

  Status Add(const SequenceSpec& spec) {
    Status st = sched_.Add(spec);
    if (st.ok()) {
      specs_[spec.id] = spec;
      text_[spec.id] = spec.prompt;
    }
    return st;
  }

  // One Schedule / run / Completed / Finish round; returns the step.
  Step RunStep() {
    Step step = sched_.Schedule();
    EXPECT_EQ(step.chunks.empty(), sched_.Empty()) << "an empty step while work is left";
    EXPECT_LE(static_cast<int64_t>(step.chunks.size()), options_.max_num_seqs);
    EXPECT_LE(Tokens(step), options_.max_batched_tokens);
    EXPECT_LE(sched_.NumRunning(), options_.max_num_seqs);
    max_step_tokens_ = std::max(max_step_tokens_, Tokens(step));
    max_step_chunks_ = std::max<int64_t>(max_step_chunks_, step.chunks.size());
    std::set<SeqId> ids;
    std::map<SeqId, int32_t> next;
    std::vector<SeqId> done;
    const int64_t bs = blocks_.block_size();
    for (const Chunk& c : step.chunks) {
      EXPECT_TRUE(ids.insert(c.id).second) << "sequence " << c.id << " twice in a step";
      EXPECT_FALSE(finished_.count(c.id)) << "finished sequence " << c.id << " scheduled";
      const SequenceSpec& spec = specs_.at(c.id);
      const std::vector<int32_t>& text = text_.at(c.id);
      const int64_t end = c.start + static_cast<int64_t>(c.tokens.size());
      EXPECT_FALSE(c.tokens.empty());
      EXPECT_LE(end, static_cast<int64_t>(text.size()));
      EXPECT_TRUE(std::equal(c.tokens.begin(), c.tokens.end(), text.begin() + c.start))
          << "sequence " << c.id << ": chunk tokens are not its text at " << c.start;
      EXPECT_FALSE(c.decode && c.last_of_prompt);
      if (c.decode) {
        EXPECT_EQ(c.tokens.size(), 1u);
        EXPECT_GE(c.start, static_cast<int64_t>(spec.prompt.size()));
      }
      if (c.last_of_prompt || c.decode) {
        EXPECT_EQ(end, static_cast<int64_t>(text.size()));
      }
      // Without chunked prefill a prefill is never split, unless it is a
      // recomputation that could never fit a step.
      if (!options_.chunked_prefill && !c.decode &&
          static_cast<int64_t>(text.size()) <= options_.max_batched_tokens) {
        EXPECT_TRUE(c.last_of_prompt) << "sequence " << c.id << " split without chunked prefill";
      }
      if (!c.decode) prefill_tokens_ += static_cast<int64_t>(c.tokens.size());
      const std::vector<BlockId>& table = blocks_.Table(c.id);
      EXPECT_GE(static_cast<int64_t>(table.size()) * bs, end);
      // What the model sees: the K/V in the sequence's blocks, then the chunk.
      std::vector<int32_t> seen;
      for (int64_t p = 0; p < c.start; ++p) {
        seen.push_back(kv_[static_cast<size_t>(table[static_cast<size_t>(p / bs)])]
                          [static_cast<size_t>(p % bs)]);
      }
      EXPECT_TRUE(std::equal(seen.begin(), seen.end(), text.begin()))
          << "sequence " << c.id << " reads wrong K/V below " << c.start;
      for (int64_t p = c.start; p < end; ++p) {
        EXPECT_TRUE(blocks_.CanWrite(c.id, p)) << "sequence " << c.id << " writes " << p;
        kv_[static_cast<size_t>(table[static_cast<size_t>(p / bs)])][static_cast<size_t>(p % bs)] =
            c.tokens[static_cast<size_t>(p - c.start)];
        seen.push_back(c.tokens[static_cast<size_t>(p - c.start)]);
        if (p >= spec.logits_from && p < static_cast<int64_t>(spec.prompt.size())) {
          logits_[c.id].insert(p);
        }
      }
      if (!c.last_of_prompt && !c.decode) continue;
      if (spec.max_new_tokens == 0) {
        done.push_back(c.id);
        continue;
      }
      const int32_t t = NextToken(seen);
      auto& gen = generated_[c.id];
      gen.push_back(t);
      text_[c.id].push_back(t);
      const bool finished = static_cast<int64_t>(gen.size()) == spec.max_new_tokens || IsStop(t);
      // Even ids also report their last token; odd ones are only finished.
      if (!finished || c.id % 2 == 0) next[c.id] = t;
      if (finished) done.push_back(c.id);
    }
    sched_.Completed(step, next);
    for (SeqId id : done) {
      sched_.Finish(id);
      EXPECT_TRUE(finished_.insert(id).second) << "sequence " << id << " finished twice";
    }
    return step;
  }

  // Runs until Empty; returns the number of steps (bounded by max_steps).
  int64_t Run(int64_t max_steps) {
    int64_t steps = 0;
    while (!sched_.Empty() && steps < max_steps) {
      RunStep();
      ++steps;
      if (::testing::Test::HasFailure()) break;
    }
    EXPECT_TRUE(sched_.Empty()) << "not done after " << steps << " steps";
    return steps;
  }

  // Every sequence finished once, generated what an unconstrained model does,
  // and had the logits of every needed prompt position computed.
  void CheckAllDone() {
    for (const auto& [id, spec] : specs_) {
      EXPECT_TRUE(finished_.count(id)) << "sequence " << id << " never finished";
      const std::vector<int32_t> want = Reference(spec);
      EXPECT_EQ(generated_[id], want) << "sequence " << id;
      std::vector<int32_t> reported = want;
      if (id % 2 != 0 && !reported.empty()) reported.pop_back();
      EXPECT_EQ(sched_.Generated(id), reported) << "sequence " << id;
      const auto& got = logits_[id];
      for (int64_t p = spec.logits_from; p < static_cast<int64_t>(spec.prompt.size()); ++p) {
        if (!got.count(p)) {
          ADD_FAILURE() << "sequence " << id << ": no logits at " << p;
          break;
        }
      }
    }
    EXPECT_EQ(blocks_.UsedBlocks(), 0);
    EXPECT_EQ(blocks_.AvailableBlocks(), blocks_.num_blocks());
    EXPECT_EQ(sched_.NumRunning(), 0);
    EXPECT_EQ(sched_.NumWaiting(), 0);
    EXPECT_EQ(static_cast<int64_t>(sched_.stats().prompt_tokens_computed), prefill_tokens_);
  }

  const std::vector<int32_t>& generated(SeqId id) { return generated_[id]; }
  int64_t max_step_tokens() const { return max_step_tokens_; }
  int64_t max_step_chunks() const { return max_step_chunks_; }

 private:
  BlockManager blocks_;
  Scheduler sched_;
  SchedulerOptions options_;
  std::vector<std::vector<int32_t>> kv_;  // per block, per slot: the token whose K/V it holds
  std::map<SeqId, SequenceSpec> specs_;
  std::map<SeqId, std::vector<int32_t>> text_, generated_;
  std::map<SeqId, std::set<int64_t>> logits_;
  std::set<SeqId> finished_;
  int64_t prefill_tokens_ = 0, max_step_tokens_ = 0, max_step_chunks_ = 0;
};

SequenceSpec Scoring(SeqId id, std::vector<int32_t> prompt, int64_t logits_from = 0) {
  return {id, std::move(prompt), logits_from, 0};
}

SequenceSpec Generating(SeqId id, std::vector<int32_t> prompt, int64_t max_new) {
  const auto from = static_cast<int64_t>(prompt.size()) - 1;
  return {id, std::move(prompt), from, max_new};
}

TEST(SchedulerTest, AddValidates) {
  BlockManager bm(4, 4, true);
  Scheduler s(&bm, {});
  EXPECT_TRUE(s.Add(Scoring(1, {1, 2, 3})).ok());
  Status st = s.Add(Scoring(1, {4}));
  EXPECT_EQ(st.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(st.message().find("already"), std::string::npos) << st.message();
  EXPECT_EQ(s.Add(Scoring(2, {})).code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(s.Add(Scoring(3, {1, 2}, 2)).code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(s.Add(Scoring(4, {1, 2}, -1)).code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(s.Add({5, {1}, 0, -1}).code(), COMPASS_INVALID_ARGUMENT);
  // 10 prompt + 7 new = 17 tokens = 5 blocks of 4; the cache has 4.
  st = s.Add(Generating(6, Range(0, 10), 7));
  EXPECT_EQ(st.code(), COMPASS_OUT_OF_MEMORY);
  EXPECT_NE(st.message().find("needs 5 KV blocks"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("has 4"), std::string::npos) << st.message();
  EXPECT_TRUE(s.Add(Generating(7, Range(0, 10), 6)).ok());  // exactly 4 blocks
  EXPECT_EQ(s.stats().prompt_tokens_requested, 13u);
  EXPECT_EQ(s.NumWaiting(), 2);

  BlockManager bm2(64, 4, true);
  Scheduler plain(&bm2, {.max_num_seqs = 4, .max_batched_tokens = 8, .chunked_prefill = false});
  EXPECT_TRUE(plain.Add(Scoring(1, Range(0, 8))).ok());
  st = plain.Add(Scoring(2, Range(0, 9)));
  EXPECT_EQ(st.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(st.message().find("max_batched_tokens"), std::string::npos) << st.message();
}

TEST(SchedulerTest, ScoringSequenceIsOneStep) {
  FakeEngine e(8, 4, true, {});
  ASSERT_TRUE(e.Add(Scoring(1, Range(0, 10), 3)).ok());
  EXPECT_FALSE(e.sched().Empty());
  Step step = e.RunStep();
  ASSERT_EQ(step.chunks.size(), 1u);
  EXPECT_EQ(step.chunks[0].start, 0);
  EXPECT_EQ(step.chunks[0].tokens, Range(0, 10));
  EXPECT_TRUE(step.chunks[0].last_of_prompt);
  EXPECT_FALSE(step.chunks[0].decode);
  EXPECT_TRUE(e.sched().Empty());
  EXPECT_TRUE(e.sched().Schedule().chunks.empty());
  e.CheckAllDone();
  EXPECT_EQ(e.sched().stats().steps, 1u);
  EXPECT_EQ(e.blocks().EvictableBlocks(), 2);  // its two full blocks stay cached
}

TEST(SchedulerTest, ChunkedPrefillSplitsAndContinuesAtTheRightStart) {
  FakeEngine e(32, 4, true, {.max_num_seqs = 8, .max_batched_tokens = 32});
  const auto prompt = Range(0, 100);
  ASSERT_TRUE(e.Add(Generating(1, prompt, 2)).ok());
  const int64_t starts[] = {0, 32, 64, 96};
  for (int64_t start : starts) {
    Step step = e.RunStep();
    ASSERT_EQ(step.chunks.size(), 1u);
    const Chunk& c = step.chunks[0];
    EXPECT_EQ(c.start, start);
    const int64_t n = std::min<int64_t>(32, 100 - start);
    EXPECT_EQ(c.tokens, std::vector<int32_t>(prompt.begin() + start, prompt.begin() + start + n));
    EXPECT_EQ(c.last_of_prompt, start == 96);
    EXPECT_FALSE(c.decode);
  }
  Step step = e.RunStep();  // the decode of the first generated token
  ASSERT_EQ(step.chunks.size(), 1u);
  EXPECT_TRUE(step.chunks[0].decode);
  EXPECT_EQ(step.chunks[0].start, 100);
  EXPECT_EQ(step.chunks[0].tokens, std::vector<int32_t>{e.generated(1)[0]});
  e.Run(10);
  e.CheckAllDone();
  EXPECT_EQ(e.sched().stats().prompt_tokens_computed, 100u);
}

TEST(SchedulerTest, WithoutChunkedPrefillAPromptWaitsForRoom) {
  FakeEngine e(64, 4, true,
               {.max_num_seqs = 8, .max_batched_tokens = 30, .chunked_prefill = false});
  ASSERT_TRUE(e.Add(Scoring(1, Range(0, 20))).ok());
  ASSERT_TRUE(e.Add(Scoring(2, Range(100, 20))).ok());
  ASSERT_TRUE(e.Add(Scoring(3, Range(200, 5))).ok());
  Step step = e.RunStep();
  ASSERT_EQ(step.chunks.size(), 1u);  // 2 does not fit beside 1, and 3 does not overtake it
  EXPECT_EQ(step.chunks[0].id, 1);
  EXPECT_EQ(step.chunks[0].tokens.size(), 20u);
  step = e.RunStep();
  ASSERT_EQ(step.chunks.size(), 2u);
  EXPECT_EQ(step.chunks[0].id, 2);
  EXPECT_EQ(step.chunks[1].id, 3);
  EXPECT_TRUE(step.chunks[0].last_of_prompt && step.chunks[1].last_of_prompt);
  e.Run(10);
  e.CheckAllDone();
}

TEST(SchedulerTest, DecodesUntilMaxNewTokensAndGrowsBlocks) {
  BlockManager bm(8, 4, true);
  Scheduler s(&bm, {});
  ASSERT_TRUE(s.Add(Generating(1, Range(0, 6), 3)).ok());
  Step step = s.Schedule();
  ASSERT_EQ(step.chunks.size(), 1u);
  EXPECT_TRUE(step.chunks[0].last_of_prompt);
  EXPECT_EQ(bm.Table(1).size(), 2u);
  s.Completed(step, {{1, 7}});
  EXPECT_EQ(s.Generated(1), std::vector<int32_t>{7});

  step = s.Schedule();
  ASSERT_EQ(step.chunks.size(), 1u);
  EXPECT_TRUE(step.chunks[0].decode);
  EXPECT_FALSE(step.chunks[0].last_of_prompt);
  EXPECT_EQ(step.chunks[0].start, 6);
  EXPECT_EQ(step.chunks[0].tokens, std::vector<int32_t>{7});
  EXPECT_EQ(bm.Table(1).size(), 2u);
  s.Completed(step, {{1, 8}});

  step = s.Schedule();
  ASSERT_EQ(step.chunks.size(), 1u);
  EXPECT_EQ(step.chunks[0].start, 7);
  EXPECT_EQ(step.chunks[0].tokens, std::vector<int32_t>{8});
  s.Completed(step, {{1, 9}});
  EXPECT_EQ(s.Generated(1), (std::vector<int32_t>{7, 8, 9}));

  // Three tokens generated: nothing left to compute; it waits for Finish.
  step = s.Schedule();
  EXPECT_TRUE(step.chunks.empty());
  EXPECT_FALSE(s.Empty());
  s.Finish(1);
  EXPECT_TRUE(s.Empty());
  EXPECT_EQ(bm.UsedBlocks(), 0);
  EXPECT_EQ(s.Generated(1), (std::vector<int32_t>{7, 8, 9}));
  EXPECT_EQ(s.stats().steps, 3u);

  // Two blocks hold positions 0-7; the decode at position 8 needs a third.
  ASSERT_TRUE(s.Add(Generating(2, Range(50, 8), 4)).ok());
  step = s.Schedule();
  EXPECT_EQ(bm.Table(2).size(), 2u);
  s.Completed(step, {{2, 1}});
  step = s.Schedule();  // decode at position 8: a third block
  EXPECT_EQ(step.chunks[0].start, 8);
  EXPECT_EQ(bm.Table(2).size(), 3u);
  s.Completed(step, {});
  s.Finish(2);
  EXPECT_TRUE(s.Empty());
  EXPECT_EQ(bm.UsedBlocks(), 0);
}

TEST(SchedulerTest, BudgetAndMaxNumSeqsHoldInEveryStep) {
  FakeEngine e(256, 4, true, {.max_num_seqs = 3, .max_batched_tokens = 8});
  for (SeqId id = 0; id < 10; ++id) {
    ASSERT_TRUE(e.Add(Generating(id, Range(static_cast<int32_t>(id * 10), 5), 4)).ok());
  }
  const int64_t steps = e.Run(1000);
  e.CheckAllDone();
  EXPECT_EQ(e.max_step_chunks(), 3);
  EXPECT_EQ(e.max_step_tokens(), 8);
  EXPECT_GT(steps, 10);
}

TEST(SchedulerTest, DecodesComeFirstThenPrefillsThenAdmissions) {
  BlockManager bm(64, 4, true);
  Scheduler s(&bm, {.max_num_seqs = 8, .max_batched_tokens = 10});
  ASSERT_TRUE(s.Add(Generating(1, Range(0, 4), 5)).ok());
  ASSERT_TRUE(s.Add(Scoring(2, Range(100, 12))).ok());
  ASSERT_TRUE(s.Add(Scoring(3, Range(200, 4))).ok());
  Step step = s.Schedule();  // 1 whole (4), 2 partly (6)
  ASSERT_EQ(step.chunks.size(), 2u);
  EXPECT_EQ(step.chunks[1].tokens.size(), 6u);
  s.Completed(step, {{1, 42}});
  step = s.Schedule();  // decode 1, rest of 2 (6), then 3 (3 of 4)
  ASSERT_EQ(step.chunks.size(), 3u);
  EXPECT_EQ(step.chunks[0].id, 1);
  EXPECT_TRUE(step.chunks[0].decode);
  EXPECT_EQ(step.chunks[1].id, 2);
  EXPECT_EQ(step.chunks[1].start, 6);
  EXPECT_TRUE(step.chunks[1].last_of_prompt);
  EXPECT_EQ(step.chunks[2].id, 3);
  EXPECT_EQ(step.chunks[2].tokens.size(), 3u);
  EXPECT_FALSE(step.chunks[2].last_of_prompt);
  EXPECT_EQ(Tokens(step), 10);
}

// 8 siblings: a 64-token shared prefix and 8 tokens of their own, block 16.
std::vector<SequenceSpec> Siblings(int64_t logits_from, int64_t max_new) {
  const auto prefix = Range(1000, 64);
  std::vector<SequenceSpec> out;
  for (SeqId id = 0; id < 8; ++id) {
    out.push_back(
        {id, Concat(prefix, Range(static_cast<int32_t>(id * 8), 8)), logits_from, max_new});
  }
  return out;
}

TEST(SchedulerTest, SiblingsShareTheirPrefix) {
  for (int64_t budget : {2048, 100, 40}) {
    SCOPED_TRACE("max_batched_tokens " + std::to_string(budget));
    FakeEngine e(64, 16, true, {.max_num_seqs = 256, .max_batched_tokens = budget});
    for (const auto& spec : Siblings(64, 0)) ASSERT_TRUE(e.Add(spec).ok());
    std::vector<int64_t> first_start(8, -1);
    while (!e.sched().Empty()) {
      Step step = e.RunStep();
      for (const Chunk& c : step.chunks) {
        if (first_start[static_cast<size_t>(c.id)] < 0) {
          first_start[static_cast<size_t>(c.id)] = c.start;
        }
      }
      ASSERT_FALSE(::testing::Test::HasFailure());
    }
    e.CheckAllDone();
    const auto& st = e.sched().stats();
    EXPECT_EQ(st.prompt_tokens_requested, 8u * 72u);
    EXPECT_EQ(st.prompt_tokens_computed, 72u + 7u * 8u);  // the prefix once
    std::printf("siblings (budget %lld): computed %llu of %llu prompt tokens (%.3f), %llu steps\n",
                static_cast<long long>(budget),
                static_cast<unsigned long long>(st.prompt_tokens_computed),
                static_cast<unsigned long long>(st.prompt_tokens_requested),
                static_cast<double>(st.prompt_tokens_computed) /
                    static_cast<double>(st.prompt_tokens_requested),
                static_cast<unsigned long long>(st.steps));
    EXPECT_EQ(first_start[0], 0);
    for (size_t i = 1; i < 8; ++i) EXPECT_EQ(first_start[i], 64) << i;
    EXPECT_EQ(e.blocks().stats().reused_tokens, 7u * 64u);
  }
}

TEST(SchedulerTest, GeneratingSiblingsShareTheirPrefix) {
  FakeEngine e(64, 16, true, {.max_num_seqs = 256, .max_batched_tokens = 2048});
  for (const auto& spec : Siblings(71, 5)) ASSERT_TRUE(e.Add(spec).ok());
  e.Run(100);
  e.CheckAllDone();
  EXPECT_EQ(e.sched().stats().prompt_tokens_computed, 72u + 7u * 8u);
}

TEST(SchedulerTest, WithoutPrefixCachingSiblingsComputeEverything) {
  FakeEngine e(64, 16, false, {.max_num_seqs = 256, .max_batched_tokens = 2048});
  for (const auto& spec : Siblings(64, 0)) ASSERT_TRUE(e.Add(spec).ok());
  EXPECT_EQ(e.Run(100), 1);  // no deferral: all in one step
  e.CheckAllDone();
  EXPECT_EQ(e.sched().stats().prompt_tokens_computed, 8u * 72u);
}

TEST(SchedulerTest, LogitsFromCapsTheReusedPrefix) {
  const auto prefix = Range(1000, 64);
  // The last position is always computed, even when the whole prompt is cached.
  struct Case {
    std::vector<int32_t> prompt;
    int64_t logits_from, start;
  };
  const std::vector<Case> cases = {
      {Concat(prefix, {1, 2, 3}), 40, 32},
      {Concat(prefix, {1, 2, 3}), 0, 0},
      {Concat(prefix, {1, 2, 3}), 15, 0},
      {Concat(prefix, {1, 2, 3}), 16, 16},
      {Concat(prefix, {1, 2, 3}), 64, 64},
      {Concat(prefix, {1, 2, 3}), 66, 64},
      {prefix, 63, 48},
  };
  SeqId id = 100;
  for (const Case& c : cases) {
    FakeEngine e(64, 16, true, {});
    ASSERT_TRUE(e.Add(Scoring(1, Concat(prefix, {7, 7}))).ok());
    e.Run(10);
    ASSERT_EQ(e.blocks().MatchPrefix(prefix, 64), 64);
    ASSERT_TRUE(e.Add(Scoring(++id, c.prompt, c.logits_from)).ok());
    Step step = e.RunStep();
    ASSERT_EQ(step.chunks.size(), 1u);
    EXPECT_EQ(step.chunks[0].start, c.start) << "logits_from " << c.logits_from;
    EXPECT_TRUE(step.chunks[0].last_of_prompt);
    e.Run(10);
    e.CheckAllDone();
  }
}

TEST(SchedulerTest, PreemptsTheMostRecentlyAdmittedWhenADecodeNeedsABlock) {
  // 4 blocks of 4: each sequence alone needs up to 3 (4 prompt + 8 new).
  FakeEngine e(4, 4, true, {.max_num_seqs = 8, .max_batched_tokens = 64});
  ASSERT_TRUE(e.Add(Generating(0, Range(0, 4), 8)).ok());
  ASSERT_TRUE(e.Add(Generating(2, Range(10, 4), 8)).ok());
  ASSERT_TRUE(e.Add(Generating(4, Range(20, 4), 8)).ok());
  Step step = e.RunStep();
  EXPECT_EQ(step.chunks.size(), 3u);  // 3 blocks for 3 prompts
  // (RunStep checks that every chunk's sequence holds its blocks: a victim is
  // never in the step that preempted it.)
  bool saw_recompute = false;
  int64_t steps = 1;
  while (!e.sched().Empty() && steps < 200) {
    step = e.RunStep();
    ++steps;
    for (const Chunk& c : step.chunks) {
      if (!c.decode && c.start + static_cast<int64_t>(c.tokens.size()) > 4) {
        // Recomputation of prompt + generated (the prompts are 4 tokens).
        saw_recompute = true;
        EXPECT_TRUE(c.last_of_prompt);
      }
    }
    ASSERT_FALSE(::testing::Test::HasFailure());
  }
  e.CheckAllDone();
  EXPECT_GT(e.sched().stats().preemptions, 0u);
  EXPECT_TRUE(saw_recompute);
  EXPECT_LE(e.blocks().stats().peak_used_blocks, 4);
}

TEST(SchedulerTest, APreemptedSequenceGoesBackToTheFrontWithItsTokens) {
  BlockManager bm(3, 2, true);
  Scheduler s(&bm, {.max_num_seqs = 2, .max_batched_tokens = 64});
  ASSERT_TRUE(s.Add(Generating(1, {1, 2}, 4)).ok());
  ASSERT_TRUE(s.Add(Generating(2, {3, 4}, 4)).ok());
  ASSERT_TRUE(s.Add(Generating(3, {5, 6}, 1)).ok());
  Step step = s.Schedule();  // 1 and 2 (max_num_seqs 2)
  ASSERT_EQ(step.chunks.size(), 2u);
  s.Completed(step, {{1, 10}, {2, 20}});
  step = s.Schedule();  // 1 decodes into a new block, 2 too: no room for 2
  ASSERT_EQ(step.chunks.size(), 1u);
  EXPECT_EQ(step.chunks[0].id, 1);
  EXPECT_EQ(s.stats().preemptions, 1u);
  EXPECT_EQ(s.Generated(2), std::vector<int32_t>{20});
  EXPECT_EQ(s.NumWaiting(), 2);
  s.Completed(step, {{1, 11}});
  s.Finish(1);
  step = s.Schedule();  // 2 comes back before 3, as prompt + generated
  ASSERT_EQ(step.chunks.size(), 2u);
  EXPECT_EQ(step.chunks[0].id, 2);
  EXPECT_EQ(step.chunks[0].start, 2);  // its prompt block was still cached
  EXPECT_EQ(step.chunks[0].tokens, std::vector<int32_t>{20});
  EXPECT_TRUE(step.chunks[0].last_of_prompt);
  EXPECT_FALSE(step.chunks[0].decode);
  s.Completed(step, {{2, 21}});
  EXPECT_EQ(s.Generated(2), (std::vector<int32_t>{20, 21}));
  EXPECT_EQ(step.chunks[1].id, 3);
  EXPECT_EQ(s.stats().prompt_tokens_computed, 2u + 2u + 1u + 2u);
  EXPECT_EQ(s.stats().prompt_tokens_requested, 6u);
}

TEST(SchedulerTest, WithoutChunkedPrefillARecomputationLongerThanAStepIsSplit) {
  // B is preempted with prompt + generated = 5 tokens > max_batched_tokens 4.
  FakeEngine e(4, 2, false, {.max_num_seqs = 2, .max_batched_tokens = 4, .chunked_prefill = false});
  ASSERT_TRUE(e.Add(Generating(0, {1, 2}, 6)).ok());
  ASSERT_TRUE(e.Add(Generating(1, {3, 4}, 6)).ok());
  bool split = false;
  for (int i = 0; i < 100 && !e.sched().Empty(); ++i) {
    Step step = e.RunStep();
    for (const Chunk& c : step.chunks) {
      if (c.id == 1 && !c.decode && !c.last_of_prompt) {
        split = true;
        EXPECT_EQ(c.start, 0);
        EXPECT_EQ(c.tokens.size(), 4u);
      }
    }
  }
  e.CheckAllDone();
  EXPECT_EQ(e.sched().stats().preemptions, 1u);
  EXPECT_TRUE(split);
}

TEST(SchedulerTest, FinishIsFinalAndToleratesOddOrders) {
  BlockManager bm(16, 4, true);
  Scheduler s(&bm, {});
  ASSERT_TRUE(s.Add(Scoring(1, Range(0, 5))).ok());
  ASSERT_TRUE(s.Add(Scoring(2, Range(10, 5))).ok());
  s.Finish(2);  // while waiting
  s.Finish(9);  // unknown
  Step step = s.Schedule();
  ASSERT_EQ(step.chunks.size(), 1u);
  s.Finish(1);  // before Completed: its chunk was not reported, so nothing is shared
  s.Completed(step, {{1, 3}});
  EXPECT_TRUE(s.Generated(1).empty());
  EXPECT_TRUE(s.Empty());
  EXPECT_EQ(bm.UsedBlocks(), 0);
  EXPECT_EQ(bm.MatchPrefix(Range(0, 5), 5), 0);
  EXPECT_EQ(s.Add(Scoring(1, {1})).code(), COMPASS_INVALID_ARGUMENT);  // ids are never reused
  EXPECT_TRUE(s.Schedule().chunks.empty());
  // The normal order: Completed, then Finish; the full block is shared.
  ASSERT_TRUE(s.Add(Scoring(3, Range(0, 5))).ok());
  step = s.Schedule();
  ASSERT_EQ(step.chunks.size(), 1u);
  EXPECT_EQ(step.chunks[0].start, 0);
  s.Completed(step, {});
  s.Finish(3);
  EXPECT_EQ(bm.MatchPrefix(Range(0, 5), 5), 4);
}

struct StressConfig {
  uint32_t seed;
  bool prefix_caching;
};

struct StressFigures {
  int64_t runs = 0, unchunked_runs = 0, seqs = 0, steps = 0, unconstrained_steps = 0;
  uint64_t preemptions = 0, prompt_tokens_computed = 0, prompt_tokens_requested = 0;
};

// Hundreds of mixed sequences on a few blocks with random budgets (every
// fourth seed without chunked prefill), checked against an unconstrained model.
void Stress(uint32_t seed, bool prefix_caching, bool print, StressFigures& figures) {
  std::mt19937 rng(seed);
  auto uniform = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  const int64_t bs = int64_t{1} << uniform(0, 3);
  std::vector<std::vector<int32_t>> templates;
  for (int i = 0; i < 6; ++i) {
    std::vector<int32_t> t(static_cast<size_t>(uniform(0, 40)));
    for (auto& x : t) x = static_cast<int32_t>(uniform(0, 49));
    templates.push_back(t);
  }
  const int64_t count = uniform(200, 400);
  std::vector<SequenceSpec> specs;
  int64_t largest = 0, longest_prompt = 0, work = 0;
  for (int64_t i = 0; i < count; ++i) {
    SequenceSpec spec;
    spec.prompt = templates[static_cast<size_t>(uniform(0, 5))];
    for (int64_t j = uniform(1, 20); j > 0; --j) {
      spec.prompt.push_back(static_cast<int32_t>(uniform(0, 49)));
    }
    const auto n = static_cast<int64_t>(spec.prompt.size());
    if (uniform(0, 1) == 0) {
      spec.max_new_tokens = 0;
      spec.logits_from = uniform(0, n - 1);
    } else {
      spec.max_new_tokens = uniform(1, 24);
      spec.logits_from = uniform(0, 3) == 0 ? uniform(0, n - 1) : n - 1;
    }
    largest = std::max(largest, (n + spec.max_new_tokens + bs - 1) / bs);
    longest_prompt = std::max(longest_prompt, n);
    work += n + spec.max_new_tokens;
    specs.push_back(std::move(spec));
  }
  // The engine adds sequences sorted by prompt, so siblings are adjacent.
  std::sort(specs.begin(), specs.end(),
            [](const SequenceSpec& a, const SequenceSpec& b) { return a.prompt < b.prompt; });
  for (size_t i = 0; i < specs.size(); ++i) specs[i].id = static_cast<SeqId>(i * 3 + 1);

  SchedulerOptions options;
  options.chunked_prefill = seed % 4 != 0;
  options.max_num_seqs = uniform(1, 16);
  options.max_batched_tokens =
      options.chunked_prefill ? uniform(1, 64) : uniform(longest_prompt, longest_prompt + 64);
  const int64_t num_blocks = largest + uniform(0, 3);
  SCOPED_TRACE("seed " + std::to_string(seed) + ", block " + std::to_string(bs) + ", " +
               std::to_string(num_blocks) + " blocks, max_num_seqs " +
               std::to_string(options.max_num_seqs) + ", max_batched_tokens " +
               std::to_string(options.max_batched_tokens) +
               (options.chunked_prefill ? ", chunked" : ", not chunked") +
               (prefix_caching ? ", prefix caching" : ""));

  FakeEngine tight(num_blocks, bs, prefix_caching, options);
  FakeEngine wide(1 << 16, bs, prefix_caching,
                  {.max_num_seqs = 100000, .max_batched_tokens = 1 << 20});
  for (const auto& spec : specs) {
    ASSERT_TRUE(tight.Add(spec).ok());
    ASSERT_TRUE(wide.Add(spec).ok());
  }
  const int64_t steps = tight.Run(4 * work);
  ASSERT_FALSE(::testing::Test::HasFailure());
  tight.CheckAllDone();
  wide.Run(4 * work);
  wide.CheckAllDone();
  EXPECT_EQ(wide.sched().stats().preemptions, 0u);
  for (const auto& spec : specs) {
    EXPECT_EQ(tight.sched().Generated(spec.id), wide.sched().Generated(spec.id));
  }
  const auto& st = tight.sched().stats();
  figures.runs += 1;
  figures.unchunked_runs += options.chunked_prefill ? 0 : 1;
  figures.seqs += count;
  figures.steps += steps;
  figures.unconstrained_steps += static_cast<int64_t>(wide.sched().stats().steps);
  figures.preemptions += st.preemptions;
  figures.prompt_tokens_computed += st.prompt_tokens_computed;
  figures.prompt_tokens_requested += st.prompt_tokens_requested;
  EXPECT_EQ(static_cast<int64_t>(st.steps), steps);
  if (!prefix_caching && st.preemptions == 0) {
    EXPECT_EQ(st.prompt_tokens_computed, st.prompt_tokens_requested);
  }
  EXPECT_LE(tight.blocks().stats().peak_used_blocks, num_blocks);
  if (print) {
    std::printf(
        "stress seed %u%s: %lld seqs, block %lld, %lld blocks, max_num_seqs %lld, "
        "max_batched_tokens %lld%s: %lld steps, %llu preemptions, prompt tokens computed %llu "
        "of %llu; unconstrained: %llu steps\n",
        seed, prefix_caching ? " (prefix caching)" : "", static_cast<long long>(count),
        static_cast<long long>(bs), static_cast<long long>(num_blocks),
        static_cast<long long>(options.max_num_seqs),
        static_cast<long long>(options.max_batched_tokens),
        options.chunked_prefill ? " chunked" : " not chunked", static_cast<long long>(steps),
        static_cast<unsigned long long>(st.preemptions),
        static_cast<unsigned long long>(st.prompt_tokens_computed),
        static_cast<unsigned long long>(st.prompt_tokens_requested),
        static_cast<unsigned long long>(wide.sched().stats().steps));
  }
}

void StressAll(bool prefix_caching) {
  StressFigures f;
  for (uint32_t seed = 1; seed <= 24; ++seed) {
    Stress(seed, prefix_caching, seed <= 8, f);
    if (::testing::Test::HasFailure()) return;
  }
  EXPECT_EQ(f.runs, 24);
  EXPECT_EQ(f.unchunked_runs, 6);
  EXPECT_GT(f.preemptions, 0u);
  std::printf(
      "stress total%s: %lld runs (%lld without chunked prefill), %lld seqs, %lld steps, %llu "
      "preemptions, prompt tokens computed %llu of %llu; unconstrained: %lld steps\n",
      prefix_caching ? " (prefix caching)" : "", static_cast<long long>(f.runs),
      static_cast<long long>(f.unchunked_runs), static_cast<long long>(f.seqs),
      static_cast<long long>(f.steps), static_cast<unsigned long long>(f.preemptions),
      static_cast<unsigned long long>(f.prompt_tokens_computed),
      static_cast<unsigned long long>(f.prompt_tokens_requested),
      static_cast<long long>(f.unconstrained_steps));
}

TEST(SchedulerStressTest, MixedSequencesOnAFewBlocksWithPrefixCaching) {
  StressAll(true);
}

TEST(SchedulerStressTest, MixedSequencesOnAFewBlocksWithoutPrefixCaching) {
  StressAll(false);
}

}  // namespace
}  // namespace compass::paged_tp
