// A model copy whose ranks (tensor-parallel shards, pipeline stages) are
// processes of a multi-process launch (docs/scale-out.md): which copy and
// rank this process is, read from compass_backend_config's launch (ABI
// 2.2), and how its group meets. The host's rule, which both sides apply:
// the consecutive ranks [k*size, (k+1)*size) of the launch are copy k, and
// the first of them drives it.
//
// Errors are thrown as sdk::Error (COMPASS_INVALID_ARGUMENT) naming the
// option and the launch; call from a backend's constructor.
#ifndef COMPASS_BACKEND_SUPPORT_PROCESS_RANKS_H_
#define COMPASS_BACKEND_SUPPORT_PROCESS_RANKS_H_

#include <compass/plugin.h>

#include <compass/plugin.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/process_group.h"

namespace compass::backend_support {

struct ProcessRanks {
  int64_t rank = 0;            // within the copy; 0 drives it
  int64_t size = 1;            // processes per copy
  int64_t copy = 0;            // which copy of the launch
  uint32_t local_rank = 0;     // on this node: picks the device
  std::string device;          // this process's: DeviceOfProcess
  uint64_t device_memory = 0;  // its usable bytes
  // How the copy's processes meet (the device is the caller's to set).
  model::ProcessGroupOptions group;

  // The devices a plan sees: one per process of the copy, each like this
  // process's, named "cuda:0@rank1" (they may share a name). `Info` is a
  // planner's {name, memory bytes}.
  template <typename Info>
  std::vector<Info> PlanDevices() const {
    std::vector<Info> out;
    for (int64_t r = 0; r < size; ++r)
      out.push_back({device + "@rank" + std::to_string(r), device_memory});
    return out;
  }

  // A group within the copy (e.g. one pipeline stage's tensor-parallel
  // ranks): `rank` of `size`, its keys or file suffixed with `name`.
  ProcessRanks Subgroup(const std::string& name, int64_t rank, int64_t size) const;

  // Meets the copy's other processes with this process's tensors on
  // `on`, saying so in the host's log as "<what> R of model copy K".
  // Throws sdk::Error with the group's error.
  std::unique_ptr<model::ProcessCommunicator> Connect(c10::Device on, const sdk::Host& host,
                                                      const std::string& what) const;
};

// This process's place in copies of `size` processes, for `backend` whose
// option `option` (e.g. "tp = 2 with processes = true") asks for them.
// InvalidArgument when the run is not a launch of a multiple of `size`
// processes, or the host is older than ABI 2.2.
ProcessRanks ProcessRanksOf(const compass_backend_config& config, int64_t size,
                            const std::string& backend, const std::string& option);

// The device of this process among the run's devices: devices[local_rank
// modulo their number] (one GPU per process of a node).
std::string DeviceOfProcess(const compass_backend_config& config, uint32_t local_rank);

}  // namespace compass::backend_support

#endif  // COMPASS_BACKEND_SUPPORT_PROCESS_RANKS_H_
