#include "shard/launch.h"

#include <charconv>
#include <cstdlib>

namespace compass {
namespace {

using Getenv = std::function<const char*(const char*)>;

bool Set(const Getenv& getenv, const char* name) {
  const char* v = getenv(name);
  return v != nullptr && *v != '\0';
}

// A non-negative integer variable; `required` ones must be set.
StatusOr<uint64_t> Number(const Getenv& getenv, const char* name, uint64_t max) {
  const char* v = getenv(name);
  const std::string text = v ? v : "";
  uint64_t out = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || out > max) {
    return InvalidArgument("the launch variable " + std::string(name) + "='" + text +
                           "' is not a whole number from 0 to " + std::to_string(max) +
                           "; fix how the processes are launched (docs/scale-out.md)");
  }
  return out;
}

struct Names {
  const char* launcher;
  const char* rank;
  const char* world;
  const char* local_rank;
};

constexpr Names kTorchrun{"torchrun", "RANK", "WORLD_SIZE", "LOCAL_RANK"};
constexpr Names kMpi{"mpi", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE",
                     "OMPI_COMM_WORLD_LOCAL_RANK"};
constexpr Names kSlurm{"slurm", "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID"};

constexpr uint64_t kMaxWorld = 1u << 20;

StatusOr<LaunchInfo> Read(const Getenv& getenv, const Names& n) {
  LaunchInfo info;
  info.launcher = n.launcher;
  COMPASS_ASSIGN_OR_RETURN(const uint64_t world, Number(getenv, n.world, kMaxWorld));
  if (world == 0) {
    return InvalidArgument("the launch variable " + std::string(n.world) +
                           "=0: a launch has at least one process");
  }
  COMPASS_ASSIGN_OR_RETURN(const uint64_t rank, Number(getenv, n.rank, kMaxWorld));
  if (rank >= world) {
    return InvalidArgument("the launch variable " + std::string(n.rank) + "=" +
                           std::to_string(rank) + " is not below " + n.world + "=" +
                           std::to_string(world) + ": ranks run from 0 to " +
                           std::to_string(world - 1));
  }
  info.world = static_cast<uint32_t>(world);
  info.rank = static_cast<uint32_t>(rank);
  if (Set(getenv, n.local_rank)) {
    COMPASS_ASSIGN_OR_RETURN(const uint64_t local, Number(getenv, n.local_rank, kMaxWorld));
    if (local >= world) {
      return InvalidArgument("the launch variable " + std::string(n.local_rank) + "=" +
                             std::to_string(local) + " is not below " + n.world + "=" +
                             std::to_string(world));
    }
    info.local_rank = static_cast<uint32_t>(local);
  }
  return info;
}

}  // namespace

std::string LaunchInfo::Describe() const {
  if (launcher.empty()) return "a single process (no launcher recognised)";
  return "rank " + std::to_string(rank) + " of " + std::to_string(world) + " (local rank " +
         std::to_string(local_rank) + ", launched by " + launcher + ")";
}

StatusOr<LaunchInfo> DetectLaunch(const Getenv& getenv) {
  LaunchInfo info;
  if (Set(getenv, "RANK") || Set(getenv, "WORLD_SIZE")) {
    COMPASS_ASSIGN_OR_RETURN(info, Read(getenv, kTorchrun));
    const bool has_addr = Set(getenv, "MASTER_ADDR"), has_port = Set(getenv, "MASTER_PORT");
    if (has_addr != has_port) {
      return InvalidArgument(
          std::string("the launch sets ") +
          (has_addr ? "MASTER_ADDR but not MASTER_PORT" : "MASTER_PORT but not MASTER_ADDR") +
          ": give both (the address and port of rank 0's rendezvous), or "
          "neither (the processes then meet on a file in the run folder)");
    }
    if (has_addr) {
      info.master_addr = getenv("MASTER_ADDR");
      COMPASS_ASSIGN_OR_RETURN(const uint64_t port, Number(getenv, "MASTER_PORT", 65535));
      if (port == 0) {
        return InvalidArgument("the launch variable MASTER_PORT=0 is not a port (1 to 65535)");
      }
      info.master_port = static_cast<uint16_t>(port);
    }
    if (Set(getenv, "TORCHELASTIC_RUN_ID") &&
        std::string(getenv("TORCHELASTIC_RUN_ID")) != "none") {
      info.launch_id = getenv("TORCHELASTIC_RUN_ID");
    }
  } else if (Set(getenv, "OMPI_COMM_WORLD_SIZE") || Set(getenv, "OMPI_COMM_WORLD_RANK")) {
    COMPASS_ASSIGN_OR_RETURN(info, Read(getenv, kMpi));
    for (const char* id :
         {"OMPI_MCA_ess_base_jobid", "PMIX_NAMESPACE", "OMPI_MCA_orte_ess_jobid"}) {
      if (Set(getenv, id)) {
        info.launch_id = getenv(id);
        break;
      }
    }
  } else if (Set(getenv, "SLURM_PROCID") && Set(getenv, "SLURM_NTASKS")) {
    // SLURM_PROCID alone is set in a batch script's own shell (the job's
    // one task); srun sets SLURM_NTASKS and SLURM_STEP_ID for its tasks.
    COMPASS_ASSIGN_OR_RETURN(info, Read(getenv, kSlurm));
    if (Set(getenv, "SLURM_JOB_ID")) {
      info.launch_id = std::string("slurm") + getenv("SLURM_JOB_ID") +
                       (Set(getenv, "SLURM_STEP_ID") ? std::string(".") + getenv("SLURM_STEP_ID")
                                                     : std::string());
    }
    for (const char* list : {"SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST"}) {
      if (Set(getenv, list)) {
        info.nodes = getenv(list);
        break;
      }
    }
  }
  if (Set(getenv, "COMPASS_LAUNCH_ID")) info.launch_id = getenv("COMPASS_LAUNCH_ID");
  return info;
}

StatusOr<LaunchInfo> DetectLaunch() {
  return DetectLaunch([](const char* name) { return std::getenv(name); });
}

}  // namespace compass
