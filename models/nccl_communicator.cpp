#include "models/nccl_communicator.h"

#include <set>
#include <string>

#ifdef COMPASS_HAVE_NCCL
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <nccl.h>

#include <atomic>
#include <mutex>
#endif

namespace compass::model {

#ifdef COMPASS_HAVE_NCCL
namespace {

ncclDataType_t NcclType(c10::ScalarType type) {
  switch (type) {
    case at::kFloat: return ncclFloat32;
    case at::kHalf: return ncclFloat16;
    case at::kBFloat16: return ncclBfloat16;
    case at::kDouble: return ncclFloat64;
    case at::kLong: return ncclInt64;
    case at::kInt: return ncclInt32;
    case at::kByte:
    case at::kBool: return ncclUint8;
    case at::kChar: return ncclInt8;
    default: throw CollectiveError(std::string("NCCL has no type for ") + c10::toString(type));
  }
}

class NcclGroup;

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(NcclGroup* group, int64_t rank) : group_(group), rank_(rank) {}
  int64_t rank() const override { return rank_; }
  int64_t size() const override;
  void AllReduceSum(const at::Tensor& tensor) override;
  at::Tensor AllGather(const at::Tensor& tensor, int64_t dim) override;
  void Broadcast(const at::Tensor& tensor, int64_t root) override;
  void Barrier() override;

 private:
  // The communicator and stream of this rank, or CollectiveError once the
  // group is aborted.
  ncclComm_t Comm(const char* op) const;
  void Check(ncclResult_t result, const char* op) const;
  cudaStream_t Stream() const;
  at::Tensor Checked(const at::Tensor& tensor, const char* op) const;

  NcclGroup* group_;
  int64_t rank_;
};

class NcclGroup final : public RankGroup {
 public:
  NcclGroup(std::vector<c10::Device> devices, std::vector<ncclComm_t> comms)
      : devices_(std::move(devices)), comms_(std::move(comms)) {
    for (int64_t r = 0; r < size(); ++r) ranks_.emplace_back(this, r);
  }
  ~NcclGroup() override {
    std::lock_guard<std::mutex> lock(mu_);
    // An aborted communicator is already freed.
    if (aborted_.empty()) {
      for (ncclComm_t comm : comms_) ncclCommDestroy(comm);
    }
  }
  int64_t size() const override { return static_cast<int64_t>(devices_.size()); }

  void Run(const std::function<void(Communicator&)>& fn) override {
    RunRankThreads(
        size(),
        [&](int64_t rank) {
          const c10::cuda::CUDAGuard guard(devices_[rank]);
          fn(ranks_[rank]);
        },
        [&](int64_t rank, const std::string& reason) { Abort(rank, reason); }, [](int64_t) {});
  }

  const c10::Device& device(int64_t rank) const { return devices_[rank]; }
  // Empty while usable; the reason once aborted.
  std::string aborted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return aborted_;
  }
  ncclComm_t comm(int64_t rank) const { return comms_[rank]; }

 private:
  void Abort(int64_t rank, const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!aborted_.empty()) return;
    aborted_ = "rank " + std::to_string(rank) + " aborted the group: " + reason;
    for (ncclComm_t comm : comms_) ncclCommAbort(comm);
  }

  std::vector<c10::Device> devices_;
  std::vector<ncclComm_t> comms_;
  std::vector<NcclCommunicator> ranks_;
  mutable std::mutex mu_;
  std::string aborted_;
};

int64_t NcclCommunicator::size() const {
  return group_->size();
}

ncclComm_t NcclCommunicator::Comm(const char* op) const {
  const std::string aborted = group_->aborted();
  if (!aborted.empty()) throw CollectiveError(std::string(op) + ": " + aborted);
  return group_->comm(rank_);
}

void NcclCommunicator::Check(ncclResult_t result, const char* op) const {
  if (result == ncclSuccess) return;
  std::string detail = ncclGetLastError(group_->comm(rank_));
  throw CollectiveError(std::string("NCCL ") + op + " on rank " + std::to_string(rank_) + ": " +
                        ncclGetErrorString(result) + (detail.empty() ? "" : " (" + detail + ")"));
}

cudaStream_t NcclCommunicator::Stream() const {
  return c10::cuda::getCurrentCUDAStream(group_->device(rank_).index()).stream();
}

