// A run of the compass executable with the deterministic slow backend
// (plugins/slow_backend.cpp) over the MMLU fixture, and what it left behind:
// the requests the backend logged as computed, and the responses the
// results store committed. Shared by the runner's end-to-end tests.
#ifndef COMPASS_TESTS_CORE_RUNNER_SLOW_RUN_H_
#define COMPASS_TESTS_CORE_RUNNER_SLOW_RUN_H_

#include <compass/plugin.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/runner/run_compass.h"
#include "results/request_hash.h"
#include "results/results_store.h"

namespace compass::testing {

// A config over the 20-item MMLU fixture (80 distinct requests), each
// request taking `delay_ms`, every computed request logged to `log`.
inline std::filesystem::path WriteSlowConfig(const std::filesystem::path& dir, int delay_ms,
                                             const std::filesystem::path& log) {
  std::filesystem::create_directories(dir / "model");
  const std::filesystem::path cfg = dir / ("eval_" + std::to_string(delay_ms) + ".toml");
  std::ofstream(cfg) << "[model]\npath = \"model\"\ntokenizer = \"bytes\"\n\n[backend.slow]\n"
                     << "delay_ms = " << delay_ms << "\nlog_file = \"" << log.string() << "\"\n\n"
                     << "[[task]]\ndataset = \"mmlu\"\npath = \"" << COMPASS_SOURCE_DIR
                     << "/tests/fixtures/mmlu\"\nshots = 1\n";
  return cfg;
}

// `compass --backend slow --config CONFIG --output OUT -q EXTRA...`.
inline pid_t SpawnSlow(const std::filesystem::path& config, const std::filesystem::path& out,
                       const std::vector<std::string>& extra, const SpawnOptions& options = {}) {
  std::vector<std::string> args = {"--plugin-dir",
                                   COMPASS_SLOW_PLUGIN_DIR,
                                   "--backend",
                                   "slow",
                                   "--config",
                                   config.string(),
                                   "--output",
                                   out.string(),
                                   "-q"};
  args.insert(args.end(), extra.begin(), extra.end());
  return SpawnCompass(args, options);
}

// Hashes of the requests a run's backend logged as computed.
inline std::set<std::string> Computed(const std::filesystem::path& log) {
  std::set<std::string> out;
  std::ifstream f(log);
  std::string line;
  while (std::getline(f, line)) {
    const auto bar = line.find('|');
    if (bar == std::string::npos) continue;
    std::vector<int32_t> ctx, cont;
    std::istringstream a(line.substr(0, bar)), b(line.substr(bar + 1));
    for (int32_t x; a >> x;) ctx.push_back(x);
    for (int32_t x; b >> x;) cont.push_back(x);
    compass_request r{};
    r.struct_size = sizeof r;
    r.kind = COMPASS_REQUEST_LOGLIKELIHOOD;
    r.context = {ctx.data(), ctx.size()};
    r.continuation = {cont.data(), cont.size()};
    out.insert(HashRequest(r));
  }
  return out;
}

// How many lines the backend logged (a request computed twice counts twice).
inline size_t ComputedLines(const std::filesystem::path& log) {
  std::ifstream f(log);
  size_t n = 0;
  for (std::string line; std::getline(f, line);) n += line.find('|') != std::string::npos;
  return n;
}

// Hashes of the responses a run folder's store committed.
inline std::set<std::string> Committed(const std::filesystem::path& run,
                                       const std::string& label = "") {
  auto store = ResultsStore::OpenExisting(run.string(), label);
  if (!store.ok()) return {};
  auto hashes = (*store)->ResponseHashes();
  return hashes.ok() ? *hashes : std::set<std::string>();
}

}  // namespace compass::testing

#endif  // COMPASS_TESTS_CORE_RUNNER_SLOW_RUN_H_
