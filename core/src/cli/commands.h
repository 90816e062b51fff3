// The compass subcommands. Each returns the process exit code (see
// docs/cli.md): 0 success, 1 run failed, 2 bad usage/config/input,
// 3 plugin missing or refused, 4 plan does not fit, 130 interrupted.
#ifndef COMPASS_CLI_COMMANDS_H_
#define COMPASS_CLI_COMMANDS_H_

#include <string>
#include <vector>

namespace compass::cli {

enum ExitCode {
  kExitOk = 0,
  kExitRunFailed = 1,
  kExitUsage = 2,
  kExitPlugin = 3,
  kExitPlanRefused = 4,
  kExitInterrupted = 130
};

// After Ctrl-C, how long a backend that does not stop is waited for
// (--stop-grace; cli/stop_control.h).
inline constexpr double kDefaultStopGraceSeconds = 30;

struct GlobalOptions {
  std::vector<std::string> plugin_dirs;
};

struct RunOptions {
  std::string backend;
  std::string config;
  std::vector<std::string> overrides;
  std::string output;    // results folder; "" = runs/<backend>-<time>
  std::string devices;   // plan only: simulated devices, e.g. "4xA40-48GB"
  bool restart = false;  // discard results stored in the output folder
  double stop_grace = kDefaultStopGraceSeconds;
  // A sharded launch (docs/scale-out.md): a process silent this long is
  // dead; every process must have joined within the second.
  double shard_timeout = 60;
  double shard_join_timeout = 600;
};

struct TokenizeOptions {
  std::string model;          // the model folder holding tokenizer.json, or a .gguf file
  std::string kind = "auto";  // "auto" or "bytes"
  std::string text, file;
  bool json = false;
  bool no_special = false;  // special-token text is encoded as plain text
};

struct CompareOptions {
  std::vector<std::string> backends;  // the first is the reference
  std::string config;
  std::vector<std::string> overrides;
  std::string output;  // "" = run.output, else runs/compare-<time>
  bool restart = false;
  uint32_t repeat_batch_size = 0;  // rerun the reference at this batch size; 0 = no
  double stop_grace = kDefaultStopGraceSeconds;
};

int PluginsCommand(const GlobalOptions& global, bool json);
// Runs one request stream on several backends in turn, each into
// <output>/<backend> (resumable like a run), and writes the comparison
// (compare.md, compare.html, compare.json) into <output>. Exit 0 when every
// backend ran, 1 when one failed (the comparison says which and why).
int CompareCommand(const GlobalOptions& global, const CompareOptions& options);
// Prints the ids and pieces of a text under a model's tokenizer.
int TokenizeCommand(const TokenizeOptions& options);
int RunCommand(const GlobalOptions& global, const RunOptions& options);
// `--backend all` plans every in-tree backend (PlanAllCommand); paged_tp on
// a cluster (`--devices 2x8xH100`) is the cluster plan (plan_cluster.h).
int PlanCommand(const GlobalOptions& global, const RunOptions& options, bool json);
// Plans hf_native, paged_tp and pipeline for the same model and devices and
// prints one table (or one JSON document): each backend's layout (its
// device map; tp = the devices, or the most that the model's heads allow;
// stages = the devices, at most the layers), dtype, per-device peak, KV
// capacity and verdict. 0 when one backend fits, 4 when none does.
int PlanAllCommand(const GlobalOptions& global, const RunOptions& options, bool json);
inline constexpr char kAllBackends[] = "all";
// Merges the shard stores a sharded launch left in `run_dir` into its
// results.sqlite and writes the reports, as rank 0 does at the end of a
// launch; refuses, naming how many requests of which task are missing,
// when the shards are incomplete (exit 2).
int MergeCommand(const GlobalOptions& global, const std::string& run_dir);
// Rebuilds the reports of a run folder from its results database.
int ReportCommand(const GlobalOptions& global, const std::string& run_dir);

}  // namespace compass::cli

#endif  // COMPASS_CLI_COMMANDS_H_
