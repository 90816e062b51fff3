#include "process_ranks.h"

#include <compass/plugin.hpp>

#include <chrono>

namespace compass::backend_support {

ProcessRanks ProcessRanksOf(const compass_backend_config& config, int64_t size,
                            const std::string& backend, const std::string& option) {
  const bool has_launch =
      COMPASS_HAS_FIELD(compass_backend_config, config.struct_size, process_timeout_seconds);
  const uint32_t world = has_launch ? config.process_world : 1;
  if (world <= 1 || world % size != 0) {
    throw sdk::Error(
        COMPASS_INVALID_ARGUMENT,
        backend + ": " + option + " runs one model copy as " + std::to_string(size) +
            " processes, but " +
            (world <= 1 ? std::string("this is a single process")
                        : "this launch has " + std::to_string(world) + " processes") +
            ": launch a multiple of " + std::to_string(size) +
            " processes (mpirun -n, srun --ntasks, or RANK and WORLD_SIZE; docs/scale-out.md), "
            "or set processes = false to run the ranks as threads of one process");
  }
  ProcessRanks out;
  out.size = size;
  out.rank = config.process_rank % size;
  out.copy = config.process_rank / size;
  out.local_rank = config.process_local_rank;
  out.device = DeviceOfProcess(config, out.local_rank);
  if (config.num_devices > 0) {
    out.device_memory =
        COMPASS_AT(compass_device_spec, config.devices, out.local_rank % config.num_devices)
            ->memory_bytes;
  }
  out.group.rendezvous = std::string(sdk::view(config.rendezvous));
  out.group.name =
      backend + "-" + std::string(sdk::view(config.launch_id)) + "-copy" + std::to_string(out.copy);
  out.group.rank = out.rank;
  out.group.size = size;
  out.group.timeout = std::chrono::milliseconds(
      static_cast<int64_t>(std::max(1.0, config.process_timeout_seconds) * 1000));
  return out;
}

ProcessRanks ProcessRanks::Subgroup(const std::string& name, int64_t rank, int64_t size) const {
  ProcessRanks out = *this;
  out.rank = out.group.rank = rank;
  out.size = out.group.size = size;
  out.group.name += "-" + name;
  return out;
}

std::unique_ptr<model::ProcessCommunicator> ProcessRanks::Connect(c10::Device on,
                                                                  const sdk::Host& host,
                                                                  const std::string& what) const {
  model::ProcessGroupOptions options = group;
  options.device = on;
  host.info(what + " " + std::to_string(rank) + " of model copy " + std::to_string(copy) +
            ": meeting its other " + std::to_string(size - 1) + " process(es)");
  auto comm = model::ProcessCommunicator::Connect(options);
  if (!comm.ok()) throw sdk::Error(comm.status().code(), comm.status().message());
  return std::move(*comm);
}

std::string DeviceOfProcess(const compass_backend_config& config, uint32_t local_rank) {
  if (config.num_devices == 0) return "cpu";
  const auto& d = *COMPASS_AT(compass_device_spec, config.devices, local_rank % config.num_devices);
  return std::string(sdk::view(d.name));
}

}  // namespace compass::backend_support