at::Tensor NcclCommunicator::Checked(const at::Tensor& tensor, const char* op) const {
  if (!tensor.defined() || tensor.device() != group_->device(rank_)) {
    throw CollectiveError(std::string(op) + ": rank " + std::to_string(rank_) +
                          " brings a tensor that is not on its device " +
                          group_->device(rank_).str());
  }
  return tensor;
}

void NcclCommunicator::AllReduceSum(const at::Tensor& tensor) {
  Checked(tensor, "all_reduce_sum");
  // In place needs a dense buffer; a strided view is reduced in a copy.
  at::Tensor buffer = tensor.is_contiguous() ? tensor : tensor.contiguous();
  Check(ncclAllReduce(buffer.data_ptr(), buffer.data_ptr(), buffer.numel(),
                      NcclType(buffer.scalar_type()), ncclSum, Comm("all_reduce_sum"), Stream()),
        "all_reduce_sum");
  if (!buffer.is_same(tensor)) tensor.copy_(buffer);
}

at::Tensor NcclCommunicator::AllGather(const at::Tensor& tensor, int64_t dim) {
  const at::Tensor input = Checked(tensor, "all_gather").contiguous();
  std::vector<int64_t> shape = input.sizes().vec();
  shape.insert(shape.begin(), size());
  at::Tensor out = at::empty(shape, input.options());
  Check(ncclAllGather(input.data_ptr(), out.data_ptr(), input.numel(),
                      NcclType(input.scalar_type()), Comm("all_gather"), Stream()),
        "all_gather");
  // [ranks, ...] in rank order, concatenated along `dim`.
  return at::cat(out.unbind(0), dim);
}

void NcclCommunicator::Broadcast(const at::Tensor& tensor, int64_t root) {
  Checked(tensor, "broadcast");
  if (root < 0 || root >= size()) {
    throw CollectiveError("broadcast: root " + std::to_string(root) +
                          " is not a rank of a group of " + std::to_string(size()));
  }
  at::Tensor buffer = tensor.is_contiguous() ? tensor : tensor.contiguous();
  Check(ncclBroadcast(buffer.data_ptr(), buffer.data_ptr(), buffer.numel(),
                      NcclType(buffer.scalar_type()), static_cast<int>(root), Comm("broadcast"),
                      Stream()),
        "broadcast");
  if (!buffer.is_same(tensor)) tensor.copy_(buffer);
}

void NcclCommunicator::Barrier() {
  const at::Tensor one =
      at::ones({1}, at::TensorOptions().dtype(at::kInt).device(group_->device(rank_)));
  AllReduceSum(one);
  c10::cuda::getCurrentCUDAStream(group_->device(rank_).index()).synchronize();
}

}  // namespace
#endif  // COMPASS_HAVE_NCCL

bool NcclBuilt() {
#ifdef COMPASS_HAVE_NCCL
  return true;
#else
  return false;
#endif
}

StatusOr<std::unique_ptr<RankGroup>> NcclRanks(const std::vector<c10::Device>& devices) {
  if (devices.empty()) return InvalidArgument("NCCL: a group needs at least one device");
  std::set<c10::DeviceIndex> seen;
  for (const c10::Device& d : devices) {
    if (!d.is_cuda()) {
      return InvalidArgument("NCCL: rank on " + d.str() + ", which is not a CUDA device");
    }
    if (!seen.insert(d.index()).second) {
      return InvalidArgument("NCCL: " + d.str() + " given twice; one rank per GPU");
    }
  }
#ifdef COMPASS_HAVE_NCCL
  std::vector<int> indices;
  for (const c10::Device& d : devices) indices.push_back(d.index());
  std::vector<ncclComm_t> comms(devices.size());
  const ncclResult_t result =
      ncclCommInitAll(comms.data(), static_cast<int>(comms.size()), indices.data());
  if (result != ncclSuccess) {
    return Internal(std::string("NCCL could not initialise ") + std::to_string(devices.size()) +
                    " rank(s): " + ncclGetErrorString(result) + " (" + ncclGetLastError(nullptr) +
                    ")");
  }
  return std::unique_ptr<RankGroup>(std::make_unique<NcclGroup>(devices, std::move(comms)));
#else
  return Unsupported(
      "this build of Compass has no NCCL (it builds NCCL support when CMake finds nccl.h and "
      "libnccl beside the CUDA toolkit or the torch wheel); tensor parallelism on CUDA devices "
      "needs it");
#endif
}

}  // namespace compass::model
