// The attention paths behind the KV cache: which mask SDPA gets, SDPA
// against eager on random inputs (padding, grouped heads, sliding windows),
// and the contiguous cache's steps against one step without a cache.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "models/kv_cache.h"

namespace compass::model {
namespace {

class AttentionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    at::set_num_threads(2);
    at::manual_seed(11);
  }
  static double MaxDiff(const at::Tensor& a, const at::Tensor& b) {
    return (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item<double>();
  }
  static AttentionBatch WithImpl(AttentionBatch batch, AttentionImpl impl) {
    batch.impl = impl;
    return batch;
  }
};

TEST_F(AttentionTest, ImplNamesParse) {
  EXPECT_EQ(*ParseAttentionImpl("eager"), AttentionImpl::kEager);
  EXPECT_EQ(*ParseAttentionImpl("sdpa"), AttentionImpl::kSdpa);
  EXPECT_STREQ(AttentionImplName(AttentionImpl::kSdpa), "sdpa");
  EXPECT_EQ(ParseAttentionImpl("flash").status().code(), COMPASS_INVALID_ARGUMENT);
}

TEST_F(AttentionTest, SdpaGetsTheLeastMaskThatIsExact) {
  const at::Tensor positions = at::arange(6, at::kLong).repeat({2, 1});
  // A fresh step of tokens only: causal, no mask; also when the window
  // cannot bind (distance 5 < 6).
  const AttentionBatch fresh = StepBatch({}, positions);
  EXPECT_TRUE(fresh.all_tokens);
  EXPECT_EQ(fresh.max_distance, 5);
  for (int64_t window : {0, 6}) {
    const SdpaMask m = fresh.ForSdpa(window, c10::kCPU);
    EXPECT_TRUE(m.is_causal && !m.mask.defined()) << window;
  }
  // A window that binds needs the mask.
  const SdpaMask windowed = fresh.ForSdpa(5, c10::kCPU);
  EXPECT_FALSE(windowed.is_causal);
  ASSERT_TRUE(windowed.mask.defined());
  EXPECT_EQ(windowed.mask.scalar_type(), at::kBool);
  EXPECT_EQ(windowed.mask.sizes(), (std::vector<int64_t>{2, 1, 6, 6}));
  // Padding needs the mask.
  at::Tensor valid = at::ones({2, 6}, at::kBool);
  valid[1][0] = false;
  const AttentionBatch padded = StepBatch(valid, positions);
  EXPECT_FALSE(padded.all_tokens);
  EXPECT_TRUE(padded.ForSdpa(0, c10::kCPU).mask.defined());

  // Through a cache: a decode step of tokens sees every key, no mask; a
  // chunk of two needs one (the causal corner is at the bottom right).
  ContiguousKvCache cache(2, 16, 1);
  ASSERT_TRUE(cache.BeginStep({}, positions).ok());
  auto decode = cache.BeginStep({}, at::full({2, 1}, 6, at::kLong));
  ASSERT_TRUE(decode.ok());
  EXPECT_EQ(decode->query_offset, 6);
  EXPECT_EQ(decode->max_distance, 6);
  const SdpaMask d = decode->ForSdpa(0, c10::kCPU);
  EXPECT_TRUE(!d.is_causal && !d.mask.defined());
  EXPECT_TRUE(decode->ForSdpa(4, c10::kCPU).mask.defined());
  auto chunk = cache.BeginStep({}, at::arange(7, 9, at::kLong).repeat({2, 1}));
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->ForSdpa(0, c10::kCPU).mask.sizes(), (std::vector<int64_t>{2, 1, 2, 9}));
  // Padding in the history keeps the mask for later steps.
  ContiguousKvCache padded_cache(2, 16, 1);
  ASSERT_TRUE(padded_cache.BeginStep(valid, positions).ok());
  auto later = padded_cache.BeginStep({}, at::full({2, 1}, 6, at::kLong));
  ASSERT_TRUE(later.ok());
  EXPECT_FALSE(later->all_tokens);
  EXPECT_TRUE(later->ForSdpa(0, c10::kCPU).mask.defined());
}

