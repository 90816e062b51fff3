// A sharded launch as the run command starts it: the launch read from the
// environment (shard/launch.h), the rendezvous opened through the
// rendezvous library (TCP at MASTER_ADDR:MASTER_PORT, else the file
// <run dir>/.rendezvous-<launch id>), the processes met (Coordinator::Join) and a stop of
// the launch wired to the backend (cli/stop_control.h).
#ifndef COMPASS_CLI_SHARD_LAUNCH_H_
#define COMPASS_CLI_SHARD_LAUNCH_H_

#include <memory>
#include <string>

#include "shard/coordinator.h"
#include "shard/launch.h"
#include "util/status.h"

namespace compass::cli {

struct ShardTimeouts {
  double heartbeat_timeout = 60;  // --shard-timeout
  double join_timeout = 600;      // --shard-join-timeout
};

struct ShardLaunch {
  LaunchInfo info;
  std::string launch;  // the id every rank agreed on
  // Where the processes met: "tcp://HOST:PORT" or "file:///PATH".
  std::string rendezvous;
  std::unique_ptr<Coordinator> coordinator;
};

// Opens the rendezvous of a launch with a world > 1 and joins it. Errors
// name the rendezvous and what to fix.
StatusOr<ShardLaunch> StartShardLaunch(const LaunchInfo& info, const std::string& output_dir,
                                       const ShardTimeouts& timeouts);

}  // namespace compass::cli

#endif  // COMPASS_CLI_SHARD_LAUNCH_H_
