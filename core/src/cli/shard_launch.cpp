#include "cli/shard_launch.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>

#include "cli/commands.h"
#include "cli/stop_control.h"
#include "shard/rendezvous_library.h"
#include "shard/sharding.h"

namespace compass::cli {
namespace {

std::string HostName() {
  char name[256] = "";
  if (::gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

// Rank 0's proposal: unique per launch even when the launcher's id repeats.
std::string ProposeLaunchId(const LaunchInfo& info) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%S", std::gmtime(&now));
  return SafeLaunchId((info.launch_id.empty() ? std::string() : info.launch_id + "-") + stamp +
                      "-" + std::to_string(::getpid()));
}

}  // namespace

StatusOr<ShardLaunch> StartShardLaunch(const LaunchInfo& info, const std::string& output_dir,
                                       const ShardTimeouts& timeouts) {
  RendezvousAddress address;
  address.world = info.world;
  address.connect_timeout_seconds = timeouts.join_timeout;
  if (!info.master_addr.empty()) {
    address.host = info.master_addr;
    address.port = info.master_port;
    // Under torchrun's agent store rank 0 is a client like the others.
    const char* agent = std::getenv("TORCHELASTIC_USE_AGENT_STORE");
    address.is_server = info.rank == 0 && !(agent && std::string(agent) == "True");
  } else {
    if (info.launch_id.empty()) {
      return InvalidArgument(
          "launched by " + info.launcher +
          " without MASTER_ADDR and MASTER_PORT, and no launch id: set MASTER_ADDR and "
          "MASTER_PORT (rank 0's host and a free port), or COMPASS_LAUNCH_ID to the same new "
          "value in every process (docs/scale-out.md)");
    }
    // Beside shards/, not in it: the last process to close the store
    // removes the file, maybe after rank 0 removed the merged shards.
    const std::filesystem::path folder = output_dir;
    std::error_code ec;
    std::filesystem::create_directories(folder, ec);
    if (ec) {
      return IoError("cannot create " + folder.string() + ": " + ec.message() +
                     "; choose a writable --output that every process sees");
    }
    address.file = (folder / (".rendezvous-" + SafeLaunchId(info.launch_id))).string();
  }
  spdlog::info(
      "{}: meeting the other processes at {}", info.Describe(),
      address.host.empty() ? address.file : address.host + ":" + std::to_string(address.port));
  COMPASS_ASSIGN_OR_RETURN(std::unique_ptr<KeyValueStore> store, OpenRendezvous(address));
  CoordinatorOptions options;
  options.rank = info.rank;
  options.world = info.world;
  options.host = HostName();
  options.pid = ::getpid();
  options.timeout_seconds = timeouts.heartbeat_timeout;
  options.join_timeout_seconds = timeouts.join_timeout;
  options.heartbeat_seconds = std::min(1.0, timeouts.heartbeat_timeout / 4);
  // torchrun's agent store outlives a restart of its workers: each attempt
  // keeps its own keys.
  const char* restarts = std::getenv("TORCHELASTIC_RESTART_COUNT");
  options.key_prefix = std::string("compass/") + (restarts && *restarts ? restarts : "0") + "/";
  ShardLaunch launch;
  launch.info = info;
  launch.rendezvous = address.host.empty()
                          ? "file://" + address.file
                          : "tcp://" + address.host + ":" + std::to_string(address.port);
  launch.coordinator = std::make_unique<Coordinator>(
      std::move(store), options,
      [](const std::string& reason) { RequestStop(reason, kExitRunFailed); });
  COMPASS_ASSIGN_OR_RETURN(launch.launch, launch.coordinator->Join(ProposeLaunchId(info)));
  spdlog::info("all {} processes joined launch {}", info.world, launch.launch);
  return launch;
}

}  // namespace compass::cli
