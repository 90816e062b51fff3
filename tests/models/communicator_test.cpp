// The in-process communicator on its own: N = 1, 2, 4 ranks as threads,
// repeated collectives of several shapes and dtypes, inconsistent calls, and
// failures (a rank that throws, one that leaves early, one that never comes)
// ending every rank's wait.
#include "models/communicator.h"

#include "collective_checks.h"

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
  RunRanks(n, [&](Communicator& comm) { CheckCollectives(comm, n, c10::kCPU, checks); });
  EXPECT_EQ(checks.load(), n * 20 * 4);
  // The same through a RankGroup, run twice (each Run a fresh group).
  const std::unique_ptr<RankGroup> group = InProcessRanks(n);
  EXPECT_EQ(group->size(), n);
  for (int run = 0; run < 2; ++run) {
    group->Run([&](Communicator& comm) { CheckCollectives(comm, n, c10::kCPU, checks); });
  }
  EXPECT_EQ(checks.load(), 3 * n * 20 * 4);
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
