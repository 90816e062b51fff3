#include "models/communicator.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <exception>
#include <thread>

namespace compass::model {
namespace {

std::string Describe(const at::Tensor& t) {
  if (!t.defined()) return "no tensor";
  return c10::str(t.sizes(), " ", t.scalar_type());
}

}  // namespace

std::string DescribeException(std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const c10::Error& error) {
    return error.what_without_backtrace();
  } catch (const std::exception& error) {
    return error.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

std::function<at::Tensor(const at::Tensor&)> AllReduceSumOver(Communicator& communicator) {
  return [&communicator](const at::Tensor& partial) {
    communicator.AllReduceSum(partial);
    return partial;
  };
}

// ---------------------------------------------------------------- InProcessCommunicator

class InProcessCommunicator : public Communicator {
 public:
  InProcessCommunicator(std::shared_ptr<InProcessGroup> group, int64_t rank)
      : group_(std::move(group)), rank_(rank) {}

  int64_t rank() const override { return rank_; }
  int64_t size() const override { return group_->size(); }

  void AllReduceSum(const at::Tensor& tensor) override {
    const at::Tensor sum = group_->Join(rank_, InProcessGroup::Op::kAllReduceSum, tensor, 0);
    tensor.copy_(sum);
  }
  at::Tensor AllGather(const at::Tensor& tensor, int64_t dim) override {
    const at::Tensor all = group_->Join(rank_, InProcessGroup::Op::kAllGather, tensor, dim);
    // A copy of its own for every rank: the result is shared.
    return all.to(tensor.device(), /*non_blocking=*/false, /*copy=*/true);
  }
  void Broadcast(const at::Tensor& tensor, int64_t root) override {
    const at::Tensor value = group_->Join(rank_, InProcessGroup::Op::kBroadcast, tensor, root);
    if (rank_ != root) tensor.copy_(value);
  }
  void Barrier() override { group_->Join(rank_, InProcessGroup::Op::kBarrier, at::Tensor(), 0); }

 private:
  std::shared_ptr<InProcessGroup> group_;
  int64_t rank_;
};

// ---------------------------------------------------------------- InProcessGroup

namespace {

const char* OpName(int op) {
  static const char* const kNames[] = {"all_reduce_sum", "all_gather", "broadcast", "barrier"};
  return kNames[op];
}

}  // namespace

InProcessGroup::InProcessGroup(int64_t size, std::chrono::milliseconds timeout)
    : size_(size),
      timeout_(timeout),
      joined_rank_(size, false),
      inputs_(size),
      left_(size, false) {}

std::shared_ptr<InProcessGroup> InProcessGroup::Create(int64_t size,
                                                       std::chrono::milliseconds timeout) {
  if (size < 1) throw std::invalid_argument("a group needs at least one rank");
  return std::shared_ptr<InProcessGroup>(new InProcessGroup(size, timeout));
}

std::unique_ptr<Communicator> InProcessGroup::Rank(int64_t rank) {
  if (rank < 0 || rank >= size_) {
    throw std::invalid_argument("rank " + std::to_string(rank) + " of a group of " +
                                std::to_string(size_));
  }
  return std::make_unique<InProcessCommunicator>(shared_from_this(), rank);
}

void InProcessGroup::AbortLocked(int64_t rank, const std::string& reason) {
  if (abort_reason_.empty()) {
    abort_reason_ = "rank " + std::to_string(rank) + " aborted the group: " + reason;
  }
  cv_.notify_all();
}

void InProcessGroup::Abort(int64_t rank, const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  AbortLocked(rank, reason);
}

void InProcessGroup::Leave(int64_t rank) {
  std::lock_guard<std::mutex> lock(mu_);
  left_.at(rank) = true;
  if (joined_ > 0) {
    AbortLocked(rank,
                std::string("it left while other ranks wait in ") + OpName(static_cast<int>(op_)));
  }
}

bool InProcessGroup::aborted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return !abort_reason_.empty();
}

at::Tensor InProcessGroup::Compute() const {
  const char* name = OpName(static_cast<int>(op_));
  if (op_ == Op::kBarrier) return at::Tensor();
  if (op_ == Op::kBroadcast && (arg_ < 0 || arg_ >= size_)) {
    throw CollectiveError(std::string(name) + ": root " + std::to_string(arg_) +
                          " is not a rank of a group of " + std::to_string(size_));
  }
  const at::Tensor& first = inputs_[0];
  for (int64_t r = 0; r < size_; ++r) {
    const at::Tensor& t = inputs_[r];
    if (!t.defined() || t.sizes() != first.sizes() || t.scalar_type() != first.scalar_type()) {
      throw CollectiveError(std::string(name) + ": rank " + std::to_string(r) + " brings " +
                            Describe(t) + ", rank 0 " + Describe(first));
    }
  }
  switch (op_) {
    case Op::kAllReduceSum: {
      // Summed in rank order on rank 0's device: every rank gets the same bits.
      at::Tensor sum = first.clone(at::MemoryFormat::Contiguous);
      for (int64_t r = 1; r < size_; ++r) sum.add_(inputs_[r].to(sum.device()));
      return sum;
    }
    case Op::kAllGather: {
      if (first.dim() == 0 || arg_ < -first.dim() || arg_ >= first.dim()) {
        throw CollectiveError(std::string(name) + ": dim " + std::to_string(arg_) + " of " +
                              Describe(first));
      }
      std::vector<at::Tensor> parts;
      for (const at::Tensor& t : inputs_) parts.push_back(t.to(first.device()));
      return at::cat(parts, arg_);
    }
    case Op::kBroadcast: return inputs_[arg_].clone();
    case Op::kBarrier: break;
  }
  return at::Tensor();
}

at::Tensor InProcessGroup::Join(int64_t rank, Op op, const at::Tensor& input, int64_t arg) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!abort_reason_.empty()) throw CollectiveError(abort_reason_);
  const std::string call = std::string(OpName(static_cast<int>(op))) +
                           (op == Op::kBroadcast   ? "(root " + std::to_string(arg) + ")"
                            : op == Op::kAllGather ? "(dim " + std::to_string(arg) + ")"
                                                   : "");
  for (int64_t r = 0; r < size_; ++r) {
    if (left_[r]) {
      AbortLocked(r, "it left before joining " + call);
      throw CollectiveError(abort_reason_);
    }
  }
  if (joined_ == 0) {
    op_ = op;
    arg_ = arg;
    mismatch_.clear();
    std::fill(inputs_.begin(), inputs_.end(), at::Tensor());
    joined_rank_.assign(size_, false);
    first_call_ = "rank " + std::to_string(rank) + " called " + call;
  } else if ((op != op_ || arg != arg_) && mismatch_.empty()) {
    mismatch_ = "collectives called inconsistently: " + first_call_ + ", rank " +
                std::to_string(rank) + " " + call;
  }
  TORCH_CHECK(!joined_rank_[rank], "rank ", rank, " joined ", call, " twice");
  joined_rank_[rank] = true;
  inputs_[rank] = input;
  const uint64_t generation = generation_;
  if (++joined_ == size_) {
    result_ = at::Tensor();
    error_.clear();
    if (!mismatch_.empty()) {
      error_ = mismatch_;
    } else {
      try {
        result_ = Compute();
      } catch (...) {
        error_ = DescribeException(std::current_exception());
      }
    }
    joined_ = 0;
    std::fill(inputs_.begin(), inputs_.end(), at::Tensor());
    ++generation_;
    cv_.notify_all();
  } else {
    cv_.wait_for(lock, timeout_,
                 [&] { return generation_ != generation || !abort_reason_.empty(); });
    if (generation_ == generation) {
      if (abort_reason_.empty()) {
        std::string missing;
        for (int64_t r = 0; r < size_; ++r) {
          if (!joined_rank_[r]) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
        }
        AbortLocked(rank, "it waited " + std::to_string(timeout_.count()) + " ms in " + call +
                              " for rank(s) " + missing);
      }
      throw CollectiveError(abort_reason_);
    }
  }
  if (!error_.empty()) throw CollectiveError(error_);
  return result_;
}

