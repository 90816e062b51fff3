// The in-process communicator on its own: N = 1, 2, 4 ranks as threads,
// repeated collectives of several shapes and dtypes, inconsistent calls, and
// failures (a rank that throws, one that leaves early, one that never comes)
// ending every rank's wait.
#include "models/communicator.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace compass::model {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

class CommunicatorTest : public ::testing::TestWithParam<int64_t> {};

TEST_P(CommunicatorTest, CollectivesOfSeveralShapesAndDtypesRepeated) {
  const int64_t n = GetParam();
  std::atomic<int> checks{0};
  RunRanks(n, [&](Communicator& comm) {
    const int64_t r = comm.rank();
    EXPECT_EQ(comm.size(), n);
    for (int round = 0; round < 20; ++round) {
      for (auto dtype : {at::kFloat, at::kDouble, at::kLong, at::kBFloat16}) {
        const std::vector<int64_t> shape =
            round % 2 ? std::vector<int64_t>{3, 5} : std::vector<int64_t>{2, 1, 4};
        const auto options = at::TensorOptions().dtype(dtype);
        // all_reduce: sum over ranks of (rank + 1) * (round + 1).
        const at::Tensor x = at::full(shape, (r + 1) * (round + 1), options);
        comm.AllReduceSum(x);
        EXPECT_TRUE(at::equal(x, at::full(shape, n * (n + 1) / 2 * (round + 1), options)));
        // all_gather along dim 0 and the last dim: rank order.
        const at::Tensor mine = at::full(shape, r, options);
        const at::Tensor rows = comm.AllGather(mine, 0);
        EXPECT_EQ(rows.size(0), shape[0] * n);
        for (int64_t k = 0; k < n; ++k) {
          EXPECT_TRUE(
              at::equal(rows.narrow(0, k * shape[0], shape[0]), at::full(shape, k, options)));
        }
        const at::Tensor cols = comm.AllGather(mine, -1);
        EXPECT_EQ(cols.size(-1), shape.back() * n);
        // Every rank gets its own copy.
        rows.fill_(-1);
        // broadcast from a root that moves with the round.
        const int64_t root = round % n;
        const at::Tensor b = at::full(shape, r == root ? 100 + round : -7, options);
        comm.Broadcast(b, root);
        EXPECT_TRUE(at::equal(b, at::full(shape, 100 + round, options)));
        comm.Barrier();
        ++checks;
      }
    }
    // Random floats: every rank holds the same bits.
    at::Tensor noise = at::randn({64}, at::TensorOptions().dtype(at::kFloat)) * (r + 1);
    comm.AllReduceSum(noise);
    const at::Tensor all = comm.AllGather(noise.unsqueeze(0), 0);
    for (int64_t k = 0; k < n; ++k) EXPECT_TRUE(at::equal(all[k], noise));
  });
  EXPECT_EQ(checks.load(), n * 20 * 4);
}

INSTANTIATE_TEST_SUITE_P(Ranks, CommunicatorTest, ::testing::Values(1, 2, 4),
                         [](const auto& info) { return std::to_string(info.param); });

TEST(CommunicatorErrorsTest, InconsistentCallsThrowOnEveryRankAndTheGroupGoesOn) {
  std::atomic<int> errors{0};
  RunRanks(3, [&](Communicator& comm) {
    // Shapes differ on rank 2.
    const at::Tensor x = at::ones({comm.rank() == 2 ? 3 : 2});
    try {
      comm.AllReduceSum(x);
    } catch (const CollectiveError& e) {
      EXPECT_NE(std::string(e.what()).find("rank 2 brings [3] Float"), std::string::npos)
          << e.what();
      ++errors;
    }
    // Different collectives.
    try {
      if (comm.rank() == 1) {
        comm.Barrier();
      } else {
        comm.Broadcast(at::ones({2}), 0);
      }
    } catch (const CollectiveError& e) {
      EXPECT_NE(std::string(e.what()).find("inconsistently"), std::string::npos) << e.what();
      ++errors;
    }
    // Still usable.
    const at::Tensor y = at::ones({2});
    comm.AllReduceSum(y);
    EXPECT_TRUE(at::equal(y, at::full({2}, 3.0)));
  });
  EXPECT_EQ(errors.load(), 6);
}

TEST(CommunicatorErrorsTest, ARankThatThrowsEndsTheOthersWaitAndIsRethrown) {
  for (int64_t n : {2, 4}) {
    std::atomic<int> aborted{0};
    const auto start = Clock::now();
    try {
      RunRanks(
          n,
          [&](Communicator& comm) {
            comm.Barrier();
            if (comm.rank() == 1) throw std::runtime_error("rank 1 ran out of luck");
            try {
              comm.AllReduceSum(at::ones({4}));  // rank 1 never comes
            } catch (const CollectiveError& e) {
              EXPECT_NE(std::string(e.what()).find("rank 1 aborted the group: rank 1 ran out"),
                        std::string::npos)
                  << e.what();
              ++aborted;
              throw;
            }
          },
          std::chrono::minutes(10));
      FAIL() << "RunRanks returned";
    } catch (const std::runtime_error& e) {
      // The cause, not the consequences.
      EXPECT_STREQ(e.what(), "rank 1 ran out of luck");
    }
    EXPECT_EQ(aborted.load(), n - 1);
    EXPECT_LT(Seconds(start), 30.0);  // not the ten-minute timeout
  }
}

TEST(CommunicatorErrorsTest, ARankThatLeavesEarlyEndsTheOthersWait) {
  const auto start = Clock::now();
  try {
    RunRanks(3, [&](Communicator& comm) {
      if (comm.rank() == 0) return;  // one collective fewer than the others
      comm.Barrier();
    });
    FAIL() << "RunRanks returned";
  } catch (const CollectiveError& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0 aborted the group"), std::string::npos)
        << e.what();
  }
  EXPECT_LT(Seconds(start), 30.0);
}

TEST(CommunicatorErrorsTest, AWaitEndsAfterTheTimeoutAndAbortsTheGroup) {
  // Without RunRanks: rank 1's thread never calls the collective.
  auto group = InProcessGroup::Create(2, std::chrono::milliseconds(200));
  auto rank0 = group->Rank(0);
  const auto start = Clock::now();
  try {
    rank0->AllReduceSum(at::ones({2}));
    FAIL() << "returned";
  } catch (const CollectiveError& e) {
    EXPECT_NE(std::string(e.what()).find("waited 200 ms in all_reduce_sum for rank(s) 1"),
              std::string::npos)
        << e.what();
  }
  EXPECT_GE(Seconds(start), 0.2);
  EXPECT_TRUE(group->aborted());
  // Later collectives fail at once, on every rank.
  EXPECT_THROW(group->Rank(1)->Barrier(), CollectiveError);
  EXPECT_THROW(InProcessGroup::Create(2)->Rank(2), std::invalid_argument);
}

TEST(CommunicatorErrorsTest, AbortWakesAWaitingRank) {
  auto group = InProcessGroup::Create(2);
  std::thread waiter([&] { EXPECT_THROW(group->Rank(0)->Barrier(), CollectiveError); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  group->Abort(1, "test");
  waiter.join();
}

}  // namespace
}  // namespace compass::model