// Random q, k, v with grouped heads; rows padded left and right, a padding
// query, positions with a gap; full attention and windows that bind.
TEST_F(AttentionTest, SdpaMatchesEagerOnPaddedGroupedWindowedBatches) {
  const int64_t b = 3, heads = 4, t = 9, d = 16;
  at::Tensor positions = at::zeros({b, t}, at::kLong);
  at::Tensor valid = at::ones({b, t}, at::kBool);
  positions[0].copy_(at::arange(t, at::kLong));
  valid[1].narrow(0, 0, 3).fill_(false);  // left padding
  positions[1].narrow(0, 3, 6).copy_(at::arange(6, at::kLong));
  valid[2].narrow(0, 7, 2).fill_(false);  // right padding, positions with a gap
  positions[2].narrow(0, 0, 7).copy_(at::tensor({0, 1, 2, 10, 11, 12, 13}, at::kLong));
  for (int64_t kv_heads : {1, 2, 4}) {
    const at::Tensor q = at::randn({b, heads, t, d});
    const at::Tensor k = at::randn({b, kv_heads, t, d});
    const at::Tensor v = at::randn({b, kv_heads, t, d});
    for (const at::Tensor& step_valid : {at::Tensor(), valid}) {
      const AttentionBatch batch = StepBatch(step_valid, positions);
      for (int64_t window : {0, 3, 100}) {
        const at::Tensor eager =
            DenseAttention(q, k, v, WithImpl(batch, AttentionImpl::kEager), window);
        const at::Tensor sdpa =
            DenseAttention(q, k, v, WithImpl(batch, AttentionImpl::kSdpa), window);
        EXPECT_EQ(sdpa.sizes(), eager.sizes());
        EXPECT_LE(MaxDiff(sdpa, eager), 1e-5) << kv_heads << " window " << window;
        EXPECT_FALSE(sdpa.isnan().any().item<bool>());
      }
    }
  }
}

// Prefill in chunks, then decode steps, through the cache: the same as one
// step over the whole sequence, on both paths.
TEST_F(AttentionTest, CacheStepsMatchOneStepWithoutCache) {
  const int64_t b = 2, heads = 4, kv_heads = 2, t = 12, d = 8;
  const at::Tensor q = at::randn({b, heads, t, d});
  const at::Tensor k = at::randn({b, kv_heads, t, d});
  const at::Tensor v = at::randn({b, kv_heads, t, d});
  at::Tensor valid = at::ones({b, t}, at::kBool);
  valid[1].narrow(0, 0, 2).fill_(false);
  at::Tensor positions = at::arange(t, at::kLong).repeat({b, 1});
  positions[1] = (positions[1] - 2).clamp_min(0);
  for (AttentionImpl impl : {AttentionImpl::kEager, AttentionImpl::kSdpa}) {
    for (const at::Tensor& rows_valid : {at::Tensor(), valid}) {
      for (int64_t window : {0, 4}) {
        const at::Tensor whole =
            DenseAttention(q, k, v, WithImpl(StepBatch(rows_valid, positions), impl), window);
        ContiguousKvCache cache(b, t, 1);
        cache.Allocate(0, kv_heads, d, q.options());
        const uint64_t bytes = cache.allocated_bytes();
        std::vector<at::Tensor> parts;
        for (auto [start, n] :
             {std::pair<int64_t, int64_t>{0, 5}, {5, 4}, {9, 1}, {10, 1}, {11, 1}}) {
          const at::Tensor step_valid =
              rows_valid.defined() ? rows_valid.narrow(1, start, n) : at::Tensor();
          auto batch = cache.BeginStep(step_valid, positions.narrow(1, start, n));
          ASSERT_TRUE(batch.ok()) << batch.status().message();
          parts.push_back(cache.Attend(0, q.narrow(2, start, n), k.narrow(2, start, n),
                                       v.narrow(2, start, n), WithImpl(*batch, impl), window));
        }
        EXPECT_EQ(cache.allocated_bytes(), bytes);  // nothing reallocated
        EXPECT_LE(MaxDiff(at::cat(parts, 2), whole), 1e-5)
            << AttentionImplName(impl) << " window " << window;
      }
    }
  }
}

