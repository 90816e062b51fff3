// compass: evaluate language models on benchmarks through interchangeable
// backends. Exit codes are listed in commands.h and docs/cli.md.
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <compass/plugin.h>
#include <CLI/CLI.hpp>
#include <charconv>
#include <cstdio>
#include <exception>
#include <iostream>

#include "cli/commands.h"
#include "cli/crash_handler.h"
#include "plugin_host/exit_guard.h"

namespace {

constexpr char kUsage[] =
    "Evaluate language models on benchmarks through interchangeable inference backends.\n\n"
    "  compass --backend NAME --config eval.toml      run the tasks of eval.toml\n"
    "  compass plan --backend NAME|all --config eval.toml [--devices 4xA40|2x8xH100]\n"
    "  compass compare --backends a,b,c --config eval.toml   the same run on each, "
    "compared item by item\n"
    "  compass report RUN_DIR                         rebuild a run folder's reports\n"
    "  compass merge RUN_DIR                          merge a sharded run's stores and report\n"
    "  compass tokenize --model PATH [--json] TEXT    show ids and pieces\n"
    "  compass plugins [--json]                       list the plugins found\n";

// Logging goes to stderr (results go to stdout), plus --log-file if given.
bool SetUpLogging(int verbosity, bool quiet, const std::string& log_file) {
  std::vector<spdlog::sink_ptr> sinks;
  auto console = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  console->set_pattern("%^[%l]%$ %v");
  console->set_level(quiet ? spdlog::level::warn
                           : (verbosity > 0 ? spdlog::level::debug : spdlog::level::info));
  sinks.push_back(console);
  if (!log_file.empty()) {
    try {
      auto file = std::make_shared<spdlog::sinks::basic_file_sink_mt>(log_file, false);
      file->set_level(spdlog::level::debug);
      file->set_pattern("%Y-%m-%d %H:%M:%S.%e [%l] %v");
      sinks.push_back(file);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "[error] cannot open --log-file %s: %s\n", log_file.c_str(), e.what());
      return false;
    }
  }
  auto logger = std::make_shared<spdlog::logger>("compass", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::debug);
  // The log file is flushed line by line, so that it holds everything up to
  // a crash (an abort in a plugin, kill -9); the terminal's stderr is
  // unbuffered anyway.
  logger->flush_on(log_file.empty() ? spdlog::level::warn : spdlog::level::trace);
  spdlog::set_default_logger(logger);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace compass::cli;
  CLI::App app(kUsage, "compass");
  app.footer(
      "\nExit codes: 0 success, 1 the run failed, 2 bad usage, config or input, 3 a plugin is "
      "missing or was refused, 4 the plan does not fit, 130 interrupted (docs/cli.md).");
  app.set_version_flag("--version", std::string("compass ") + COMPASS_VERSION + " (plugin ABI " +
                                        std::to_string(COMPASS_ABI_MAJOR) + "." +
                                        std::to_string(COMPASS_ABI_MINOR) + ")");
  GlobalOptions global;
  RunOptions run;
  int verbosity = 0;
  bool quiet = false;
  std::string log_file;
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("--plugin-dir", global.plugin_dirs,
                    "Folder to search for plugins first (repeatable); then COMPASS_PLUGIN_PATH, "
                    "then the install's plugin folder");
    cmd->add_flag("-v,--verbose", verbosity, "Debug logging");
    cmd->add_flag("-q,--quiet", quiet, "Only warnings and errors");
    cmd->add_option("--log-file", log_file, "Also write the full log (debug level) to this file");
  };
  auto add_run = [&](CLI::App* cmd, bool required) {
    auto* b = cmd->add_option("--backend", run.backend, "Backend plugin, e.g. hf_native");
    auto* c = cmd->add_option("--config", run.config, "The eval.toml to run");
    if (required) {
      b->required();
      c->required();
    }
    cmd->add_option("--set", run.overrides,
                    "Override a config value: --set model.dtype=bf16 (repeatable)");
  };
  add_common(&app);
  add_run(&app, false);
  app.add_option("--output", run.output,
                 "Results folder (default: run.output or runs/<backend>-<time>); running again "
                 "with the same folder resumes");
  app.add_flag("--restart", run.restart,
               "Discard the results stored in the output folder and start over");
  auto add_stop_grace = [](CLI::App* cmd, double& seconds) {
    cmd->add_option("--stop-grace", seconds,
                    "After Ctrl-C (or SIGTERM), seconds to wait for the backend to stop before "
                    "ending the run anyway (default 30; 0: at once); a second Ctrl-C ends it at "
                    "once. What is stored is kept either way")
        ->check([](const std::string& text) -> std::string {
          double v = 0;
          const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
          if (ec == std::errc() && end == text.data() + text.size() && v >= 0 && v <= 86400) {
            return "";
          }
          return "'" + text + "' is not a number of seconds from 0 to 86400";
        });
  };
  add_stop_grace(&app, run.stop_grace);
  auto seconds_check = [](double low) {
    return [low](const std::string& text) -> std::string {
      double v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc() && end == text.data() + text.size() && v >= low && v <= 86400) {
        return "";
      }
      return "'" + text + "' is not a number of seconds from " + std::to_string(int(low)) +
             " to 86400";
    };
  };
  app.add_option("--shard-timeout", run.shard_timeout,
                 "Sharded launch (docs/scale-out.md): a process without a heartbeat for this "
                 "many seconds is dead and the others stop (default 60)")
      ->check(seconds_check(1));
  app.add_option("--shard-join-timeout", run.shard_join_timeout,
                 "Sharded launch: seconds every process has to join (default 600)")
      ->check(seconds_check(1));

  bool json = false;
  auto* plugins = app.add_subcommand("plugins",
                                     "List the plugins found, with ABI and path, and "
                                     "the files refused with the reason");
  add_common(plugins);
  plugins->add_flag("--json", json, "Print as JSON");

  auto* plan = app.add_subcommand("plan",
                                  "Show where the backend would place the model and "
                                  "whether it fits, from config.json or a GGUF header alone");
  add_common(plan);
  add_run(plan, true);
  plan->add_option("--devices", run.devices,
                   "Plan for simulated devices instead of this machine's: 4xA40 (a GPU of "
                   "the catalogue, docs/cli.md), 4xA40-48GB, 2x80GiB, 4xT4-16GB-nobf16; "
                   "2x8xH100 for a cluster (nodes x GPUs per node x GPU, docs/scale-out.md)");
  plan->add_flag("--json", json, "Print as JSON");

  CompareOptions cmp;
  auto* compare = app.add_subcommand(
      "compare",
      "Run the same config on several backends in turn and compare them item by item: scores "
      "with paired tests, agreement, flipped items, performance, environment");
  add_common(compare);
  compare
      ->add_option("--backends", cmp.backends,
                   "Backends, comma-separated; the first is the reference")
      ->delimiter(',')
      ->required();
  compare->add_option("--config", cmp.config, "The eval.toml to run")->required();
  compare->add_option("--set", cmp.overrides,
                      "Override a config value for every backend (repeatable)");
  compare->add_option("--output", cmp.output,
                      "Comparison folder, one run folder per backend inside (default: run.output "
                      "or runs/compare-<time>); running again resumes");
  compare->add_flag("--restart", cmp.restart, "Discard the stored results and start over");
  compare->add_option("--repeat-with-batch-size", cmp.repeat_batch_size,
                      "Rerun the reference backend at this batch size, to separate batch-size "
                      "effects from backend effects");
  add_stop_grace(compare, cmp.stop_grace);

  std::string run_dir;
  auto* report = app.add_subcommand("report",
                                    "Rebuild results.json, report.md, report.html and "
                                    "samples.jsonl of a run folder from its database");
  add_common(report);
  report->add_option("RUN_DIR", run_dir, "The run's output folder")->required();

  std::string merge_dir;
  auto* merge = app.add_subcommand(
      "merge",
      "Merge the shard stores a sharded launch left in a run folder into its results.sqlite and "
      "write the reports; refuses, naming what is missing, when they are incomplete");
  add_common(merge);
  merge->add_option("RUN_DIR", merge_dir, "The run's output folder")->required();

  TokenizeOptions tok;
  auto* tokenize = app.add_subcommand("tokenize",
                                      "Print the token ids and pieces of a text under "
                                      "a model's tokenizer (no special tokens added)");
  add_common(tokenize);
  tokenize
      ->add_option("--model", tok.model,
                   "Model folder with tokenizer.json, or a .gguf file (a tokenizer.json beside "
                   "it wins over its metadata)")
      ->required();
  tokenize->add_option("--tokenizer", tok.kind,
                       "auto (the model's tokenizer.json or GGUF metadata) or bytes");
  tokenize->add_flag("--json", tok.json, "Print as JSON");
  tokenize->add_flag("--no-special", tok.no_special,
                     "Encode special-token text such as <|begin_of_text|> as plain text");
  auto* tok_file = tokenize->add_option("--file", tok.file, "Read the text from a file");
  tokenize->add_option("TEXT", tok.text, "The text")->excludes(tok_file);

  InstallCrashHandler();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (!SetUpLogging(verbosity, quiet, log_file)) return kExitUsage;
  // A plugin calling exit() mid-run must not pass for a success.
  compass::InstallExitGuard(kExitRunFailed);

  int code = kExitRunFailed;
  try {
    if (*plugins) {
      code = PluginsCommand(global, json);
    } else if (*plan) {
      code = PlanCommand(global, run, json);
    } else if (*report) {
      code = ReportCommand(global, run_dir);
    } else if (*merge) {
      code = MergeCommand(global, merge_dir);
    } else if (*compare) {
      code = CompareCommand(global, cmp);
    } else if (*tokenize) {
      code = TokenizeCommand(tok);
    } else if (run.backend.empty() || run.config.empty()) {
      std::fprintf(stderr, "%s\nRun `compass --help` for all options.\n",
                   run.backend.empty() && run.config.empty()
                       ? kUsage
                       : "[error] a run needs both --backend NAME and --config FILE");
      code = kExitUsage;
    } else {
      code = RunCommand(global, run);
    }
  } catch (const std::exception& e) {
    spdlog::critical("unexpected error: {}", e.what());
    code = kExitRunFailed;
  }
  // What was printed must have arrived (a full disk, a closed pipe).
  std::cout.flush();
  if (std::fflush(stdout) != 0 || std::ferror(stdout) || !std::cout) {
    spdlog::error("cannot write the standard output (a full disk?): what it shows is incomplete");
    if (code == kExitOk) code = kExitRunFailed;
  }
  return code;
}
