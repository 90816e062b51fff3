#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "cli/crash_handler.h"
#include "cli/plan_cluster.h"
#include "cli/plan_support.h"
#include "cli/run_backend.h"
#include "cli/shard_launch.h"
#include "cli/stop_control.h"
#include "config/config.h"
#include "devices/devices.h"
#include "plugin_host/host_services.h"
#include "plugin_host/plugin_registry.h"
#include "report/report.h"
#include "results/results_store.h"
#include "runner/runner.h"
#include "shard/shard_stores.h"
#include "util/strings.h"

namespace compass::cli {
namespace {

void PrintPlan(const PlanReport& r) {
  std::printf("Plan for backend '%s' on %zu device(s), dtype %s, context window %lld tokens:\n",
              r.backend.c_str(), r.devices.size(), r.dtype.c_str(),
              static_cast<long long>(r.max_length));
  std::printf("  %-10s %-24s %12s %12s %12s %12s\n", "DEVICE", "MODEL", "CAPACITY", "WEIGHTS",
              "CACHE", "ACTIVATIONS");
  for (const auto& d : r.plan.devices) {
    std::string model;
    for (const auto& dev : r.devices) {
      if (dev.name == d.device) model = dev.model;
    }
    std::printf("  %-10s %-24s %12s %12s %12s %12s\n", d.device.c_str(), model.c_str(),
                FormatBytes(d.capacity).c_str(), FormatBytes(d.weights).c_str(),
                FormatBytes(d.cache).c_str(), FormatBytes(d.activations).c_str());
  }
  if (!r.plan.placements.empty()) {
    std::printf("  Placement:\n");
    for (const auto& p : r.plan.placements) {
      std::printf("    %-32s -> %-8s %12s\n", p.module.c_str(), p.device.c_str(),
                  FormatBytes(p.bytes).c_str());
    }
  }
  for (const auto& f : r.plan.figures) {
    std::printf("  %-28s %s\n", f.name.c_str(), f.Format().c_str());
  }
  std::printf("%s%s%s\n", r.plan.fits ? "FITS" : "DOES NOT FIT", r.plan.message.empty() ? "" : ": ",
              r.plan.message.c_str());
}

std::string DefaultOutputDir(const std::string& backend) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return (std::filesystem::current_path() / "runs" / (backend + "-" + stamp)).string();
}

}  // namespace

int ExitCodeFor(const Status& status, RunStage stage) {
  if (status.code() == COMPASS_CANCELLED || Interrupted()) return kExitInterrupted;
  switch (stage) {
    case RunStage::kPlugin: return kExitPlugin;
    case RunStage::kValidate: return kExitUsage;
    case RunStage::kPlan:
      return status.code() == COMPASS_OUT_OF_MEMORY ? kExitPlanRefused : kExitUsage;
    default: return kExitRunFailed;
  }
}

nlohmann::json PlanJson(const PlanReport& r) {
  nlohmann::json out = {{"backend", r.backend},
                        {"dtype", r.dtype},
                        {"max_length", r.max_length},
                        {"fits", r.plan.fits},
                        {"message", r.plan.message}};
  for (const auto& d : r.plan.devices) {
    out["devices"].push_back({{"device", d.device},
                              {"capacity_bytes", d.capacity},
                              {"weight_bytes", d.weights},
                              {"cache_bytes", d.cache},
                              {"activation_bytes", d.activations}});
  }
  for (const auto& p : r.plan.placements) {
    out["placements"].push_back({{"module", p.module}, {"device", p.device}, {"bytes", p.bytes}});
  }
  for (const auto& f : r.plan.figures) {
    out["figures"][f.scope.empty() ? f.name : f.scope + "." + f.name] = f.value;
  }
  return out;
}

int RunBackend(const PluginRegistry& registry, const EvalConfig& config, const std::string& backend,
               const compass::RunOptions& options, BackendOutcome* outcome) {
  PluginHost host;
  SetStopTarget(&host, "backend '" + backend + "'");
  SetCrashResumeFolder(options.output_dir);
  Runner runner(registry, host);
  auto summary = runner.Run(config, backend, options);
  SetCrashResumeFolder("");
  SetStopTarget(nullptr, "");
  outcome->model_spans_processes = runner.processes_per_model() > 1;
  if (!summary.ok()) {
    spdlog::error("{}", summary.status().message());
    outcome->error = summary.status().message();
    return ExitCodeFor(summary.status(), runner.stage());
  }
  outcome->finished = true;
  outcome->scored = summary->scored;
  outcome->folder_lock = summary->folder_lock;
  if (!summary->scored) {
    // A rank > 0 of a sharded launch: rank 0 scores and reports.
    spdlog::info("{} requests: {} computed by this rank, {} reused; rank 0 merges and reports",
                 summary->requests, summary->share_computed, summary->reused);
  } else {
    spdlog::info("{} requests: {} computed, {} reused from {}", summary->requests,
                 summary->computed, summary->reused, options.output_dir);
  }
  if (summary->failed_requests > 0) {
    outcome->error = std::to_string(summary->failed_requests) + " request(s) failed (" +
                     std::to_string(summary->failed_items) +
                     " item(s) left unscored; first: " + summary->first_failure +
                     "); the rest is stored, and running the same command again retries only them";
    return kExitRunFailed;
  }
  return kExitOk;
}

