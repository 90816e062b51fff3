// Collectives and transfers between the processes of one model copy:
// tensor-parallel ranks or pipeline stages that are processes, one device
// each, across nodes (docs/scale-out.md). Built on libtorch's c10d:
// ProcessGroupGloo for CPU tensors, ProcessGroupNCCL for CUDA tensors. The
// processes meet on a c10d store: the launch's TCPStore (as a client, under
// keys of the group's own) or a FileStore of the group's own.
//
// On CPUs all_reduce sums every rank's part in rank order, as the
// in-process group does, so ranks as processes give the bits ranks as
// threads give; on GPUs it is NCCL's own, as with NcclRanks.
//
// The Communicator contract holds (communicator.h), except that a rank that
// fails cannot end the others' pending collectives from its own process:
// they end when the failing process exits (its connections close) or after
// the group's timeout. Every failure throws CollectiveError naming the
// operation and the group's processes (rank, host, pid); a mismatch of
// shapes between ranks is the caller's bug, as with NCCL.
//
// Threading: collectives from one thread at a time. Send and Recv may run on
// two threads at once (a pipeline stage receives while it sends).
#ifndef COMPASS_MODELS_PROCESS_GROUP_H_
#define COMPASS_MODELS_PROCESS_GROUP_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/communicator.h"
#include "util/status.h"

namespace compass::model {

struct ProcessGroupOptions {
  // Where the launch met: "tcp://HOST:PORT" (a TCPStore that another
  // process serves) or "file:///PATH" (the group's file is PATH-<name>).
  std::string rendezvous;
  // Unique per launch and group: the prefix of the group's keys, or the
  // suffix of its file.
  std::string name;
  int64_t rank = 0, size = 1;
  // This rank's device: Gloo moves CPU tensors, NCCL CUDA ones.
  c10::Device device = c10::Device(c10::kCPU);
  // How long a collective or a transfer waits for the others.
  std::chrono::milliseconds timeout = std::chrono::minutes(10);
};

class ProcessCommunicator final : public Communicator {
 public:
  // Meets the group's other processes (waits up to the timeout for every
  // one). InvalidArgument for a malformed rendezvous or rank; Unavailable-
  // like Internal naming the rendezvous and the ranks missing when they do
  // not all come; Unsupported for CUDA without NCCL in this build.
  static StatusOr<std::unique_ptr<ProcessCommunicator>> Connect(const ProcessGroupOptions& options);
  ~ProcessCommunicator() override;

  int64_t rank() const override { return rank_; }
  int64_t size() const override { return size_; }
  void AllReduceSum(const at::Tensor& tensor) override;
  at::Tensor AllGather(const at::Tensor& tensor, int64_t dim = 0) override;
  void Broadcast(const at::Tensor& tensor, int64_t root) override;
  void Barrier() override;

  // Sends `tensor` to rank `dst`, which receives it with Recv into a
  // tensor of the same shape and dtype; returns once sent.
  void Send(const at::Tensor& tensor, int64_t dst);
  // Fills `tensor` (in place) with what rank `src` sends next.
  void Recv(const at::Tensor& tensor, int64_t src);

  // "rank 1 (host node7, pid 4242)".
  std::string Describe(int64_t rank) const;

 private:
  struct State;
  explicit ProcessCommunicator(std::unique_ptr<State> state, int64_t rank, int64_t size);
  [[noreturn]] void Fail(const std::string& op, const std::exception& error) const;

  std::unique_ptr<State> state_;
  int64_t rank_, size_;
};

}  // namespace compass::model

#endif  // COMPASS_MODELS_PROCESS_GROUP_H_
