// NCCL ranks: the refusals everywhere; on a machine with GPUs the same
// collective checks as the in-process communicator (a world of one, and of
// every GPU present), and a rank that throws ending the others' wait.
#include "models/nccl_communicator.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>

#include "collective_checks.h"

namespace compass::model {
namespace {

TEST(NcclRanksTest, RefusesDevicesThatAreNotOneGpuPerRank) {
  auto none = NcclRanks({});
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), COMPASS_INVALID_ARGUMENT);
  auto cpu = NcclRanks({c10::Device("cpu")});
  ASSERT_FALSE(cpu.ok());
  EXPECT_NE(cpu.status().message().find("rank on cpu, which is not a CUDA device"),
            std::string::npos)
      << cpu.status().message();
  auto twice = NcclRanks({c10::Device("cuda:0"), c10::Device("cuda:1"), c10::Device("cuda:0")});
  ASSERT_FALSE(twice.ok());
  EXPECT_NE(twice.status().message().find("cuda:0 given twice"), std::string::npos)
      << twice.status().message();
}

TEST(NcclRanksTest, WithoutNcclInTheBuildSaysSo) {
  if (NcclBuilt()) GTEST_SKIP() << "this build has NCCL";
  auto ranks = NcclRanks({c10::Device("cuda:0")});
  ASSERT_FALSE(ranks.ok());
  EXPECT_EQ(ranks.status().code(), COMPASS_UNSUPPORTED);
  EXPECT_NE(ranks.status().message().find("no NCCL"), std::string::npos);
}

TEST(NcclRanksTest, CollectivesOnEveryGpuWhenGpusArePresent) {
  if (!at::hasCUDA() || !NcclBuilt()) GTEST_SKIP() << "no CUDA device or no NCCL";
  const int64_t gpus = at::getNumGPUs();
  for (int64_t n : {int64_t{1}, gpus}) {
    std::vector<c10::Device> devices;
    for (int64_t i = 0; i < n; ++i)
      devices.emplace_back(c10::kCUDA, static_cast<c10::DeviceIndex>(i));
    auto ranks = NcclRanks(devices);
    ASSERT_TRUE(ranks.ok()) << ranks.status().message();
    std::atomic<int> checks{0};
    (*ranks)->Run(
        [&](Communicator& comm) { CheckCollectives(comm, n, devices[comm.rank()], checks); });
    EXPECT_EQ(checks.load(), n * 20 * 4) << n << " GPU(s)";
    if (n == 1) continue;
    // A rank that throws before a collective: the others end, the cause is
    // rethrown, and the aborted group refuses every later collective.
    try {
      (*ranks)->Run([&](Communicator& comm) {
        if (comm.rank() == 1) throw std::runtime_error("rank 1 gave up");
        at::Tensor x = at::ones({4}, at::TensorOptions().device(devices[comm.rank()]));
        comm.AllReduceSum(x);
        comm.Barrier();
      });
      FAIL() << "Run returned";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "rank 1 gave up");
    }
    EXPECT_THROW((*ranks)->Run([&](Communicator& comm) { comm.Barrier(); }), CollectiveError);
  }
}

}  // namespace
}  // namespace compass::model