std::string TimestampedDir(const std::string& name) {
  return DefaultOutputDir(name);
}

int RunCommand(const GlobalOptions& global, const RunOptions& options) {
  auto config = LoadConfig(options.config, options.overrides);
  if (!config.ok()) {
    spdlog::error("{}", config.status().message());
    return kExitUsage;
  }
  const auto registry = PluginRegistry::Discover(PluginSearchPath(global.plugin_dirs));
  for (const auto& r : registry.refused()) spdlog::debug("refused plugin {}: {}", r.path, r.reason);
  compass::RunOptions run_options;
  run_options.output_dir = options.output;
  if (run_options.output_dir.empty()) run_options.output_dir = config->run.output;
  if (run_options.output_dir.empty()) run_options.output_dir = DefaultOutputDir(options.backend);
  run_options.restart = options.restart;
  InstallStopControl(options.stop_grace);
  auto launch = DetectLaunch();
  if (!launch.ok()) {
    spdlog::error("{}", launch.status().message());
    return kExitUsage;
  }
  ShardLaunch shard;
  if (launch->sharded()) {
    auto started = StartShardLaunch(*launch, run_options.output_dir,
                                    {options.shard_timeout, options.shard_join_timeout});
    if (!started.ok()) {
      spdlog::error("{}", started.status().message());
      return kExitRunFailed;
    }
    shard = std::move(*started);
    run_options.shard.rank = launch->rank;
    run_options.shard.world = launch->world;
    run_options.shard.launch = shard.launch;
    run_options.shard.local_rank = launch->local_rank;
    run_options.shard.rendezvous = shard.rendezvous;
    run_options.shard.timeout_seconds = options.shard_join_timeout;
    run_options.shard.coordinator = shard.coordinator.get();
  } else if (!launch->launcher.empty()) {
    spdlog::info("launched by {} as a world of 1: a plain run", launch->launcher);
  }
  BackendOutcome outcome;
  int code = RunBackend(registry, *config, options.backend, run_options, &outcome);
  if (shard.coordinator) {
    // A failure of a model copy that spans processes is most often one of
    // them dying: the heartbeats then name it within the timeout, which
    // says more than the broken connection the backend saw.
    std::optional<std::string> reason = shard.coordinator->stop_reason();
    if (!reason && !outcome.finished && outcome.model_spans_processes) {
      reason = shard.coordinator->WaitForStop(shard.coordinator->timeout_seconds() + 2);
    }
    if (reason) {
      // The launch stopped (a rank died): not an interrupt.
      if (code != kExitOk) code = kExitRunFailed;
    } else if (!outcome.finished) {
      // Tell the others at once instead of letting them wait for a timeout.
      shard.coordinator->Stop("rank " + std::to_string(launch->rank) + " failed: " + outcome.error +
                              "; the launch stops, every answer stored is kept");
    }
  }
  if (!outcome.finished || !outcome.scored) return code;
  // Failed requests: the reports still show every other item (failures
  // marked). The folder stays locked (outcome.folder_lock) until they are
  // written.
  const int report = ReportCommand(global, run_options.output_dir);
  if (code != kExitOk) {
    spdlog::error("{}", outcome.error);
    return code;
  }
  return report;
}

int MergeCommand(const GlobalOptions& global, const std::string& run_dir) {
  auto shards = ListShardStores(run_dir);
  if (!shards.ok()) {
    spdlog::error("{}", shards.status().message());
    return kExitUsage;
  }
  // The run to merge, as its shards (or the merged store) recorded it.
  std::string source;
  for (const auto& s : *shards) source = s.path;
  if (source.empty()) source = (std::filesystem::path(run_dir) / ResultsStore::kFileName).string();
  auto store = ResultsStore::OpenFile(source, "", false);
  if (!store.ok()) {
    spdlog::error("{}: no shard store nor results.sqlite: {} is not a run folder", run_dir,
                  run_dir);
    return kExitUsage;
  }
  auto meta = (*store)->Run();
  if (!meta.ok()) {
    spdlog::error("{}", meta.status().message());
    return kExitUsage;
  }
  store->reset();
  // Relative paths of the stored config were resolved against its folder
  // when it was read; the stored text keeps them as written.
  std::string base_dir = ReadShardBaseDir(run_dir);
  if (base_dir.empty()) base_dir = std::filesystem::current_path().string();
  auto config = ParseConfig(meta->config_text, source, base_dir);
  if (!config.ok()) {
    spdlog::error("the run's stored config: {}", config.status().message());
    return kExitUsage;
  }
  const auto registry = PluginRegistry::Discover(PluginSearchPath(global.plugin_dirs));
  compass::RunOptions run_options;
  run_options.output_dir = run_dir;
  run_options.shard.merge_only = true;
  BackendOutcome outcome;
  const int code = RunBackend(registry, *config, meta->backend, run_options, &outcome);
  if (!outcome.finished) return code;
  const int report = ReportCommand(global, run_dir);
  return code != kExitOk ? code : report;
}

