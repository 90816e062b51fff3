#include "remote_stages.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <map>
#include <stdexcept>

#include "models/kv_cache.h"
#include "util/status_throw.h"

namespace compass::pipeline {
namespace {

enum Op : int64_t { kStop = 0, kStep = 1, kFailed = 2 };
// {op, B, T, hidden size, hidden dtype, has valid, head asks (-1: last
// positions), cache group, new cache rows, new cache capacity, kept rows,
// error bytes}; a reply: {op, N, V, dtype, ..., error bytes}.
constexpr int64_t kHeaderSize = 12;
enum Field { kOp, kB, kT, kH, kDtype, kHasValid, kAsks, kGroup, kNewRows, kNewCap, kKept, kError };

using Header = std::vector<int64_t>;

void SendHeader(model::ProcessCommunicator& comm, int64_t to, Header h, c10::Device device) {
  h.resize(kHeaderSize, 0);
  comm.Send(at::tensor(h, at::kLong).to(device), to);
}

Header RecvHeader(model::ProcessCommunicator& comm, int64_t from, c10::Device device) {
  const at::Tensor t = at::empty({kHeaderSize}, at::TensorOptions(at::kLong).device(device));
  comm.Recv(t, from);
  const at::Tensor h = t.cpu();
  return Header(h.data_ptr<int64_t>(), h.data_ptr<int64_t>() + kHeaderSize);
}

void SendError(model::ProcessCommunicator& comm, int64_t to, const std::string& message,
               c10::Device device) {
  SendHeader(comm, to,
             Header{kFailed, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, static_cast<int64_t>(message.size())},
             device);
  const std::vector<uint8_t> bytes(message.begin(), message.end());
  comm.Send(at::tensor(bytes, at::kByte).to(device), to);
}

std::string RecvError(model::ProcessCommunicator& comm, int64_t from, const Header& h,
                      c10::Device device) {
  const at::Tensor t = at::empty({h[kError]}, at::TensorOptions(at::kByte).device(device));
  comm.Recv(t, from);
  const at::Tensor bytes = t.cpu();
  const auto* p = bytes.data_ptr<uint8_t>();
  return std::string(p, p + bytes.numel());
}

std::string What(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

}  // namespace

ProcessRemoteStages::ProcessRemoteStages(std::shared_ptr<model::ProcessCommunicator> comm,
                                         c10::Device device)
    : comm_(std::move(comm)), device_(device) {}

ProcessRemoteStages::~ProcessRemoteStages() {
  if (broken_) return;
  try {
    SendHeader(*comm_, 1, Header{kStop}, device_);
  } catch (const std::exception&) {
    // The others are gone already: nothing to stop.
  }
}

std::string ProcessRemoteStages::Describe() const {
  const int64_t n = comm_->size();
  if (n == 2) return "stage 1 in " + comm_->Describe(1);
  return "stages 1-" + std::to_string(n - 1) + " in ranks 1-" + std::to_string(n - 1);
}

void ProcessRemoteStages::Exchange(MicroBatch& mb) {
  const at::Tensor& hidden = mb.hidden;
  const at::Tensor valid = mb.step->valid();
  std::vector<at::Tensor> parts{mb.step->positions().reshape(-1).to(at::kLong).cpu()};
  if (valid.defined()) parts.push_back(valid.reshape(-1).to(at::kLong).cpu());
  const int64_t asks = mb.head_rows.defined() ? mb.head_rows.numel() : -1;
  if (asks >= 0) {
    parts.push_back(mb.head_rows.to(at::kLong).cpu());
    parts.push_back(mb.head_cols.to(at::kLong).cpu());
  }
  parts.push_back(at::tensor(mb.kept_rows, at::kLong));
  const int64_t last = comm_->size() - 1;
  try {
    SendHeader(*comm_, 1,
               Header{kStep, hidden.size(0), hidden.size(1), hidden.size(2),
                      static_cast<int64_t>(hidden.scalar_type()), valid.defined() ? 1 : 0, asks,
                      mb.cache_group, mb.new_cache_rows, mb.new_cache_capacity,
                      static_cast<int64_t>(mb.kept_rows.size())},
               device_);
    comm_->Send(at::cat(parts).to(device_), 1);
    comm_->Send(hidden.to(device_), 1);
    const Header reply = RecvHeader(*comm_, last, device_);
    if (reply[kOp] == kFailed) throw std::runtime_error(RecvError(*comm_, last, reply, device_));
    mb.out =
        at::empty({reply[kB], reply[kT]},
                  at::TensorOptions(static_cast<at::ScalarType>(reply[kDtype])).device(device_));
    comm_->Recv(mb.out, last);
  } catch (const model::CollectiveError&) {
    broken_ = true;
    throw;
  }
}

void ServeStage(const model::Stage& stage, model::ProcessCommunicator& comm) {
  const int64_t rank = comm.rank(), previous = rank - 1;
  const bool last = rank + 1 == comm.size();
  const int64_t next = last ? 0 : rank + 1;
  const c10::Device device = stage.device();
  const std::string name = "stage " + std::to_string(rank) + " (layers " +
                           std::to_string(stage.spec().begin) + "-" +
                           std::to_string(stage.spec().end - 1) + ") in " + comm.Describe(rank);
  std::map<int64_t, std::unique_ptr<model::ContiguousKvCache>> caches;  // by group
  while (true) {
    const Header h = RecvHeader(comm, previous, device);
    if (h[kOp] == kStop) {
      if (!last) SendHeader(comm, next, Header{kStop}, device);
      return;
    }
    if (h[kOp] == kFailed) {
      SendError(comm, next, RecvError(comm, previous, h, device), device);
      continue;
    }
    const int64_t b = h[kB], t = h[kT], asks = h[kAsks];
    const int64_t rows = asks < 0 ? 0 : asks;
    const at::Tensor payload_in = at::empty({b * t * (1 + h[kHasValid]) + 2 * rows + h[kKept]},
                                            at::TensorOptions(at::kLong).device(device));
    comm.Recv(payload_in, previous);
    const at::Tensor hidden_in = at::empty(
        {b, t, h[kH]}, at::TensorOptions(static_cast<at::ScalarType>(h[kDtype])).device(device));
    comm.Recv(hidden_in, previous);
    at::Tensor out;
    std::string error;
    try {
      const at::Tensor payload = payload_in.cpu();
      int64_t at_ = 0;
      auto take = [&](int64_t n) {
        at::Tensor part = payload.narrow(0, at_, n);
        at_ += n;
        return part;
      };
      const at::Tensor positions = take(b * t).view({b, t});
      const at::Tensor valid = h[kHasValid] ? take(b * t).view({b, t}).to(at::kBool) : at::Tensor();
      at::Tensor head_rows, head_cols;
      if (asks >= 0) {
        head_rows = take(rows);
        head_cols = take(rows);
      }
      const at::Tensor kept = take(h[kKept]);
      model::ContiguousKvCache* cache = nullptr;
      if (h[kGroup] >= 0) {
        auto& slot = caches[h[kGroup]];
        if (h[kNewRows] > 0) {
          slot.reset();
          slot = std::make_unique<model::ContiguousKvCache>(h[kNewRows], h[kNewCap],
                                                            stage.config().num_hidden_layers);
          stage.AllocateCache(*slot);
        }
        if (!slot) throw std::logic_error("a micro-batch of a group without a cache");
        if (kept.numel() > 0) {
          const int64_t* k = kept.data_ptr<int64_t>();
          ThrowIfError(slot->KeepRows(std::vector<int64_t>(k, k + kept.numel())));
        }
        cache = slot.get();
      }
      const model::Step step =
          ValueOrThrow(model::Step::Begin(stage.config(), at::Tensor(), positions, valid, cache,
                                          model::AttentionImpl::kSdpa, device));
      const at::Tensor hidden = stage.Forward(hidden_in, step, cache);
      if (last) {
        out = HeadOutput(stage, hidden, head_rows, head_cols);
      } else {
        out = hidden;
      }
    } catch (const std::exception& e) {
      error = name + ": " + What(e);
    }
    if (!error.empty()) {
      SendError(comm, next, error, device);
    } else if (last) {
      SendHeader(
          comm, next,
          Header{kStep, out.size(0), out.size(1), 0, static_cast<int64_t>(out.scalar_type())},
          device);
      comm.Send(out, next);
    } else {
      Header forward = h;
      forward[kH] = out.size(2);
      forward[kDtype] = static_cast<int64_t>(out.scalar_type());
      SendHeader(comm, next, forward, device);
      comm.Send(payload_in, next);
      comm.Send(out, next);
    }
  }
}

}  // namespace compass::pipeline
