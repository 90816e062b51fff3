// Which process of a launch this is: the rank, the world size and the local
// rank, read from the variables that torchrun, MPI (Open MPI) and Slurm set.
// Compass runs sharded (data-parallel, docs/scale-out.md) when the world is
// larger than 1; a process started by hand is a world of 1 and runs as it
// always did.
//
// Precedence: torchrun-style variables (RANK and WORLD_SIZE) first, then
// Open MPI's (OMPI_COMM_WORLD_*), then Slurm's (SLURM_PROCID and
// SLURM_NTASKS). A value that is no number, a world of 0, or a rank outside
// the world is InvalidArgument naming the variable and its value.
//
// Threading: pure functions of the environment given.
#ifndef COMPASS_SHARD_LAUNCH_H_
#define COMPASS_SHARD_LAUNCH_H_

#include <cstdint>
#include <functional>
#include <string>

#include "util/status.h"

namespace compass {

struct LaunchInfo {
  std::string launcher;  // "torchrun", "mpi", "slurm", or "" (none: a world of 1)
  uint32_t rank = 0, world = 1, local_rank = 0;
  // torchrun-style rendezvous address; empty when not given (then the
  // processes meet on a file in the run folder).
  std::string master_addr;
  uint16_t master_port = 0;
  // What identifies this launch to all its processes, when the launcher
  // says it (Slurm's job and step, Open MPI's job); COMPASS_LAUNCH_ID wins.
  std::string launch_id;
  std::string nodes;  // Slurm's node list, for the log

  bool sharded() const { return world > 1; }
  // "rank 2 of 4 (local rank 0, slurm)", for the log.
  std::string Describe() const;
};

// Reads the launch from `getenv` (a variable that is not set gives nullptr).
StatusOr<LaunchInfo> DetectLaunch(const std::function<const char*(const char*)>& getenv);
// The same from the process environment.
StatusOr<LaunchInfo> DetectLaunch();

}  // namespace compass

#endif  // COMPASS_SHARD_LAUNCH_H_