int ReportCommand(const GlobalOptions&, const std::string& run_dir) {
  auto store = ResultsStore::OpenExisting(run_dir);
  if (!store.ok()) {
    spdlog::error("{}", store.status().message());
    return kExitUsage;
  }
  if (auto labels = (*store)->Labels(); labels.ok() && !labels->empty() && labels->front() != "") {
    // A compare folder: its runs are labelled by backend.
    std::string names;
    for (const std::string& l : *labels) names += (names.empty() ? "" : ", ") + l;
    spdlog::error(
        "{} holds the compared runs {}: their reports are in {}/<backend>/ and the comparison in "
        "{}/compare.html; to rebuild them, run the same `compass compare` with --output {} "
        "(nothing stored is computed again)",
        (*store)->path(), names, run_dir, run_dir, run_dir);
    return kExitUsage;
  }
  auto table = SummaryTable(**store);
  auto files = table.ok() ? WriteReports(**store, run_dir) : StatusOr<ReportFiles>(table.status());
  if (!files.ok()) {
    spdlog::error("{}", files.status().message());
    return kExitRunFailed;
  }
  std::printf("\n%s\nReport: %s\n        %s\n        %s\n        %s\n", table->c_str(),
              files->report_html.c_str(), files->report_md.c_str(), files->results_json.c_str(),
              files->samples_jsonl.c_str());
  return kExitOk;
}

StatusOr<PlanReport> PlanWithOverrides(const PluginRegistry& registry,
                                       const std::string& config_path,
                                       const std::vector<std::string>& overrides,
                                       const std::string& backend,
                                       const std::vector<Device>& simulated, int* exit) {
  auto config = LoadConfig(config_path, overrides);
  if (!config.ok()) {
    *exit = kExitUsage;
    return config.status();
  }
  PluginHost host;
  Runner runner(registry, host);
  auto report = runner.Plan(*config, backend, simulated);
  if (!report.ok()) *exit = ExitCodeFor(report.status(), runner.stage());
  return report;
}

std::optional<PlanInputs> LoadPlanInputs(const RunOptions& options) {
  auto config = LoadConfig(options.config, options.overrides);
  if (!config.ok()) {
    spdlog::error("{}", config.status().message());
    return std::nullopt;
  }
  PlanInputs inputs{std::move(*config), {}};
  if (!options.devices.empty()) {
    auto parsed = ParseSimulatedDevices(options.devices);
    if (!parsed.ok()) {
      spdlog::error("{}", parsed.status().message());
      return std::nullopt;
    }
    inputs.simulated = std::move(*parsed);
  }
  return inputs;
}

int PlanCommand(const GlobalOptions& global, const RunOptions& options, bool json) {
  if (options.backend == kAllBackends) return PlanAllCommand(global, options, json);
  if (options.backend == kClusterBackend && IsClusterSpec(options.devices)) {
    return PlanClusterCommand(global, options, json);
  }
  std::optional<PlanInputs> inputs = LoadPlanInputs(options);
  if (!inputs) return kExitUsage;
  const EvalConfig* config = &inputs->config;
  const std::vector<Device>& simulated = inputs->simulated;
  if (NodeCount(simulated) > 1) {
    spdlog::error(
        "--devices '{}' spans {} nodes, but {} runs in one process on one machine; plan it on "
        "one node (--devices 1x{}x...), or lay the model out over the cluster with --backend {} "
        "(tp within a node, stages across nodes) or --backend all (docs/scale-out.md)",
        options.devices, NodeCount(simulated), options.backend,
        std::count_if(simulated.begin(), simulated.end(),
                      [](const Device& d) { return d.node == 0; }),
        kClusterBackend);
    return kExitUsage;
  }
  const auto registry = PluginRegistry::Discover(PluginSearchPath(global.plugin_dirs));
  PluginHost host;
  Runner runner(registry, host);
  auto result = runner.Plan(*config, options.backend, simulated);
  if (!result.ok()) {
    spdlog::error("{}", result.status().message());
    return ExitCodeFor(result.status(), runner.stage());
  }
  if (json) {
    std::cout << PlanJson(*result).dump(2) << "\n";
  } else {
    PrintPlan(*result);
  }
  return result->plan.fits ? kExitOk : kExitPlanRefused;
}

}  // namespace compass::cli
