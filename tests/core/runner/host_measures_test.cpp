// The host's own measures: nearest-rank percentiles, and the process's peak
// resident memory, reset and then raised by a large allocation.
#include "runner/host_measures.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>

namespace compass {
namespace {

TEST(HostMeasures, NearestRankPercentiles) {
  EXPECT_TRUE(std::isnan(NearestRankPercentile({}, 0.5)));
  const std::vector<double> v = {5, 1, 4, 2, 3, 10, 9, 8, 7, 6};
  EXPECT_DOUBLE_EQ(NearestRankPercentile(v, 0.5), 5);
  EXPECT_DOUBLE_EQ(NearestRankPercentile(v, 0.9), 9);
  EXPECT_DOUBLE_EQ(NearestRankPercentile(v, 0.99), 10);
  EXPECT_DOUBLE_EQ(NearestRankPercentile(v, 1.0), 10);
  EXPECT_DOUBLE_EQ(NearestRankPercentile(v, 0.0), 1);
  EXPECT_DOUBLE_EQ(NearestRankPercentile({7}, 0.9), 7);
}

TEST(HostMeasures, PeakMemoryFollowsAnAllocationAfterAReset) {
  if (!ResetPeakHostMemory()) GTEST_SKIP() << "no /proc/self/clear_refs here";
  const uint64_t before = PeakHostMemory();
  ASSERT_GT(before, 0u);
  constexpr size_t kBytes = 256u << 20;
  auto block = std::make_unique<char[]>(kBytes);
  std::memset(block.get(), 1, kBytes);  // resident, not just reserved
  const uint64_t after = PeakHostMemory();
  EXPECT_GE(after, before + kBytes / 2) << before << " -> " << after;
  block.reset();
  ASSERT_TRUE(ResetPeakHostMemory());
  EXPECT_LT(PeakHostMemory(), after - kBytes / 2);  // the peak starts again from now
}

}  // namespace
}  // namespace compass
