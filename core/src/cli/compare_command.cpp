// `compass compare`: the same config on several backends in turn, each into
// the one results store of the compare folder under its own label, then the
// item-by-item comparison (report/comparison.h).
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "cli/commands.h"
#include "cli/run_backend.h"
#include "cli/stop_control.h"
#include "report/comparison.h"
#include "report/report.h"
#include "results/results_store.h"
#include "results/run_lock.h"

namespace compass::cli {
namespace {

std::string StorePath(const std::string& dir) {
  return (std::filesystem::path(dir) / ResultsStore::kFileName).string();
}

}  // namespace

int CompareCommand(const GlobalOptions& global, const CompareOptions& options) {
  if (options.backends.empty()) {
    spdlog::error("compare: --backends needs at least one backend (e.g. hf_native,paged_tp)");
    return kExitUsage;
  }
  std::set<std::string> seen;
  for (const std::string& b : options.backends) {
    if (!seen.insert(b).second) {
      spdlog::error("compare: backend '{}' is listed twice in --backends", b);
      return kExitUsage;
    }
  }
  auto config = LoadConfig(options.config, options.overrides);
  if (!config.ok()) {
    spdlog::error("{}", config.status().message());
    return kExitUsage;
  }
  const auto registry = PluginRegistry::Discover(PluginSearchPath(global.plugin_dirs));
  // Every backend must exist before anything runs.
  for (const std::string& b : options.backends) {
    auto found = registry.Find(PluginKind::kBackend, b);
    if (!found.ok()) {
      spdlog::error("compare: {}", found.status().message());
      return kExitPlugin;
    }
  }
  std::string out = options.output;
  if (out.empty()) out = config->run.output;
  if (out.empty()) out = TimestampedDir("compare");
  namespace fs = std::filesystem;
  // One writer per compare folder, for every backend's run in it and the
  // comparison.
  auto acquired = RunFolderLock::Acquire(out);
  if (!acquired.ok()) {
    spdlog::error("compare: {}", acquired.status().message());
    return kExitUsage;
  }
  const std::shared_ptr<RunFolderLock> lock = std::move(*acquired);
  InstallStopControl(options.stop_grace);

  std::vector<ComparedRun> runs;
  bool all_ran = true;
  std::string report_error;  // the first report that could not be written
  // One backend in turn; each releases its memory (the instance ends with
  // its run) before the next loads.
  auto run_one = [&](const std::string& backend, const std::string& label, const EvalConfig& cfg,
                     const std::string& repeats) -> bool {
    ComparedRun r;
    r.label = label;
    r.dir = out;
    r.repeats = repeats;
    spdlog::info("compare: {} into {} (label '{}')", backend, StorePath(out), label);
    compass::RunOptions run_options;
    run_options.output_dir = out;
    run_options.store_label = label;
    run_options.restart = options.restart;
    run_options.folder_lock = lock;
    BackendOutcome outcome;
    const int code = RunBackend(registry, cfg, backend, run_options, &outcome);
    if (code == kExitInterrupted) return false;
    if (outcome.finished) {
      // Its own reports, as a run writes them, in a folder of its own.
      const fs::path reports = fs::path(out) / label;
      std::error_code ec;
      fs::create_directories(reports, ec);
      auto store = ResultsStore::OpenExisting(out, label);
      auto files = store.ok() ? WriteReports(**store, reports.string())
                              : StatusOr<ReportFiles>(store.status());
      if (!files.ok()) {
        // The comparison is still written; the command fails, naming the file.
        spdlog::error("compare: {}: {}", label, files.status().message());
        if (report_error.empty()) report_error = files.status().message();
      }
    }
    if (!outcome.finished) {
      r.error = outcome.error;
      all_ran = false;
    } else if (code != kExitOk) {
      spdlog::warn("compare: {}: {}", label, outcome.error);
      all_ran = false;
    }
    runs.push_back(std::move(r));
    return true;
  };
  for (const std::string& backend : options.backends) {
    if (!run_one(backend, backend, *config, "")) return kExitInterrupted;
  }
  if (options.repeat_batch_size > 0) {
    std::string base;
    for (const ComparedRun& r : runs) {
      if (r.error.empty()) {
        base = r.label;
        break;
      }
    }
    if (!base.empty()) {
      std::vector<std::string> overrides = options.overrides;
      overrides.push_back("backend.batch_size=" + std::to_string(options.repeat_batch_size));
      auto repeat = LoadConfig(options.config, overrides);
      if (!repeat.ok()) {
        spdlog::error("{}", repeat.status().message());
        return kExitUsage;
      }
      const std::string label = base + "@bs" + std::to_string(options.repeat_batch_size);
      if (!run_one(base, label, *repeat, base)) return kExitInterrupted;
    }
  }
  auto comparison = Compare(runs);
  if (!comparison.ok()) {
    spdlog::error("{}", comparison.status().message());
    return kExitRunFailed;
  }
  auto files = WriteComparison(*comparison, out);
  if (!files.ok()) {
    spdlog::error("{}", files.status().message());
    return kExitRunFailed;
  }
  std::printf("\n%s\nComparison: %s\n            %s\n            %s\n",
              ComparisonTable(*comparison).c_str(), files->html.c_str(), files->markdown.c_str(),
              files->json.c_str());
  if (!report_error.empty()) {
    spdlog::error("compare: a run's reports could not be written: {}", report_error);
    return kExitRunFailed;
  }
  return all_ran ? kExitOk : kExitRunFailed;
}

}  // namespace compass::cli
