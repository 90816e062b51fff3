// Collectives over the ranks of a group (tensor-parallel shards, pipeline
// stages), on at::Tensor.
//
// Communicator is what model code calls; InProcessGroup implements it for N
// ranks that are N threads of this process (virtual devices cpu:0..cpu:N-1,
// or several GPUs of one process), so that tensor-parallel and pipeline code
// runs and is tested without GPUs. NcclRanks (nccl_communicator.h)
// implements it with NCCL for ranks on CUDA devices.
//
// Contract (as NCCL's): every rank of the group calls the same collectives
// in the same order, with tensors of the same shape and dtype (broadcast:
// the same root). A collective returns on a rank once every rank has
// joined it. Results are bit-identical on every rank: all_reduce sums in
// rank order.
//
// Failures. A collective that the ranks call inconsistently (another
// collective, root, shape or dtype) throws CollectiveError on every rank and
// leaves the group usable. A rank that fails (throws) must abort the group
// (Abort, which RunRanks does for it): every rank waiting in a collective,
// and every later collective, then throws CollectiveError naming the
// aborting rank and its reason, so no rank waits forever on a rank that is
// gone. The same happens when a rank leaves (RunRanks: its function
// returned) while others still wait for it, and, as a last resort, when a
// collective waits longer than the group's timeout.
#ifndef COMPASS_MODELS_COMMUNICATOR_H_
#define COMPASS_MODELS_COMMUNICATOR_H_

#include <ATen/core/Tensor.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace compass::model {

// A collective that cannot complete: called inconsistently, or the group was
// aborted (a rank failed or left, or a wait timed out).
class CollectiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int64_t rank() const = 0;
  virtual int64_t size() const = 0;

  // Replaces `tensor` on every rank by the sum of every rank's `tensor`
  // (in place).
  virtual void AllReduceSum(const at::Tensor& tensor) = 0;
  // Every rank's `tensor` concatenated along `dim` in rank order, on this
  // rank's device. The tensors must have the same shape.
  virtual at::Tensor AllGather(const at::Tensor& tensor, int64_t dim = 0) = 0;
  // Replaces `tensor` on every rank by the root's (in place).
  virtual void Broadcast(const at::Tensor& tensor, int64_t root) = 0;
  // Returns once every rank has called it.
  virtual void Barrier() = 0;
};

// For DecoderLayer::Forward's AllReduce: sums a partial result over the
// ranks, in place (the partial sums it is given are its own temporaries).
std::function<at::Tensor(const at::Tensor&)> AllReduceSumOver(Communicator& communicator);

// The shared state of `size` in-process ranks. Thread-safe; outlives the
// communicators it hands out (they hold it).
class InProcessGroup : public std::enable_shared_from_this<InProcessGroup> {
 public:
  static std::shared_ptr<InProcessGroup> Create(
      int64_t size, std::chrono::milliseconds timeout = std::chrono::minutes(10));

  int64_t size() const { return size_; }
  // The communicator of `rank`, for the thread that runs it.
  std::unique_ptr<Communicator> Rank(int64_t rank);
  // Ends every pending and later collective with CollectiveError("rank R
  // aborted the group: <reason>"). The first abort's reason is kept.
  void Abort(int64_t rank, const std::string& reason);
  // `rank` will call no more collectives: a collective that waits for it,
  // now or later, aborts the group.
  void Leave(int64_t rank);
  bool aborted() const;

 private:
  enum class Op { kAllReduceSum, kAllGather, kBroadcast, kBarrier };
  friend class InProcessCommunicator;
  InProcessGroup(int64_t size, std::chrono::milliseconds timeout);

  // Joins the current collective with `input`; returns its result (the sum,
  // the concatenation, the root's tensor; undefined for a barrier), shared by
  // every rank and never written to.
  at::Tensor Join(int64_t rank, Op op, const at::Tensor& input, int64_t arg);
  at::Tensor Compute() const;  // with mu_ held, once every rank has joined
  void AbortLocked(int64_t rank, const std::string& reason);

  const int64_t size_;
  const std::chrono::milliseconds timeout_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;  // collectives completed
  int64_t joined_ = 0;       // ranks in the current collective
  Op op_ = Op::kBarrier;
  int64_t arg_ = 0;         // root (broadcast), dim (all_gather)
  std::string first_call_;  // "rank R called op(arg)", of the current collective
  std::string mismatch_;
  std::vector<bool> joined_rank_;
  std::vector<at::Tensor> inputs_;
  std::vector<bool> left_;
  at::Tensor result_;
  std::string error_;  // of the last completed collective
  std::string abort_reason_;
};

// Runs `fn(communicator)` on `size` threads, one per rank of a fresh group,
// and joins them. A rank that throws aborts the group (the others'
// collectives throw CollectiveError); a rank whose fn returns leaves it.
// Rethrows the first exception a rank threw (the cause; the others'
// CollectiveErrors are its consequences).
void RunRanks(int64_t size, const std::function<void(Communicator&)>& fn,
              std::chrono::milliseconds timeout = std::chrono::minutes(10));

// The ranks of a model split over devices, as threads of this process with
// their communicators: what a tensor-parallel model runs each step on.
// Run has RunRanks' contract (a rank that throws aborts the group; the
// first exception is rethrown). One Run at a time.
class RankGroup {
 public:
  virtual ~RankGroup() = default;
  virtual int64_t size() const = 0;
  virtual void Run(const std::function<void(Communicator&)>& fn) = 0;
};

// Ranks on any devices (cpu:N virtual devices, or GPUs through host
// copies): every Run is a RunRanks over a fresh InProcessGroup.
std::unique_ptr<RankGroup> InProcessRanks(
    int64_t size, std::chrono::milliseconds timeout = std::chrono::minutes(10));

// RunRanks' threads over any group: runs body(rank) on `size` threads and
// joins them; a rank that throws calls abort(rank, reason) once, one whose
// body returns calls leave(rank); rethrows the first exception.
void RunRankThreads(int64_t size, const std::function<void(int64_t rank)>& body,
                    const std::function<void(int64_t rank, const std::string& reason)>& abort,
                    const std::function<void(int64_t rank)>& leave);

// What an exception says, without a backtrace (for abort reasons).
std::string DescribeException(std::exception_ptr error);

}  // namespace compass::model

#endif  // COMPASS_MODELS_COMMUNICATOR_H_