// Rows dropped between steps (finished sequences leaving a batch): the
// remaining rows' later steps equal those of a cache that only ever held
// them, with the buffers kept in place for rows kept in order.
TEST_F(AttentionTest, KeepRowsDropsRowsBetweenSteps) {
  const int64_t b = 3, heads = 4, kv_heads = 2, t = 10, d = 8, prefill = 6;
  const at::Tensor q = at::randn({b, heads, t, d});
  const at::Tensor k = at::randn({b, kv_heads, t, d});
  const at::Tensor v = at::randn({b, kv_heads, t, d});
  at::Tensor valid = at::ones({b, t}, at::kBool);
  valid[1].narrow(0, 0, 3).fill_(false);  // left padding in rows 1 and 2
  valid[2].narrow(0, 0, 1).fill_(false);
  at::Tensor positions = at::arange(t, at::kLong).repeat({b, 1});
  positions[1] = (positions[1] - 3).clamp_min(0);
  positions[2] = (positions[2] - 1).clamp_min(0);
  for (AttentionImpl impl : {AttentionImpl::kEager, AttentionImpl::kSdpa}) {
    for (const std::vector<int64_t>& kept :
         {std::vector<int64_t>{0, 2}, std::vector<int64_t>{2}, std::vector<int64_t>{2, 0}}) {
      const at::Tensor rows = at::tensor(kept, at::kLong);
      auto sub = [&](const at::Tensor& x) { return x.index_select(0, rows); };
      const at::Tensor whole = DenseAttention(
          sub(q), sub(k), sub(v), WithImpl(StepBatch(sub(valid), sub(positions)), impl), 0);
      ContiguousKvCache cache(b, t, 1);
      auto first = cache.BeginStep(valid.narrow(1, 0, prefill), positions.narrow(1, 0, prefill));
      ASSERT_TRUE(first.ok());
      const at::Tensor head = cache.Attend(0, q.narrow(2, 0, prefill), k.narrow(2, 0, prefill),
                                           v.narrow(2, 0, prefill), WithImpl(*first, impl), 0);
      const void* buffer = cache.Stored(0).first.data_ptr();
      ASSERT_TRUE(cache.KeepRows(kept).ok());
      EXPECT_EQ(cache.batch_size(), static_cast<int64_t>(kept.size()));
      EXPECT_EQ(cache.length(), prefill);
      EXPECT_EQ(cache.Stored(0).first.data_ptr(), buffer);  // moved within its buffer
      std::vector<at::Tensor> parts = {head.index_select(0, rows)};
      for (int64_t s = prefill; s < t; ++s) {
        auto step = cache.BeginStep({}, sub(positions).narrow(1, s, 1));
        ASSERT_TRUE(step.ok()) << step.status().message();
        parts.push_back(cache.Attend(0, sub(q).narrow(2, s, 1), sub(k).narrow(2, s, 1),
                                     sub(v).narrow(2, s, 1), WithImpl(*step, impl), 0));
      }
      EXPECT_LE(MaxDiff(at::cat(parts, 2), whole), 1e-5)
          << AttentionImplName(impl) << " keeping " << kept.size() << " rows";
      // The kept rows' keys sit in their new rows.
      EXPECT_TRUE(
          at::equal(cache.Stored(0).first.narrow(2, 0, prefill), sub(k).narrow(2, 0, prefill)));
    }
  }
  ContiguousKvCache cache(2, 4, 1);
  ASSERT_TRUE(cache.BeginStep({}, at::zeros({2, 1}, at::kLong)).ok());
  EXPECT_EQ(cache.KeepRows({}).code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(cache.KeepRows({1, 1}).code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(cache.KeepRows({2}).code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(cache.batch_size(), 2);
  // Dropping the only padded row leaves a history of tokens: no mask.
  ContiguousKvCache padded(2, 8, 1);
  at::Tensor pad = at::ones({2, 3}, at::kBool);
  pad[1][0] = false;
  ASSERT_TRUE(padded.BeginStep(pad, at::arange(3, at::kLong).repeat({2, 1})).ok());
  ASSERT_TRUE(padded.KeepRows({0}).ok());
  auto decode = padded.BeginStep({}, at::full({1, 1}, 3, at::kLong));
  ASSERT_TRUE(decode.ok());
  EXPECT_TRUE(decode->all_tokens);
  EXPECT_FALSE(decode->ForSdpa(0, c10::kCPU).mask.defined());
}

// Rows that join after a shorter prompt leave empty slots before theirs.
// Whatever the buffers held there before (here NaN from an earlier batch),
// the next step's attention must stay finite: masked weights are zero, and
// 0 x NaN is NaN, so the slots must not keep old values.
TEST_F(AttentionTest, EmptySlotsBeforeJoinedRowsHoldNoLeftovers) {
  const int64_t heads = 4, kv_heads = 2, d = 8;
  for (AttentionImpl impl : {AttentionImpl::kEager, AttentionImpl::kSdpa}) {
    ContiguousKvCache cache(2, 12, 1);
    auto poison = cache.BeginStep({}, at::arange(12, at::kLong).repeat({2, 1}));
    ASSERT_TRUE(poison.ok());
    const at::Tensor nan = at::full({2, kv_heads, 12, d}, NAN);
    cache.Attend(0, at::randn({2, heads, 12, d}), nan, nan, WithImpl(*poison, impl), 0);
    cache.Clear();
    for (int64_t n : {8, 5}) {
      ContiguousKvCache own(1, n, 1);
      auto step = own.BeginStep({}, at::arange(n, at::kLong).unsqueeze(0));
      ASSERT_TRUE(step.ok());
      own.Attend(0, at::randn({1, heads, n, d}), at::randn({1, kv_heads, n, d}),
                 at::randn({1, kv_heads, n, d}), WithImpl(*step, impl), 0);
      ASSERT_TRUE(cache.AppendRows(own).ok());
    }
    auto step = cache.BeginStep({}, at::tensor({8, 5}, at::kLong).unsqueeze(1));
    ASSERT_TRUE(step.ok());
    const at::Tensor out =
        cache.Attend(0, at::randn({2, heads, 1, d}), at::randn({2, kv_heads, 1, d}),
                     at::randn({2, kv_heads, 1, d}), WithImpl(*step, impl), 0);
    EXPECT_TRUE(at::isfinite(out).all().item<bool>()) << AttentionImplName(impl);
  }
}

// Sequences prefilled in caches of their own join a running batch
// (continuous batching): their later steps equal attention over each whole
// sequence alone, right-aligned after a shorter prompt.
TEST_F(AttentionTest, AppendRowsJoinsPrefilledRowsToABatch) {
  const int64_t heads = 4, kv_heads = 2, d = 8;
  const int64_t lengths[2] = {10, 7}, prefill[2] = {8, 5};
  std::vector<at::Tensor> q, k, v;
  for (int64_t n : lengths) {
    q.push_back(at::randn({1, heads, n, d}));
    k.push_back(at::randn({1, kv_heads, n, d}));
    v.push_back(at::randn({1, kv_heads, n, d}));
  }
  for (AttentionImpl impl : {AttentionImpl::kEager, AttentionImpl::kSdpa}) {
    ContiguousKvCache cache(2, 12, 1);
    cache.Clear();
    EXPECT_EQ(cache.batch_size(), 0);
    const uint64_t allocated_before = cache.allocated_bytes();
    for (int r = 0; r < 2; ++r) {
      ContiguousKvCache own(1, prefill[r], 1);
      auto step = own.BeginStep({}, at::arange(prefill[r], at::kLong).unsqueeze(0));
      ASSERT_TRUE(step.ok());
      own.Attend(0, q[r].narrow(2, 0, prefill[r]), k[r].narrow(2, 0, prefill[r]),
                 v[r].narrow(2, 0, prefill[r]), WithImpl(*step, impl), 0);
      ASSERT_TRUE(cache.AppendRows(own).ok());
    }
    EXPECT_EQ(allocated_before, 0u);
    EXPECT_EQ(cache.batch_size(), 2);
    EXPECT_EQ(cache.length(), 8);  // row 1 right-aligned after 3 empty slots
    for (int64_t s = 0; s < 2; ++s) {
      const at::Tensor positions = at::tensor({prefill[0] + s, prefill[1] + s}, at::kLong);
      auto step = cache.BeginStep({}, positions.unsqueeze(1));
      ASSERT_TRUE(step.ok());
      EXPECT_FALSE(step->all_tokens);
      auto at = [&](const std::vector<at::Tensor>& x, int r) {
        return x[r].narrow(2, prefill[r] + s, 1);
      };
      const at::Tensor out =
          cache.Attend(0, at::cat({at(q, 0), at(q, 1)}), at::cat({at(k, 0), at(k, 1)}),
                       at::cat({at(v, 0), at(v, 1)}), WithImpl(*step, impl), 0);
      for (int r = 0; r < 2; ++r) {
        const at::Tensor whole = DenseAttention(
            q[r], k[r], v[r],
            WithImpl(StepBatch({}, at::arange(lengths[r], at::kLong).unsqueeze(0)), impl), 0);
        EXPECT_LE(MaxDiff(out.narrow(0, r, 1), whole.narrow(2, prefill[r] + s, 1)), 1e-5)
            << AttentionImplName(impl) << " row " << r << " step " << s;
      }
    }
    // Longer rows cannot join; rows beyond the capacity cannot either.
    ContiguousKvCache longer(1, 11, 1);
    auto whole_step = longer.BeginStep({}, at::arange(11, at::kLong).unsqueeze(0));
    ASSERT_TRUE(whole_step.ok());
    longer.Attend(0, at::randn({1, heads, 11, d}), at::randn({1, kv_heads, 11, d}),
                  at::randn({1, kv_heads, 11, d}), *whole_step, 0);
    ASSERT_TRUE(cache.KeepRows({1}).ok());
    EXPECT_EQ(cache.AppendRows(longer).code(), COMPASS_INVALID_ARGUMENT);
    ContiguousKvCache two(2, 4, 1);
    ASSERT_TRUE(two.BeginStep({}, at::zeros({2, 1}, at::kLong)).ok());
    EXPECT_EQ(cache.AppendRows(two).code(), COMPASS_INVALID_ARGUMENT);
  }
}

TEST_F(AttentionTest, MisuseThrows) {
  const at::Tensor positions = at::arange(4, at::kLong).unsqueeze(0);
  const AttentionBatch batch = StepBatch({}, positions);
  const at::Tensor q = at::randn({1, 3, 4, 8}), kv = at::randn({1, 2, 4, 8});
  EXPECT_THROW(DenseAttention(q, kv, kv, batch, 0), c10::Error);  // 3 heads over 2
  const at::Tensor k5 = at::randn({1, 1, 5, 8});
  EXPECT_THROW(DenseAttention(q, k5, k5, batch, 0), c10::Error);  // 5 keys, batch has 4
  ContiguousKvCache cache(1, 8, 1);
  auto step = cache.BeginStep({}, positions);
  ASSERT_TRUE(step.ok());
  cache.Allocate(0, 2, 8, at::TensorOptions().dtype(at::kFloat));
  const at::Tensor wrong = at::randn({1, 1, 4, 8});  // one KV head, the buffer has 2
  EXPECT_THROW(cache.Attend(0, at::randn({1, 2, 4, 8}), wrong, wrong, *step, 0), c10::Error);
}

}  // namespace
}  // namespace compass::model