// ---------------------------------------------------------------- RunRanks

void RunRankThreads(int64_t size, const std::function<void(int64_t rank)>& body,
                    const std::function<void(int64_t rank, const std::string& reason)>& abort,
                    const std::function<void(int64_t rank)>& leave) {
  std::mutex mu;
  std::exception_ptr first;
  std::vector<std::thread> threads;
  auto run = [&](int64_t rank) {
    try {
      body(rank);
      leave(rank);
    } catch (...) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!first) first = std::current_exception();
      }
      abort(rank, DescribeException(std::current_exception()));
    }
  };
  try {
    for (int64_t rank = 0; rank < size; ++rank) threads.emplace_back(run, rank);
  } catch (...) {
    abort(-1, "could not start the rank threads: " + DescribeException(std::current_exception()));
    for (std::thread& t : threads) t.join();
    throw;
  }
  for (std::thread& t : threads) t.join();
  if (first) std::rethrow_exception(first);
}

void RunRanks(int64_t size, const std::function<void(Communicator&)>& fn,
              std::chrono::milliseconds timeout) {
  const std::shared_ptr<InProcessGroup> group = InProcessGroup::Create(size, timeout);
  RunRankThreads(
      size, [&](int64_t rank) { fn(*group->Rank(rank)); },
      [&](int64_t rank, const std::string& reason) { group->Abort(rank, reason); },
      [&](int64_t rank) { group->Leave(rank); });
}

namespace {

class InProcessRankGroup final : public RankGroup {
 public:
  InProcessRankGroup(int64_t size, std::chrono::milliseconds timeout)
      : size_(size), timeout_(timeout) {}
  int64_t size() const override { return size_; }
  void Run(const std::function<void(Communicator&)>& fn) override { RunRanks(size_, fn, timeout_); }

 private:
  int64_t size_;
  std::chrono::milliseconds timeout_;
};

}  // namespace

std::unique_ptr<RankGroup> InProcessRanks(int64_t size, std::chrono::milliseconds timeout) {
  if (size < 1) throw std::invalid_argument("a group needs at least one rank");
  return std::make_unique<InProcessRankGroup>(size, timeout);
}

}  // namespace compass::model
