// The paged KV cache on tiny models against the model without a cache: one
// prompt, chunked prefill and decode, rows of different lengths in one step,
// a prefix shared between rows; its errors and sizes. The pools start
// filled with NaN, so a read of a slot never written shows in the logits.
#include "models/paged_kv_cache.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "model_test_util.h"
#include "models/causal_lm.h"
#include "models/model_config.h"

namespace compass::model {
namespace {

using testing::TinyModelDir;

// float32 on both sides: only the summation order differs (the paged step
// attends over more, masked, slots).
constexpr double kTolerance = 1e-5;

const CausalLM& Loaded(const std::string& variant) {
  static std::map<std::string, std::unique_ptr<CausalLM>> models;
  auto& m = models[variant];
  if (!m) {
    auto loaded = CausalLM::Load(TinyModelDir(variant), Placement());
    EXPECT_TRUE(loaded.ok()) << loaded.status().message();
    m = std::make_unique<CausalLM>(std::move(loaded).value());
  }
  return *m;
}

// `n` token ids in [1, vocab), the same for the same seed.
std::vector<int64_t> Tokens(int64_t n, int64_t vocab, uint64_t seed) {
  std::vector<int64_t> out;
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < n; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    out.push_back(1 + static_cast<int64_t>((x >> 33) % static_cast<uint64_t>(vocab - 1)));
  }
  return out;
}

std::vector<int64_t> Concat(std::vector<int64_t> a, const std::vector<int64_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

std::vector<int64_t> Slice(const std::vector<int64_t>& v, int64_t begin, int64_t n) {
  return std::vector<int64_t>(v.begin() + begin, v.begin() + begin + n);
}

// The inputs of a step: row r brings tokens[r] at positions past[r] ..,
// padded to the longest (valid undefined when no row is padded).
struct StepInputs {
  at::Tensor ids, positions, valid;
};

StepInputs MakeStep(const std::vector<std::vector<int64_t>>& tokens,
                    const std::vector<int64_t>& past) {
  const int64_t rows = static_cast<int64_t>(tokens.size());
  int64_t t = 1;
  bool padded = false;
  for (const auto& row : tokens) t = std::max<int64_t>(t, static_cast<int64_t>(row.size()));
  StepInputs in;
  in.ids = at::zeros({rows, t}, at::kLong);
  in.positions = at::zeros({rows, t}, at::kLong);
  in.valid = at::zeros({rows, t}, at::kBool);
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t n = static_cast<int64_t>(tokens[r].size());
    padded = padded || n < t;
    for (int64_t k = 0; k < n; ++k) {
      in.ids[r][k] = tokens[r][k];
      in.positions[r][k] = past[r] + k;
      in.valid[r][k] = true;
    }
  }
  if (!padded) in.valid = at::Tensor();
  return in;
}

// Hands out block ids in scrambled order (odd ones descending, then even),
// so that a table's blocks are neither contiguous nor increasing.
class BlockList {
 public:
  explicit BlockList(int64_t num_blocks) {
    for (int64_t b = num_blocks - 1; b >= 0; --b) {
      if (b % 2 == 1) free_.push_back(static_cast<int32_t>(b));
    }
    for (int64_t b = 0; b < num_blocks; b += 2) free_.push_back(static_cast<int32_t>(b));
  }
  int32_t Take() {
    EXPECT_FALSE(free_.empty());
    const int32_t b = free_.front();
    free_.erase(free_.begin());
    return b;
  }
  // Grows `table` to cover `tokens` tokens of `block_size`.
  void Cover(std::vector<int32_t>& table, int64_t tokens, int64_t block_size) {
    while (static_cast<int64_t>(table.size()) * block_size < tokens) table.push_back(Take());
  }

