#include "models/process_group.h"

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <unistd.h>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#ifdef COMPASS_HAVE_GLOO_HEADERS
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef COMPASS_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <stdexcept>

namespace compass::model {

struct ProcessCommunicator::State {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::Backend> backend;
  std::vector<std::string> members;  // "host h, pid p" by rank
};

namespace {

std::string HostName() {
  char name[256] = "";
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

std::string What(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

bool IsLoopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// The group's store: a client of the launch's TCPStore under the group's
// prefix, or a FileStore of its own.
StatusOr<c10::intrusive_ptr<c10d::Store>> OpenStore(const ProcessGroupOptions& o,
                                                    std::string* tcp_host) {
  const std::string tcp = "tcp://", file = "file://";
  if (o.rendezvous.rfind(tcp, 0) == 0) {
    const std::string address = o.rendezvous.substr(tcp.size());
    const size_t colon = address.rfind(':');
    int port = 0;
    if (colon != std::string::npos) port = std::atoi(address.c_str() + colon + 1);
    if (colon == std::string::npos || colon == 0 || port <= 0 || port > 65535) {
      return InvalidArgument("rendezvous '" + o.rendezvous + "' is not tcp://HOST:PORT");
    }
    *tcp_host = address.substr(0, colon);
    c10d::TCPStoreOptions options;
    options.port = static_cast<uint16_t>(port);
    options.isServer = false;
    options.waitWorkers = false;
    options.timeout = o.timeout;
    auto client = c10::make_intrusive<c10d::TCPStore>(*tcp_host, options);
    return c10::intrusive_ptr<c10d::Store>(
        c10::make_intrusive<c10d::PrefixStore>("compass-group/" + o.name, client));
  }
  if (o.rendezvous.rfind(file, 0) == 0 && o.rendezvous.size() > file.size()) {
    auto store = c10::make_intrusive<c10d::FileStore>(
        o.rendezvous.substr(file.size()) + "-" + o.name, static_cast<int>(o.size));
    store->setTimeout(o.timeout);
    return c10::intrusive_ptr<c10d::Store>(store);
  }
  return InvalidArgument("rendezvous '" + o.rendezvous +
                         "' is neither tcp://HOST:PORT nor file:///PATH");
}

StatusOr<c10::intrusive_ptr<c10d::Backend>> GlooBackend(
    const c10::intrusive_ptr<c10d::Store>& store, const ProcessGroupOptions& o,
    const std::string& tcp_host) {
#ifndef COMPASS_HAVE_GLOO_HEADERS
  (void)store;
  (void)tcp_host;
  return Unsupported("ranks on " + o.device.str() +
                     " as processes need Gloo, and this build of Compass had no Gloo headers "
                     "(libgloo-dev; bash scripts/setup.sh --deps installs it)");
#else
  auto options = c10d::ProcessGroupGloo::Options::create(o.timeout);
  // GLOO_SOCKET_IFNAME picks the network as for torch.distributed; a
  // rendezvous on loopback keeps the group there.
  const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
  if (interface != nullptr && *interface != '\0') {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
  } else if (tcp_host.empty() || IsLoopback(tcp_host)) {
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return c10::intrusive_ptr<c10d::Backend>(c10::make_intrusive<c10d::ProcessGroupGloo>(
      store, static_cast<int>(o.rank), static_cast<int>(o.size), options));
#endif
}

StatusOr<c10::intrusive_ptr<c10d::Backend>> NcclBackend(
    const c10::intrusive_ptr<c10d::Store>& store, const ProcessGroupOptions& o) {
#ifdef COMPASS_HAVE_NCCL
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = o.timeout;
  return c10::intrusive_ptr<c10d::Backend>(c10::make_intrusive<c10d::ProcessGroupNCCL>(
      store, static_cast<int>(o.rank), static_cast<int>(o.size), options));
#else
  (void)store;
  return Unsupported("ranks on " + o.device.str() +
                     " as processes need NCCL, which this build of Compass lacks");
#endif
}

}  // namespace

ProcessCommunicator::ProcessCommunicator(std::unique_ptr<State> state, int64_t rank, int64_t size)
    : state_(std::move(state)), rank_(rank), size_(size) {}

ProcessCommunicator::~ProcessCommunicator() = default;

StatusOr<std::unique_ptr<ProcessCommunicator>> ProcessCommunicator::Connect(
    const ProcessGroupOptions& o) {
  if (o.size < 1 || o.rank < 0 || o.rank >= o.size) {
    return InvalidArgument("process group '" + o.name + "': rank " + std::to_string(o.rank) +
                           " outside a group of " + std::to_string(o.size));
  }
  auto state = std::make_unique<State>();
  std::string tcp_host;
  try {
    COMPASS_ASSIGN_OR_RETURN(state->store, OpenStore(o, &tcp_host));
    const std::string me = "host " + HostName() + ", pid " + std::to_string(::getpid());
    state->store->set("who/" + std::to_string(o.rank), std::vector<uint8_t>(me.begin(), me.end()));
    if (o.device.is_cuda()) {
      COMPASS_ASSIGN_OR_RETURN(state->backend, NcclBackend(state->store, o));
    } else {
      COMPASS_ASSIGN_OR_RETURN(state->backend, GlooBackend(state->store, o, tcp_host));
    }
    // Gloo's constructor met every rank, so each has said who it is.
    for (int64_t r = 0; r < o.size; ++r) {
      const std::vector<uint8_t> who = state->store->get("who/" + std::to_string(r));
      state->members.emplace_back(who.begin(), who.end());
    }
  } catch (const std::exception& e) {
    return Internal("rank " + std::to_string(o.rank) + " of a model copy of " +
                    std::to_string(o.size) + " processes could not meet the others at " +
                    o.rendezvous + " within " + std::to_string(o.timeout.count() / 1000) + " s: " +
                    What(e) + "; every process of the copy must start (docs/scale-out.md)");
  }
  return std::unique_ptr<ProcessCommunicator>(
      new ProcessCommunicator(std::move(state), o.rank, o.size));
}

std::string ProcessCommunicator::Describe(int64_t rank) const {
  const auto r = static_cast<size_t>(rank);
  return "rank " + std::to_string(rank) +
         (r < state_->members.size() ? " (" + state_->members[r] + ")" : "");
}

void ProcessCommunicator::Fail(const std::string& op, const std::exception& error) const {
  std::string members;
  for (int64_t r = 0; r < size_; ++r) {
    if (r != rank_) members += (members.empty() ? "" : ", ") + Describe(r);
  }
  throw CollectiveError(op + " between the processes of the model copy failed on " +
                        Describe(rank_) + ": " + What(error) + " (the others: " + members +
                        "; one of them failed or exited)");
}

void ProcessCommunicator::AllReduceSum(const at::Tensor& tensor) {
  try {
    if (tensor.is_cuda()) {
      std::vector<at::Tensor> tensors{tensor.is_contiguous() ? tensor : tensor.contiguous()};
      state_->backend->allreduce(tensors)->wait();
      if (!tensor.is_same(tensors[0])) tensor.copy_(tensors[0]);
      return;
    }
    // On CPUs every rank's part, summed in rank order as InProcessGroup
    // sums them (Gloo's ring adds in another order): ranks as processes
    // give the bits ranks as threads give.
    std::vector<at::Tensor> inputs{tensor.contiguous()};
    std::vector<std::vector<at::Tensor>> parts(1);
    for (int64_t r = 0; r < size_; ++r) parts[0].push_back(at::empty_like(inputs[0]));
    state_->backend->allgather(parts, inputs)->wait();
    at::Tensor sum = parts[0][0];
    for (int64_t r = 1; r < size_; ++r) sum.add_(parts[0][r]);
    tensor.copy_(sum);
  } catch (const std::exception& e) {
    Fail("all_reduce", e);
  }
}

at::Tensor ProcessCommunicator::AllGather(const at::Tensor& tensor, int64_t dim) {
  try {
    std::vector<at::Tensor> inputs{tensor.contiguous()};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int64_t r = 0; r < size_; ++r) outputs[0].push_back(at::empty_like(inputs[0]));
    state_->backend->allgather(outputs, inputs)->wait();
    return at::cat(outputs[0], dim);
  } catch (const std::exception& e) {
    Fail("all_gather", e);
  }
}

void ProcessCommunicator::Broadcast(const at::Tensor& tensor, int64_t root) {
  try {
    std::vector<at::Tensor> tensors{tensor.is_contiguous() ? tensor : tensor.contiguous()};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    state_->backend->broadcast(tensors, options)->wait();
    if (!tensor.is_same(tensors[0])) tensor.copy_(tensors[0]);
  } catch (const std::exception& e) {
    Fail("broadcast", e);
  }
}

void ProcessCommunicator::Barrier() {
  try {
    state_->backend->barrier()->wait();
  } catch (const std::exception& e) {
    Fail("barrier", e);
  }
}

void ProcessCommunicator::Send(const at::Tensor& tensor, int64_t dst) {
  try {
    std::vector<at::Tensor> tensors{tensor.contiguous()};
    state_->backend->send(tensors, static_cast<int>(dst), 0)->wait();
  } catch (const std::exception& e) {
    Fail("sending to " + Describe(dst), e);
  }
}

void ProcessCommunicator::Recv(const at::Tensor& tensor, int64_t src) {
  try {
    std::vector<at::Tensor> tensors{tensor.is_contiguous() ? tensor : tensor.contiguous()};
    state_->backend->recv(tensors, static_cast<int>(src), 0)->wait();
    if (!tensor.is_same(tensors[0])) tensor.copy_(tensors[0]);
  } catch (const std::exception& e) {
    Fail("receiving from " + Describe(src), e);
  }
}

}  // namespace compass::model
