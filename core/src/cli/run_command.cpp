#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "config/config.h"
#include "devices/devices.h"
#include "plugin_host/host_services.h"
#include "plugin_host/plugin_registry.h"
#include "runner/runner.h"
#include "util/strings.h"

namespace compass::cli {
namespace {

std::atomic<PluginHost*> g_host{nullptr};
std::atomic<bool> g_interrupted{false};

extern "C" void OnInterrupt(int) {
  g_interrupted.store(true);
  if (PluginHost* host = g_host.load()) host->RequestCancel();
}

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

std::string FormatValue(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, std::isnan(v) ? "n/a" : "%.4f", v);
  return buf;
}

void PrintResults(const RunResult& r) {
  int task_w = 4, group_w = 5, metric_w = 6;
  for (const auto& t : r.tasks) {
    task_w = std::max(task_w, static_cast<int>(t.name.size()));
    for (const auto& m : t.metrics) {
      group_w = std::max(group_w, static_cast<int>(m.group.size()));
      metric_w = std::max(metric_w, static_cast<int>(m.metric.size()));
    }
  }
  std::printf("\n%-*s  %-*s  %-*s  %10s  %10s  %8s\n", task_w, "TASK", group_w, "GROUP", metric_w,
              "METRIC", "VALUE", "STDERR", "N");
  for (const auto& t : r.tasks) {
    for (const auto& m : t.metrics) {
      std::printf("%-*s  %-*s  %-*s  %10s  %10s  %8llu\n", task_w, t.name.c_str(), group_w,
                  m.group.empty() ? "(all)" : m.group.c_str(), metric_w, m.metric.c_str(),
                  FormatValue(m.value).c_str(), FormatValue(m.stderr_value).c_str(),
                  static_cast<unsigned long long>(m.count));
    }
  }
  if (!r.figures.empty()) {
    std::printf("\nBackend figures (%s %s):\n", r.backend.c_str(), r.backend_version.c_str());
    for (const auto& f : r.figures) {
      std::printf("  %-28s %-8s %s\n", f.name.c_str(), f.scope.empty() ? "" : f.scope.c_str(),
                  f.Format().c_str());
    }
  }
}

void PrintPlan(const RunResult& r) {
  std::printf("Plan for backend '%s' on %zu device(s):\n", r.backend.c_str(), r.devices.size());
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

nlohmann::json ToJson(const RunResult& r, const EvalConfig& config) {
  nlohmann::json out;
  out["compass_version"] = COMPASS_VERSION;
  out["config"] = config.file;
  out["model"] = {{"path", config.model.path},
                  {"dtype", config.model.dtype},
                  {"tokenizer", config.model.tokenizer}};
  out["backend"] = {{"name", r.backend}, {"version", r.backend_version}};
  out["devices"] = nlohmann::json::array();
  for (const auto& d : r.devices) {
    out["devices"].push_back(
        {{"name", d.name}, {"model", d.model}, {"memory_bytes", d.memory_bytes}});
  }
  out["tasks"] = nlohmann::json::array();
  for (const auto& t : r.tasks) {
    nlohmann::json task = {{"name", t.name},   {"dataset", t.dataset},   {"scorer", t.scorer},
                           {"items", t.items}, {"requests", t.requests}, {"seconds", t.seconds}};
    for (const auto& m : t.metrics) {
      nlohmann::json jm = {
          {"value", std::isnan(m.value) ? nlohmann::json() : nlohmann::json(m.value)},
          {"stderr",
           std::isnan(m.stderr_value) ? nlohmann::json() : nlohmann::json(m.stderr_value)},
          {"stderr_method", m.stderr_method},
          {"count", m.count},
          {"higher_is_better", m.higher_is_better}};
      if (m.group.empty()) {
        task["metrics"][m.metric] = jm;
      } else {
        task["groups"][m.group][m.metric] = jm;
      }
    }
    out["tasks"].push_back(task);
  }
  out["figures"] = nlohmann::json::array();
  for (const auto& f : r.figures) {
    out["figures"].push_back(
        {{"name", f.name}, {"scope", f.scope}, {"value", f.value}, {"unit", f.unit}});
  }
  out["seconds"] = r.seconds;
  return out;
}

std::string DefaultOutputDir(const std::string& backend) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return (std::filesystem::current_path() / "runs" / (backend + "-" + stamp)).string();
}

}  // namespace

void InstallInterruptHandler() {
  struct sigaction sa {};
  sa.sa_handler = OnInterrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool Interrupted() {
  return g_interrupted.load();
}

int RunCommand(const GlobalOptions& global, const RunOptions& options) {
  auto config = LoadConfig(options.config, options.overrides);
  if (!config.ok()) {
    spdlog::error("{}", config.status().message());
    return kExitUsage;
  }
  const auto registry = PluginRegistry::Discover(PluginSearchPath(global.plugin_dirs));
  for (const auto& r : registry.refused()) spdlog::debug("refused plugin {}: {}", r.path, r.reason);
  PluginHost host;
  g_host.store(&host);
  InstallInterruptHandler();
  Runner runner(registry, host);
  auto result = runner.Run(*config, options.backend);
  g_host.store(nullptr);
  if (!result.ok()) {
    spdlog::error("{}", result.status().message());
    return ExitCodeFor(result.status(), runner.stage());
  }
  PrintResults(*result);

  std::string out_dir = options.output;
  if (out_dir.empty()) out_dir = config->run.output;
  if (out_dir.empty()) out_dir = DefaultOutputDir(options.backend);
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  const auto path = std::filesystem::path(out_dir) / "results.json";
  std::ofstream f(path);
  f << ToJson(*result, *config).dump(2) << "\n";
  if (!f.good() || ec) {
    spdlog::error("cannot write {}: {}; choose a writable folder with --output", path.string(),
                  ec ? ec.message() : "write failed");
    return kExitRunFailed;
  }
  std::printf("\nResults: %s\n", path.c_str());
  return kExitOk;
}

int PlanCommand(const GlobalOptions& global, const RunOptions& options, bool json) {
  auto config = LoadConfig(options.config, options.overrides);
  if (!config.ok()) {
    spdlog::error("{}", config.status().message());
    return kExitUsage;
  }
  std::vector<Device> simulated;
  if (!options.devices.empty()) {
    auto parsed = ParseSimulatedDevices(options.devices);
    if (!parsed.ok()) {
      spdlog::error("{}", parsed.status().message());
      return kExitUsage;
    }
    simulated = *parsed;
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
    nlohmann::json out = {{"backend", result->backend},
                          {"fits", result->plan.fits},
                          {"message", result->plan.message}};
    for (const auto& d : result->plan.devices) {
      out["devices"].push_back({{"device", d.device},
                                {"capacity_bytes", d.capacity},
                                {"weight_bytes", d.weights},
                                {"cache_bytes", d.cache},
                                {"activation_bytes", d.activations}});
    }
    for (const auto& p : result->plan.placements) {
      out["placements"].push_back({{"module", p.module}, {"device", p.device}, {"bytes", p.bytes}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    PrintPlan(*result);
  }
  return result->plan.fits ? kExitOk : kExitPlanRefused;
}

}  // namespace compass::cli