 private:
  std::vector<int32_t> free_;
};

double g_worst = 0;  // over every comparison of the paged tests

class PagedKvCacheTest
    : public ::testing::TestWithParam<std::tuple<std::string, AttentionImpl, int64_t>> {
 protected:
  static void SetUpTestSuite() { at::set_num_threads(2); }
  static void TearDownTestSuite() {
    std::printf("[ paged ] max |logits - without cache| = %.3g\n", g_worst);
  }

  const std::string& variant() const { return std::get<0>(GetParam()); }
  AttentionImpl impl() const { return std::get<1>(GetParam()); }
  int64_t block_size() const { return std::get<2>(GetParam()); }
  CausalLM Model() const { return Loaded(variant()).WithAttention(impl()); }
  const ModelConfig& config() const { return Loaded(variant()).config(); }
  std::vector<int64_t> Tokens(int64_t n, uint64_t seed) const {
    return model::Tokens(n, config().vocab_size, seed);
  }

  // A float32 CPU pool of `num_blocks` for the model, every slot NaN.
  std::unique_ptr<PagedKvPool> Pool(int64_t num_blocks) const {
    const ModelConfig& c = config();
    auto pool = std::make_unique<PagedKvPool>(c.num_hidden_layers, num_blocks, block_size(),
                                              c.num_key_value_heads, c.head_dim,
                                              at::TensorOptions().dtype(at::kFloat));
    for (int64_t l = 0; l < pool->num_layers(); ++l) {
      pool->keys(l).fill_(NAN);
      pool->values(l).fill_(NAN);
    }
    return pool;
  }

  // Logits [n, vocab] of `tokens` in one step without a cache.
  at::Tensor Reference(const std::vector<int64_t>& tokens) const {
    const int64_t n = static_cast<int64_t>(tokens.size());
    auto logits = Model().Forward(at::tensor(tokens, at::kLong).unsqueeze(0),
                                  at::arange(n, at::kLong).unsqueeze(0), {}, nullptr);
    EXPECT_TRUE(logits.ok()) << logits.status().message();
    return logits.ok() ? (*logits)[0] : at::Tensor();
  }

  // Logits [B, T, vocab] of one step through `cache`.
  at::Tensor Run(PagedKvCache& cache, const std::vector<std::vector<int64_t>>& tokens,
                 const std::vector<int64_t>& past) const {
    const StepInputs in = MakeStep(tokens, past);
    auto logits = Model().Forward(in.ids, in.positions, in.valid, &cache);
    EXPECT_TRUE(logits.ok()) << logits.status().message();
    return logits.ok() ? *logits : at::Tensor();
  }

  // Max |a - b|, recorded in the suite's worst.
  static double Diff(const at::Tensor& a, const at::Tensor& b) {
    EXPECT_EQ(a.sizes(), b.sizes());
    const double d = (a - b).abs().max().item<double>();
    g_worst = std::max(g_worst, d);
    return d;
  }
};

TEST_P(PagedKvCacheTest, PromptInOneStepMatchesNoCache) {
  // 21 tokens: past the mistral window (12), across several blocks.
  const std::vector<int64_t> prompt = Tokens(21, 1);
  const int64_t bs = block_size();
  auto pool = Pool((21 + bs - 1) / bs + 3);
  BlockList blocks(pool->num_blocks());
  std::vector<int32_t> table;
  blocks.Cover(table, 21, bs);
  PagedKvCache cache(pool.get(), {table}, {0});
  const at::Tensor logits = Run(cache, {prompt}, {0});
  EXPECT_EQ(cache.length(), 21);
  EXPECT_EQ(cache.stored(), (std::vector<int64_t>{21}));
  EXPECT_LE(Diff(logits[0], Reference(prompt)), kTolerance);
}

TEST_P(PagedKvCacheTest, ChunkedPrefillThenDecodeMatchesTheWholeSequence) {
  const std::vector<int64_t> sequence = Tokens(26, 2);
  const int64_t bs = block_size();
  auto pool = Pool(26 / bs + 4);
  BlockList blocks(pool->num_blocks());
  std::vector<int32_t> table;
  std::vector<at::Tensor> parts;
  int64_t past = 0;
  // The 21-token prompt in three uneven chunks, each a cache of its own
  // over the same pool and a table grown to cover it.
  for (int64_t n : {8, 3, 10}) {
    blocks.Cover(table, past + n, bs);
    PagedKvCache chunk(pool.get(), {table}, {past});
    parts.push_back(Run(chunk, {Slice(sequence, past, n)}, {past})[0]);
    past += n;
  }
  // Five decode steps through one cache, its table grown between steps.
  PagedKvCache decode(pool.get(), {table}, {past});
  for (int64_t step = 0; step < 5; ++step, ++past) {
    while (static_cast<int64_t>(decode.tables()[0].size()) * bs < past + 1) {
      decode.AppendBlock(0, blocks.Take());
    }
    parts.push_back(Run(decode, {{sequence[past]}}, {past})[0]);
    EXPECT_EQ(decode.length(), past + 1);
  }
  EXPECT_EQ(decode.stored(), (std::vector<int64_t>{26}));
  EXPECT_LE(Diff(at::cat(parts, 0), Reference(sequence)), kTolerance);
}

TEST_P(PagedKvCacheTest, RowsOfDifferentLengthsInOneStepMatchEachRowAlone) {
  const int64_t bs = block_size();
  // Rows with 0, 5, 13 and 3 tokens stored bring 6, 2, 4 and no tokens.
  const std::vector<int64_t> past = {0, 5, 13, 3}, n = {6, 2, 4, 0};
  const int64_t rows = 4;
  auto pool = Pool(4 * (20 / bs + 2));
  BlockList blocks(pool->num_blocks());
  std::vector<std::vector<int64_t>> sequences;
  std::vector<std::vector<int32_t>> tables(rows);
  for (int64_t r = 0; r < rows; ++r) {
    sequences.push_back(Tokens(past[r] + n[r] + 1, 10 + r));
    blocks.Cover(tables[r], past[r] + n[r], bs);
    if (past[r] > 0) {  // the row's past, computed alone
      PagedKvCache own(pool.get(), {tables[r]}, {0});
      Run(own, {Slice(sequences[r], 0, past[r])}, {0});
    }
  }
  PagedKvCache cache(pool.get(), tables, past);
  std::vector<std::vector<int64_t>> step(rows);
  for (int64_t r = 0; r < rows; ++r) step[r] = Slice(sequences[r], past[r], n[r]);
  const at::Tensor logits = Run(cache, step, past);
  EXPECT_EQ(cache.length(), 13 + 6);
  // Padding slots attend too; their logits are meaningless but finite.
  EXPECT_TRUE(logits.isfinite().all().item<bool>());
  for (int64_t r = 0; r < rows; ++r) {
    if (n[r] == 0) continue;
    const at::Tensor reference = Reference(Slice(sequences[r], 0, past[r] + n[r]));
    EXPECT_LE(Diff(logits[r].narrow(0, 0, n[r]), reference.narrow(0, past[r], n[r])), kTolerance)
        << "row " << r;
  }
  // A decode step for every row, the one that brought nothing included.
  std::vector<std::vector<int64_t>> next(rows);
  std::vector<int64_t> stored = cache.stored();
  for (int64_t r = 0; r < rows; ++r) {
    next[r] = {sequences[r][stored[r]]};
    while (static_cast<int64_t>(cache.tables()[r].size()) * bs < stored[r] + 1) {
      cache.AppendBlock(r, blocks.Take());
    }
  }
  const at::Tensor decoded = Run(cache, next, stored);
  for (int64_t r = 0; r < rows; ++r) {
    const at::Tensor reference = Reference(sequences[r]);
    EXPECT_LE(Diff(decoded[r][0], reference[stored[r]]), kTolerance) << "row " << r;
  }
}

TEST_P(PagedKvCacheTest, RowsSharingPrefixBlocksMatchUnsharedRuns) {
  const int64_t bs = block_size();
  // The first K full blocks (at least 10 tokens) are the shared prefix.
  const int64_t shared_blocks = (10 + bs - 1) / bs, prefix_len = shared_blocks * bs;
  const std::vector<int64_t> prefix = Tokens(prefix_len, 20);
  auto pool = Pool(shared_blocks + 3 * (12 / bs + 2));
  BlockList blocks(pool->num_blocks());
  std::vector<int32_t> prefix_table;
  blocks.Cover(prefix_table, prefix_len, bs);
  // A first sequence computes the prefix and a few tokens of its own.
  {
    std::vector<int32_t> table = prefix_table;
    blocks.Cover(table, prefix_len + 3, bs);
    PagedKvCache first(pool.get(), {table}, {0});
    const std::vector<int64_t> tokens = Concat(prefix, Tokens(3, 21));
    EXPECT_LE(Diff(Run(first, {tokens}, {0})[0], Reference(tokens)), kTolerance);
  }
  std::vector<at::Tensor> before;
  for (int64_t l = 0; l < pool->num_layers(); ++l) {
    for (const at::Tensor& t : {pool->keys(l), pool->values(l)}) {
      for (int32_t b : prefix_table) before.push_back(t.narrow(0, b * bs, bs).clone());
    }
  }
  // Two rows over the same prefix blocks, each with its own suffix (5 and
  // 2 tokens: padding), then three decode steps.
  const std::vector<std::vector<int64_t>> sequences = {Concat(prefix, Tokens(8, 22)),
                                                       Concat(prefix, Tokens(5, 23))};
  const std::vector<int64_t> suffix = {5, 2};
  std::vector<std::vector<int32_t>> tables = {prefix_table, prefix_table};
  for (int r = 0; r < 2; ++r) blocks.Cover(tables[r], prefix_len + suffix[r], bs);
  PagedKvCache cache(pool.get(), tables, {prefix_len, prefix_len});
  const at::Tensor logits =
      Run(cache, {Slice(sequences[0], prefix_len, 5), Slice(sequences[1], prefix_len, 2)},
          {prefix_len, prefix_len});
  std::vector<std::vector<at::Tensor>> parts(2);
  for (int r = 0; r < 2; ++r) parts[r].push_back(logits[r].narrow(0, 0, suffix[r]));
  for (int64_t step = 0; step < 3; ++step) {
    const std::vector<int64_t> stored = cache.stored();
    std::vector<std::vector<int64_t>> next(2);
    for (int r = 0; r < 2; ++r) {
      next[r] = {sequences[r][stored[r]]};
      while (static_cast<int64_t>(cache.tables()[r].size()) * bs < stored[r] + 1) {
        cache.AppendBlock(r, blocks.Take());
      }
    }
    const at::Tensor decoded = Run(cache, next, stored);
    for (int r = 0; r < 2; ++r) parts[r].push_back(decoded[r].narrow(0, 0, 1));
  }
  for (int r = 0; r < 2; ++r) {
    const int64_t n = suffix[r] + 3;
    const at::Tensor reference = Reference(Slice(sequences[r], 0, prefix_len + n));
    EXPECT_LE(Diff(at::cat(parts[r], 0), reference.narrow(0, prefix_len, n)), kTolerance)
        << "row " << r;
  }
  // The shared blocks were only read.
  size_t i = 0;
  for (int64_t l = 0; l < pool->num_layers(); ++l) {
    for (const at::Tensor& t : {pool->keys(l), pool->values(l)}) {
      for (int32_t b : prefix_table) EXPECT_TRUE(at::equal(t.narrow(0, b * bs, bs), before[i++]));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Paged, PagedKvCacheTest,
                         ::testing::Combine(::testing::Values("llama", "qwen2", "mistral"),
                                            ::testing::Values(AttentionImpl::kEager,
                                                              AttentionImpl::kSdpa),
                                            ::testing::Values(int64_t{1}, int64_t{4}, int64_t{16})),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" +
                                  AttentionImplName(std::get<1>(info.param)) + "_bs" +
                                  std::to_string(std::get<2>(info.param));
                         });

// ---------------------------------------------------------------- the step's slots

PagedKvPool SmallPool() {
  return PagedKvPool(1, 4, 4, 1, 8, at::TensorOptions(at::kFloat));
}

at::Tensor Bools(const std::vector<int64_t>& values) {
  return at::tensor(values, at::kLong).to(at::kBool);
}

at::Tensor Positions(const std::vector<std::vector<int64_t>>& rows) {
  std::vector<at::Tensor> out;
  for (const auto& r : rows) out.push_back(at::tensor(r, at::kLong));
  return at::stack(out);
}

TEST(PagedKvCacheSlotsTest, RowsAreRightAlignedBeforeTheStepsSlots) {
  PagedKvPool pool = SmallPool();
  // Row 0 has 3 tokens stored and brings 2; row 1 has 1 and brings 1.
  PagedKvCache cache(&pool, {{2, 0}, {1}}, {3, 1});
  EXPECT_EQ(cache.length(), 3);
  at::Tensor valid = at::ones({2, 2}, at::kBool);
  valid[1][1] = false;
  auto batch = cache.BeginStep(valid, Positions({{3, 4}, {1, 0}}));
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  EXPECT_EQ(cache.length(), 5);
  EXPECT_EQ(batch->query_offset, 3);
  EXPECT_EQ(batch->num_keys(), 5);
  EXPECT_FALSE(batch->all_tokens);
  EXPECT_TRUE(at::equal(batch->key_valid, Bools({1, 1, 1, 1, 1, 0, 0, 1, 1, 0}).view({2, 5})));
  EXPECT_TRUE(at::equal(batch->key_positions,
                        at::tensor({0, 1, 2, 3, 4, 0, 0, 0, 1, 0}, at::kLong).view({2, 5})));
  EXPECT_EQ(cache.stored(), (std::vector<int64_t>{5, 2}));

  // Aligned rows of tokens only: the facts SDPA needs to drop its mask.
  PagedKvCache aligned(&pool, {{0, 1}, {2, 3}}, {0, 0});
  auto fresh = aligned.BeginStep({}, Positions({{0, 1, 2}, {0, 1, 2}}));
  ASSERT_TRUE(fresh.ok());
  EXPECT_TRUE(fresh->all_tokens);
  EXPECT_EQ(fresh->max_distance, 2);
  EXPECT_TRUE(fresh->ForSdpa(0, c10::kCPU).is_causal);
  auto decode = aligned.BeginStep({}, Positions({{3}, {3}}));  // the next step of the same rows
  ASSERT_TRUE(decode.ok()) << decode.status().message();
  EXPECT_TRUE(decode->all_tokens);
  EXPECT_EQ(decode->query_offset, 3);
  EXPECT_EQ(decode->max_distance, 3);
  const SdpaMask none = decode->ForSdpa(0, c10::kCPU);
  EXPECT_TRUE(!none.is_causal && !none.mask.defined());
  EXPECT_TRUE(decode->ForSdpa(3, c10::kCPU).mask.defined());  // a window that binds
}

TEST(PagedKvCacheSlotsTest, BeginStepRejectsBadSteps) {
  PagedKvPool pool = SmallPool();
  auto code = [&](std::vector<std::vector<int32_t>> tables, std::vector<int64_t> past,
                  const at::Tensor& valid, const at::Tensor& positions) {
    PagedKvCache cache(&pool, std::move(tables), std::move(past));
    return cache.BeginStep(valid, positions).status().code();
  };
  const at::Tensor two = Positions({{0, 1}});
  EXPECT_EQ(code({{0}}, {0}, {}, two), COMPASS_OK);
  // Rows other than tables; tables other than past lengths.
  EXPECT_EQ(code({{0}, {1}}, {0, 0}, {}, two), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(code({{0}}, {0, 0}, {}, two), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(code({{0}}, {-1}, {}, two), COMPASS_INVALID_ARGUMENT);
  // A table too short for past + n, or naming a block outside the pool.
  EXPECT_EQ(code({{0}}, {3}, {}, Positions({{3, 4}})), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(code({{0, 1}}, {3}, {}, Positions({{3, 4}})), COMPASS_OK);
  EXPECT_EQ(code({{4}}, {0}, {}, two), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(code({{-1}}, {0}, {}, two), COMPASS_INVALID_ARGUMENT);
  // Valid slots not a prefix of the row.
  EXPECT_EQ(code({{0}}, {0}, Bools({0, 1}).view({1, 2}), Positions({{0, 0}})),
            COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(code({{0}}, {0}, Bools({1, 0}).view({1, 2}), Positions({{0, 9}})),
            COMPASS_OK);  // padding positions are free
  // Positions of tokens other than past ..
  EXPECT_EQ(code({{0}}, {2}, {}, Positions({{3, 4}})), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(code({{0}}, {2}, {}, Positions({{2, 4}})), COMPASS_INVALID_ARGUMENT);
  // Shapes and dtypes; an empty step.
  EXPECT_EQ(code({{0}}, {0}, {}, two.to(at::kInt)), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(code({{0}}, {0}, {}, at::zeros({1, 0}, at::kLong)), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(code({{0}}, {0}, at::ones({1, 3}, at::kBool), two), COMPASS_INVALID_ARGUMENT);
  // Two rows writing the same slot.
  EXPECT_EQ(code({{0}, {0}}, {0, 0}, {}, Positions({{0}, {0}})), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(code({{0}, {0}}, {1, 1}, Bools({0, 0}).view({2, 1}), Positions({{0}, {0}})),
            COMPASS_OK);  // reading a shared block

  // A rejected step changes nothing: the same cache then takes a good one.
  PagedKvCache cache(&pool, {{0}}, {2});
  ASSERT_TRUE(cache.BeginStep({}, Positions({{2}})).ok());
  EXPECT_EQ(cache.BeginStep({}, Positions({{2}})).status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(cache.stored(), (std::vector<int64_t>{3}));
  EXPECT_EQ(cache.BeginStep({}, Positions({{3, 4}})).status().code(), COMPASS_INVALID_ARGUMENT);
  cache.AppendBlock(0, 1);
  auto next = cache.BeginStep({}, Positions({{3, 4}}));
  ASSERT_TRUE(next.ok()) << next.status().message();
  EXPECT_EQ(next->query_offset, 3);
  EXPECT_EQ(cache.stored(), (std::vector<int64_t>{5}));
}

TEST(PagedKvCacheSlotsTest, AttendWritesTheStepsSlotsAndThrowsOnMisuse) {
  PagedKvPool pool = SmallPool();
  pool.keys(0).fill_(NAN);
  pool.values(0).fill_(NAN);
  // Row 0 brings 3 tokens into blocks 2 then 0; row 1 brings 1 of 3 slots.
  PagedKvCache cache(&pool, {{2, 0}, {3}}, {2, 0});
  at::Tensor valid = at::zeros({2, 3}, at::kBool);
  valid[0].fill_(true);
  valid[1][0] = true;
  auto batch = cache.BeginStep(valid, Positions({{2, 3, 4}, {0, 0, 0}}));
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  const at::Tensor q = at::randn({2, 2, 3, 8});
  const at::Tensor k = at::randn({2, 1, 3, 8}), v = at::randn({2, 1, 3, 8});
  // Row 0's first two tokens (not written by this step) are read from
  // block 2; give them values.
  pool.keys(0).narrow(0, 8, 2).normal_();
  pool.values(0).narrow(0, 8, 2).normal_();
  const at::Tensor out = cache.Attend(0, q, k, v, *batch, 0);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 2, 3, 8}));
  EXPECT_TRUE(out.isfinite().all().item<bool>());
  // Positions 2, 3 of row 0 sit at block 2's slots 2, 3, position 4 at block
  // 0's slot 0; row 1's token at block 3's slot 0. Padding is not written.
  EXPECT_TRUE(at::equal(pool.keys(0).narrow(0, 10, 2).squeeze(1), k[0][0].narrow(0, 0, 2)));
  EXPECT_TRUE(at::equal(pool.values(0)[0][0], v[0][0][2]));
  EXPECT_TRUE(at::equal(pool.keys(0)[12][0], k[1][0][0]));
  EXPECT_TRUE(pool.keys(0)[13].isnan().all().item<bool>());
  // Row 0 against dense attention over its five keys.
  const at::Tensor keys = at::cat({pool.keys(0).narrow(0, 8, 4), pool.keys(0).narrow(0, 0, 1)});
  const at::Tensor values =
      at::cat({pool.values(0).narrow(0, 8, 4), pool.values(0).narrow(0, 0, 1)});
  AttentionBatch alone;
  alone.query_positions = at::arange(2, 5, at::kLong).unsqueeze(0);
  alone.key_positions = at::arange(5, at::kLong).unsqueeze(0);
  alone.key_valid = at::ones({1, 5}, at::kBool);
  alone.query_offset = 2;
  const at::Tensor whole =
      DenseAttention(q.narrow(0, 0, 1), keys.transpose(0, 1).unsqueeze(0),
                     values.transpose(0, 1).unsqueeze(0), alone, /*sliding_window=*/0);
  EXPECT_LE((out[0] - whole[0]).abs().max().item<double>(), 1e-6);

  // Wrong KV heads, dtype, slot count or layer.
  EXPECT_THROW(cache.Attend(0, q, at::randn({2, 2, 3, 8}), at::randn({2, 2, 3, 8}), *batch, 0),
               c10::Error);
  EXPECT_THROW(cache.Attend(0, q, k.to(at::kDouble), v.to(at::kDouble), *batch, 0), c10::Error);
  EXPECT_THROW(cache.Attend(0, q, k.narrow(2, 0, 2), v.narrow(2, 0, 2), *batch, 0), c10::Error);
  EXPECT_THROW(cache.Attend(1, q, k, v, *batch, 0), c10::Error);
}

TEST(PagedKvPoolTest, SizesAndBytesPerBlock) {
  EXPECT_EQ(PagedKvPool::BytesPerBlock(2, 16, 2, 8, at::kFloat), 2u * 2 * 16 * 2 * 8 * 4);
  EXPECT_EQ(PagedKvPool::BytesPerBlock(2, 16, 2, 8, at::kBFloat16), 2u * 2 * 16 * 2 * 8 * 2);
  EXPECT_EQ(PagedKvPool::BytesPerBlock(32, 16, 8, 128, at::kHalf), 2u * 32 * 16 * 8 * 128 * 2);
  // A block holds block_size tokens of the model's KV cache.
  for (const std::string& variant : {"llama", "qwen2", "mistral"}) {
    const ModelConfig& c = Loaded(variant).config();
    for (auto [dtype, scalar] :
         {std::pair{DType::kF32, at::kFloat}, {DType::kBF16, at::kBFloat16}}) {
      EXPECT_EQ(PagedKvPool::BytesPerBlock(c.num_hidden_layers, 16, c.num_key_value_heads,
                                           c.head_dim, scalar),
                16 * AccountParameters(c, dtype).kv_cache_bytes_per_token)
          << variant;
    }
  }
  PagedKvPool pool(3, 5, 4, 2, 8, at::TensorOptions(at::kBFloat16));
  EXPECT_EQ(pool.num_layers(), 3);
  EXPECT_EQ(pool.num_slots(), 20);
  EXPECT_EQ(pool.keys(2).sizes(), (std::vector<int64_t>{20, 2, 8}));
  EXPECT_EQ(pool.values(0).scalar_type(), at::kBFloat16);
  EXPECT_EQ(pool.bytes(), 5 * PagedKvPool::BytesPerBlock(3, 4, 2, 8, at::kBFloat16));
  EXPECT_THROW(PagedKvPool(1, 0, 4, 1, 8, at::TensorOptions()), c10::Error);
}

// A pipeline stage's pool holds its own layers only, numbered as the model
// numbers them: a step attends through layers 3 and 4, not 0 or 5.
TEST(PagedKvPoolTest, AStagesPoolHoldsItsLayersByTheirNumbers) {
  PagedKvPool pool(2, 4, 4, 1, 8, at::TensorOptions(), /*first_layer=*/3);
  EXPECT_EQ(pool.first_layer(), 3);
  EXPECT_EQ(pool.num_layers(), 2);
  EXPECT_EQ(pool.bytes(), 4 * PagedKvPool::BytesPerBlock(2, 4, 1, 8, at::kFloat));
  EXPECT_EQ(pool.keys(4).sizes(), (std::vector<int64_t>{16, 1, 8}));
  EXPECT_THROW(pool.keys(2), std::out_of_range);
  PagedKvCache cache(&pool, {{1}}, {0});
  auto batch = cache.BeginStep(at::ones({1, 2}, at::kBool), Positions({{0, 1}}));
  ASSERT_TRUE(batch.ok()) << batch.status().message();
  const at::Tensor q = at::randn({1, 2, 2, 8}), k = at::randn({1, 1, 2, 8}),
                   v = at::randn({1, 1, 2, 8});
  for (int64_t layer : {3, 4}) {
    EXPECT_TRUE(cache.Attend(layer, q, k, v, *batch, 0).isfinite().all().item<bool>());
    EXPECT_TRUE(at::equal(pool.keys(layer).narrow(0, 4, 2).squeeze(1), k[0][0]));
  }
  EXPECT_THROW(cache.Attend(0, q, k, v, *batch, 0), c10::Error);
  EXPECT_THROW(cache.Attend(5, q, k, v, *batch, 0), c10::Error);
  EXPECT_THROW(PagedKvPool(1, 4, 4, 1, 8, at::TensorOptions(), -1), c10::Error);
}

}  // namespace
}  // namespace compass::model
