// The collectives every Communicator must get right, run by each rank of
// a group: all_reduce, all_gather along the first and last dimension,
// broadcast from a moving root and barrier, for several shapes and dtypes,
// repeated; then random floats that every rank must hold bit for bit.
#ifndef COMPASS_TESTS_MODELS_COLLECTIVE_CHECKS_H_
#define COMPASS_TESTS_MODELS_COLLECTIVE_CHECKS_H_

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <atomic>

#include "models/communicator.h"

namespace compass::model {

// Called by every rank of a group of n on its device; counts its rounds in `checks`.
inline void CheckCollectives(Communicator& comm, int64_t n, c10::Device device,
                             std::atomic<int>& checks) {
  const int64_t r = comm.rank();
  EXPECT_EQ(comm.size(), n);
  for (int round = 0; round < 20; ++round) {
    for (auto dtype : {at::kFloat, at::kDouble, at::kLong, at::kBFloat16}) {
      const std::vector<int64_t> shape =
          round % 2 ? std::vector<int64_t>{3, 5} : std::vector<int64_t>{2, 1, 4};
      const auto options = at::TensorOptions().dtype(dtype).device(device);
      // all_reduce: sum over ranks of (rank + 1) * (round + 1).
      const at::Tensor x = at::full(shape, (r + 1) * (round + 1), options);
      comm.AllReduceSum(x);
      EXPECT_TRUE(at::equal(x, at::full(shape, n * (n + 1) / 2 * (round + 1), options)));
      // all_gather along dim 0 and the last dim: rank order.
      const at::Tensor mine = at::full(shape, r, options);
      const at::Tensor rows = comm.AllGather(mine, 0);
      EXPECT_EQ(rows.size(0), shape[0] * n);
      for (int64_t k = 0; k < n; ++k) {
        EXPECT_TRUE(at::equal(rows.narrow(0, k * shape[0], shape[0]), at::full(shape, k, options)));
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
  at::Tensor noise =
      at::randn({64}, at::TensorOptions().dtype(at::kFloat).device(device)) * (r + 1);
  comm.AllReduceSum(noise);
  const at::Tensor all = comm.AllGather(noise.unsqueeze(0), 0);
  for (int64_t k = 0; k < n; ++k) EXPECT_TRUE(at::equal(all[k], noise));
}

}  // namespace compass::model

#endif  // COMPASS_TESTS_MODELS_COLLECTIVE_CHECKS_H_
