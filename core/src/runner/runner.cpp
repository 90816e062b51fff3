#include "runner/runner.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>

#include "gguf/gguf_file.h"
#include "plugin_host/plugin_call.h"
#include "results/request_hash.h"
#include "results/results_store.h"
#include "runner/backend_session.h"
#include "runner/host_measures.h"
#include "runner/progress.h"
#include "runner/request_builder.h"
#include "runner/run_rules.h"
#include "runner/task_scoring.h"
#include "shard/shard_stores.h"
#include "shard/sharding.h"
#include "tokenizer/tokenizer.h"
#include "util/strings.h"

#ifndef COMPASS_VERSION
#define COMPASS_VERSION "unknown"
#endif
#ifndef COMPASS_GIT_HASH
#define COMPASS_GIT_HASH "unknown"
#endif

namespace compass {
namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string IsoNow() {
  const std::time_t now = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  return buf;
}

struct TaskPlan {
  const TaskConfig* config;
  const PluginRecord* dataset;
  const PluginRecord* scorer;
  std::string dataset_options, scorer_options;
  uint32_t shots = 0;       // the task's `shots`, else the dataset's default
  uint64_t item_kinds = 0;  // what the dataset said it delivers; 0 = not said
};

// Everything checked before anything expensive happens.
struct Validated {
  const PluginRecord* backend = nullptr;
  std::string backend_options;
  std::vector<TaskPlan> tasks;
};

compass_dataset_config DatasetConfig(const EvalConfig& config, const TaskPlan& t) {
  const TaskConfig& task = *t.config;
  compass_dataset_config dc{};
  dc.struct_size = sizeof dc;
  dc.path = sdk::str(task.path);
  dc.num_shots = t.shots;
  dc.seed = task.seed;
  dc.limit = task.limit ? task.limit : config.run.limit;
  dc.options_json = sdk::str(t.dataset_options);
  return dc;
}

std::string KindsText(uint64_t mask) {
  const std::vector<std::string> names = ItemKindNames(mask);
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == names.size() ? " and " : ", ") + names[i];
  }
  return out;
}

// The scorers of the registry that accept every kind in `kinds`.
std::vector<std::string> ScorersFor(const PluginRegistry& registry, uint64_t kinds) {
  std::vector<std::string> out;
  for (const PluginRecord& p : registry.plugins()) {
    if (p.kind == PluginKind::kScorer && p.scorer.item_kinds != 0 &&
        (kinds & ~p.scorer.item_kinds) == 0) {
      out.push_back(p.name);
    }
  }
  return out;
}

// The scorer must accept the kinds of item the task delivers: known from
// the dataset's description before any data is read, or from the items
// themselves (`kinds`) for a dataset that gives none. A scorer that
// declares no kinds is not checked.
Status CheckScorerFits(const EvalConfig& config, const PluginRegistry& registry, size_t index,
                       const TaskPlan& t, uint64_t kinds) {
  const uint64_t accepted = t.scorer->scorer.item_kinds;
  if (kinds == 0 || accepted == 0 || (kinds & ~accepted) == 0) return Status::Ok();
  const TaskConfig& task = *t.config;
  const std::string tp = "task[" + std::to_string(index) + "]";
  const bool named = !task.scorer.empty();
  const SourcePos& where = named && task.scorer_where.line > 0 ? task.scorer_where : task.where;
  const std::string pos = where.line > 0 ? where.ToString() : config.display_file;
  const std::vector<std::string> fit = ScorersFor(registry, kinds);
  std::string fix =
      fit.empty() ? "no scorer found accepts them"
                  : "use scorer = \"" + fit.front() + "\"" +
                        (fit.size() > 1 ? " (or " + Join({fit.begin() + 1, fit.end()}) + ")" : "");
  if (named && !t.dataset->dataset.describe)
    fix += ", or leave scorer out for the dataset's default";
  return InvalidArgument(pos + ": " + tp + (named ? ".scorer" : "") + ": scorer '" +
                         t.scorer->name + "'" + (named ? "" : " (the dataset's choice)") +
                         " scores " + KindsText(accepted) + " items, but task '" + task.name +
                         "' (dataset '" + task.dataset + "') gives " + KindsText(kinds) +
                         " items; " + fix);
}

StatusOr<Validated> Validate(const EvalConfig& config, const PluginRegistry& registry,
                             PluginHost& host, const std::string& backend_name, RunStage& stage) {
  Validated v;
  stage = RunStage::kPlugin;
  COMPASS_ASSIGN_OR_RETURN(v.backend, registry.Find(PluginKind::kBackend, backend_name));
  stage = RunStage::kValidate;
  COMPASS_RETURN_IF_ERROR(CheckBackendTables(config, registry.Names(PluginKind::kBackend)));
  const auto it = config.backend.plugin_tables.find(backend_name);
  const toml::table empty;
  COMPASS_ASSIGN_OR_RETURN(
      v.backend_options,
      PluginOptionsToJson(it == config.backend.plugin_tables.end() ? empty : it->second,
                          v.backend->options(), config.display_file, "backend." + backend_name,
                          config.base_dir));
  for (size_t i = 0; i < config.tasks.size(); ++i) {
    const TaskConfig& task = config.tasks[i];
    TaskPlan t{&task, nullptr, nullptr, "", "", task.shots, 0};
    stage = RunStage::kPlugin;
    COMPASS_ASSIGN_OR_RETURN(t.dataset, registry.Find(PluginKind::kDataset, task.dataset));
    stage = RunStage::kValidate;
    const std::string where = "task[" + std::to_string(i) + "]";
    COMPASS_ASSIGN_OR_RETURN(t.dataset_options,
                             PluginOptionsToJson(task.dataset_options, t.dataset->options(),
                                                 config.display_file, where, config.base_dir));
    // What the task will deliver, from its definition alone (ABI 2.1).
    COMPASS_ASSIGN_OR_RETURN(std::optional<TaskInfo> info,
                             DatasetInstance::Describe(*t.dataset, host, DatasetConfig(config, t)));
    std::string scorer = task.scorer, dataset_scorer_options;
    if (info) {
      t.item_kinds = info->item_kinds;
      if (!task.shots_set && info->num_shots >= 0) t.shots = static_cast<uint32_t>(info->num_shots);
    }
    if (scorer.empty()) {
      scorer = info && !info->scorer.empty()
                   ? info->scorer
                   : std::string(sdk::view(t.dataset->dataset.default_scorer));
      if (info) dataset_scorer_options = info->scorer_options_json;
    }
    stage = RunStage::kPlugin;
    COMPASS_ASSIGN_OR_RETURN(t.scorer, registry.Find(PluginKind::kScorer, scorer));
    stage = RunStage::kValidate;
    COMPASS_RETURN_IF_ERROR(CheckScorerFits(config, registry, i, t, t.item_kinds));
    if (task.scorer_options.empty() && !dataset_scorer_options.empty()) {
      t.scorer_options = dataset_scorer_options;
    } else {
      COMPASS_ASSIGN_OR_RETURN(
          t.scorer_options,
          PluginOptionsToJson(task.scorer_options, t.scorer->options(), config.display_file,
                              where + ".scorer_options", config.base_dir));
    }
    v.tasks.push_back(std::move(t));
  }
  return v;
}

StatusOr<std::vector<sdk::Item>> ReadItems(PluginHost& host, const EvalConfig& config,
                                           const PluginRegistry& registry, size_t index,
                                           const TaskPlan& t) {
  const TaskConfig& task = *t.config;
  const compass_dataset_config dc = DatasetConfig(config, t);
  COMPASS_ASSIGN_OR_RETURN(auto dataset, DatasetInstance::Create(*t.dataset, host, dc));
  std::vector<sdk::Item> items;
  uint64_t kinds = 0;
  // The dataset applies the limit (per subject where it has subjects).
  COMPASS_RETURN_IF_ERROR(dataset->Items([&](const compass_item& item) {
    items.push_back(sdk::to_item(item));
    kinds |= COMPASS_ITEM_KIND_BIT(item.kind);
    return true;
  }));
  if (items.empty()) {
    return InvalidArgument("task '" + task.name + "': dataset '" + task.dataset +
                           "' produced no items from " + task.path);
  }
  // Datasets that described nothing are checked on their items.
  COMPASS_RETURN_IF_ERROR(CheckScorerFits(config, registry, index, t, kinds));
  return items;
}

// One task's items, scorer and requests.
struct TaskWork {
  const TaskPlan* plan = nullptr;
  std::vector<sdk::Item> items;
  std::unique_ptr<ScorerInstance> scorer;
  TaskRequests requests;
};

std::string ConfigText(const EvalConfig& config) {
  std::ostringstream ss;
  ss << toml::toml_formatter(config.root);
  return ss.str();
}

json DevicesJson(const std::vector<Device>& devices) {
  json out = json::array();
  for (const auto& d : devices) {
    out.push_back(
        {{"name", d.name}, {"model", d.model}, {"memory_bytes", d.memory_bytes}, {"bf16", d.bf16}});
  }
  return out;
}

// What a run asks every backend to respect, decided from the config, the
// devices and config.json before any backend exists.
StatusOr<BackendRules> DecideRules(const EvalConfig& config, const std::vector<Device>& devices,
                                   std::string* note) {
  BackendRules rules;
  COMPASS_ASSIGN_OR_RETURN(
      DtypeDecision d, DecideDtype(config.model.dtype, config.model.allow_dtype_fallback, devices));
  rules.dtype = d.dtype;
  *note = d.note;
  COMPASS_ASSIGN_OR_RETURN(rules.max_length,
                           ContextWindow(config.model.max_length, config.model.path));
  return rules;
}

// Refuses, before any weight is read, requests the backend cannot serve.
Status CheckCapabilities(const PluginRecord& backend, uint64_t caps,
                         const std::vector<TaskWork>& work) {
  for (const TaskWork& w : work) {
    for (const compass_request& r : w.requests.requests) {
      const char* missing = nullptr;
      if (r.kind == COMPASS_REQUEST_LOGLIKELIHOOD && !(caps & COMPASS_CAN_LOGLIKELIHOOD)) {
        missing = "log-likelihood requests";
      } else if (r.kind == COMPASS_REQUEST_GENERATE && !(caps & COMPASS_CAN_GENERATE)) {
        missing = "generation requests";
      } else if (r.kind == COMPASS_REQUEST_GENERATE &&
                 (r.temperature > 0.0f || r.num_samples > 1) && !(caps & COMPASS_CAN_SAMPLE)) {
        missing = "sampling (temperature > 0 or num_samples > 1)";
      }
      if (missing != nullptr) {
        return Unsupported("backend '" + backend.name + "' cannot serve " + missing +
                           ", which task '" + w.plan->config->name +
                           "' needs; choose another backend or change the task");
      }
    }
  }
  return Status::Ok();
}

uint32_t SamplesOf(const compass_request& r) {
  return r.kind == COMPASS_REQUEST_GENERATE ? std::max(1u, r.num_samples) : 1;
}

StoredResponse ToStored(const compass_result& r, const std::string& hash) {
  StoredResponse s;
  s.hash = SampleKey(hash, r.sample);
  s.kind = r.kind == COMPASS_REQUEST_GENERATE ? "generate" : "loglikelihood";
  s.logprob = r.logprob;
  s.is_greedy = r.is_greedy != 0;
  s.num_tokens = r.num_tokens;
  if (r.kind == COMPASS_REQUEST_GENERATE && r.tokens.size > 0) {
    s.tokens.assign(r.tokens.ids, r.tokens.ids + r.tokens.size);
    s.num_tokens = r.tokens.size;
  }
  s.finish_reason = r.finish_reason;
  if (r.token_logprobs != nullptr) {
    s.token_logprobs.assign(r.token_logprobs, r.token_logprobs + r.num_tokens);
  }
  return s;
}

bool Finite(const StoredResponse& r) {
  if (!std::isfinite(r.logprob)) return false;
  return std::all_of(r.token_logprobs.begin(), r.token_logprobs.end(),
                     [](float v) { return std::isfinite(v); });
}

// Why the backend was told to stop: Ctrl-C, or the launch stopping.
Status StoppedStatus(const ShardOptions& shard) {
  if (shard.coordinator) {
    if (auto reason = shard.coordinator->stop_reason()) return Cancelled(*reason);
  }
  return Cancelled("stopped by the user; finished results are kept");
}

// After a sharded rank computed its share: its store is closed and the
// rank tells the others. Rank 0 (and `compass merge`) then waits for every
// rank, merges every shard store into results.sqlite and returns that
// store, with `stored` read back from it and the launch's counts in
// `summary` and `computed_per_task`; the other ranks return null.
StatusOr<std::unique_ptr<ResultsStore>> FinishShard(
    const RunOptions& options, const RunMetadata& meta, const std::set<std::string>& all_keys,
    std::unique_ptr<ResultsStore> shard_store, std::map<std::string, std::string>& failures,
    std::map<std::string, uint64_t>& computed_per_task, RunSummary& summary,
    std::map<std::string, StoredResponse>& stored) {
  const ShardOptions& shard = options.shard;
  if (shard_store) {
    COMPASS_RETURN_IF_ERROR(shard_store->FinishRun(IsoNow(), 0, "[]"));
    shard_store.reset();  // closed before rank 0 merges it
  }
  if (!shard.merge_only) {
    const json done = {{"computed", summary.share_computed},
                       {"failed", failures.size()},
                       {"per_task", computed_per_task}};
    COMPASS_RETURN_IF_ERROR(shard.coordinator->MarkDone(done.dump()));
    spdlog::info("rank {} of {}: {} of its {} requests computed and stored", shard.rank,
                 shard.world, summary.share_computed, summary.share);
    if (shard.rank != 0) {
      summary.scored = false;
      return std::unique_ptr<ResultsStore>();
    }
    if (shard.world > 1) spdlog::info("rank 0: waiting for the other ranks to finish");
    COMPASS_ASSIGN_OR_RETURN(std::vector<std::string> all, shard.coordinator->WaitForAll());
    summary.computed = 0;
    computed_per_task.clear();
    for (const std::string& text : all) {
      const json j = json::parse(text, nullptr, false);
      if (!j.is_object()) continue;
      summary.computed += j.value("computed", uint64_t{0});
      if (j.contains("per_task") && j["per_task"].is_object()) {
        for (const auto& [task, n] : j["per_task"].items()) {
          computed_per_task[task] += n.get<uint64_t>();
        }
      }
    }
  }
  COMPASS_ASSIGN_OR_RETURN(auto merged, ResultsStore::Open(options.output_dir, ""));
  COMPASS_RETURN_IF_ERROR(merged->BeginRun(meta, false));
  COMPASS_ASSIGN_OR_RETURN(MergeCounts counts, MergeShardStores(options.output_dir, *merged,
                                                                meta.config_hash, meta.backend));
  spdlog::info("merged {} answers from {} shard store(s) into {}", counts.responses,
               counts.shard_files, merged->path());
  COMPASS_ASSIGN_OR_RETURN(stored, merged->Responses(all_keys));
  // A request another rank failed is not stored: it is a failed request of
  // this run, retried by the next launch.
  for (const std::string& key : all_keys) {
    if (stored.count(key) > 0) continue;
    const std::string hash = key.substr(0, key.find('#'));
    if (failures.count(hash) == 0) {
      failures.emplace(hash, "a rank of the launch failed it (its log says why)");
    }
  }
  return merged;
}

}  // namespace

StatusOr<PlanReport> Runner::Plan(const EvalConfig& config, const std::string& backend_name,
                                  const std::vector<Device>& simulated) {
  stage_ = RunStage::kValidate;
  COMPASS_ASSIGN_OR_RETURN(Validated v, Validate(config, registry_, host_, backend_name, stage_));
  // A plan must not promise what the run would refuse: the tasks' data is
  // read too (cheap beside weights), but no tokenizer is needed.
  for (size_t i = 0; i < v.tasks.size(); ++i) {
    COMPASS_RETURN_IF_ERROR(ReadItems(host_, config, registry_, i, v.tasks[i]).status());
  }
  PlanReport report;
  report.backend = v.backend->name;
  report.backend_version = v.backend->version;
  if (simulated.empty()) {
    COMPASS_ASSIGN_OR_RETURN(report.devices, ResolveDevices(config.backend.devices));
  } else {
    report.devices = simulated;
  }
  stage_ = RunStage::kPlan;
  std::string dtype_note;
  COMPASS_ASSIGN_OR_RETURN(BackendRules rules, DecideRules(config, report.devices, &dtype_note));
  report.dtype = rules.dtype;
  report.max_length = rules.max_length;
  // A folder holding only config.json is enough; a tokenizer that is there
  // (a GGUF file always has one) must load, as the run would need it.
  std::unique_ptr<Tokenizer> tokenizer;
  std::error_code ec;
  if (config.model.tokenizer != "auto" || gguf::IsGgufPath(config.model.path) ||
      std::filesystem::exists(std::filesystem::path(config.model.path) / "tokenizer.json", ec)) {
    stage_ = RunStage::kValidate;
    COMPASS_ASSIGN_OR_RETURN(tokenizer, LoadTokenizer(config.model.tokenizer, config.model.path));
    stage_ = RunStage::kPlan;
  }
  COMPASS_ASSIGN_OR_RETURN(auto session,
                           BackendSession::Create(host_, *v.backend, config, report.devices,
                                                  v.backend_options, rules, tokenizer.get()));
  COMPASS_ASSIGN_OR_RETURN(report.plan, session->backend().Plan());
  if (!dtype_note.empty()) {
    report.plan.message =
        dtype_note + (report.plan.message.empty() ? "" : "; ") + report.plan.message;
  }
  stage_ = RunStage::kDone;
  return report;
}

StatusOr<RunSummary> Runner::Run(const EvalConfig& config, const std::string& backend_name,
                                 const RunOptions& options) {
  const auto run_start = Clock::now();
  stage_ = RunStage::kValidate;
  COMPASS_RETURN_IF_ERROR(RequireTasks(config));
  COMPASS_ASSIGN_OR_RETURN(Validated v, Validate(config, registry_, host_, backend_name, stage_));
  // A plugin ending the process before the run is done is named, and the
  // process fails (plugin_host/exit_guard.h).
  const PluginCallScope run_scope(v.backend->Describe(), "the run");
  RunSummary summary;
  summary.output_dir = options.output_dir;
  summary.backend = v.backend->name;
  summary.backend_version = v.backend->version;
  COMPASS_ASSIGN_OR_RETURN(std::vector<Device> devices, ResolveDevices(config.backend.devices));
  COMPASS_ASSIGN_OR_RETURN(auto tokenizer,
                           LoadTokenizer(config.model.tokenizer, config.model.path));
  json notes = json::array();
  std::string dtype_note;
  stage_ = RunStage::kPlan;
  COMPASS_ASSIGN_OR_RETURN(BackendRules rules, DecideRules(config, devices, &dtype_note));
  if (!dtype_note.empty()) {
    spdlog::warn("{}", dtype_note);
    notes.push_back(dtype_note);
  }
  stage_ = RunStage::kValidate;

  // Data, scorers, requests and the results store before any weight: a
  // malformed file or an unwritable folder must stop the run first.
  std::vector<TaskWork> work(v.tasks.size());
  std::set<std::string> all_keys;
  for (size_t i = 0; i < v.tasks.size(); ++i) {
    const TaskPlan& t = v.tasks[i];
    TaskWork& w = work[i];
    w.plan = &t;
    COMPASS_ASSIGN_OR_RETURN(w.items, ReadItems(host_, config, registry_, i, t));
    spdlog::info("task '{}': {} items from {}", t.config->name, w.items.size(), t.config->path);
    COMPASS_ASSIGN_OR_RETURN(w.scorer, ScorerInstance::Create(*t.scorer, host_, t.scorer_options));
    RequestRules request_rules;
    request_rules.max_length = rules.max_length;
    request_rules.default_max_new_tokens = t.config->max_new_tokens;
    request_rules.add_bos = config.model.add_bos.value_or(tokenizer->add_bos());
    const auto& g = t.config->generation;
    request_rules.generation = {g.temperature, g.top_p, g.top_k, g.num_samples, t.config->seed};
    COMPASS_ASSIGN_OR_RETURN(w.requests, BuildRequests(*tokenizer, w.items, request_rules));
    for (size_t r = 0; r < w.requests.requests.size(); ++r) {
      for (uint32_t s = 0; s < SamplesOf(w.requests.requests[r]); ++s) {
        all_keys.insert(SampleKey(w.requests.hash[r], s));
      }
    }
  }
  stage_ = RunStage::kPlugin;
  COMPASS_RETURN_IF_ERROR(CheckCapabilities(
      *v.backend,
      COMPASS_HAS_FIELD(compass_backend_api, v.backend->backend.header.struct_size, capabilities)
          ? v.backend->backend.capabilities
          : 0,
      work));
  stage_ = RunStage::kValidate;

  RunMetadata meta;
  meta.config_text = ConfigText(config);
  meta.config_hash = Hasher().Add(meta.config_text).Add(backend_name).Hex();
  meta.compass_version = COMPASS_VERSION;
  meta.git_hash = COMPASS_GIT_HASH;
  meta.backend = v.backend->name;
  meta.backend_version = v.backend->version;
  meta.model_path = config.model.path;
  meta.dtype = rules.dtype;
  meta.devices_json = DevicesJson(devices).dump();
  meta.backend_options_json = v.backend_options;
  meta.started_at = IsoNow();

  const ShardOptions& shard = options.shard;
  const bool sharded = shard.sharded();
  auto create_session = [&] {
    BackendLaunch launch;
    launch.rank = shard.rank;
    launch.world = shard.world;
    launch.local_rank = shard.local_rank;
    launch.rendezvous = shard.rendezvous;
    launch.launch_id = shard.launch;
    launch.timeout_seconds = shard.timeout_seconds;
    return BackendSession::Create(host_, *v.backend, config, devices, v.backend_options, rules,
                                  tokenizer.get(), launch);
  };
  // A backend whose model copy spans `group` processes (ABI 2.2): the
  // launch's ranks form world / group replicas of consecutive ranks; each
  // replica takes a shard of the requests, its first rank (the driver) asks
  // and stores, the others serve it. Created now, before anything is read
  // or stored (create reads no weights), because the shard depends on it.
  std::unique_ptr<BackendSession> session;
  uint32_t group = 1;
  if (sharded && !shard.merge_only) {
    stage_ = RunStage::kPlan;
    COMPASS_ASSIGN_OR_RETURN(session, create_session());
    group = session->backend().ProcessesPerModel();
    processes_per_model_ = group;
    if (group > 1 && shard.world % group != 0) {
      return InvalidArgument("backend '" + backend_name + "' spans " + std::to_string(group) +
                             " processes per model copy, which does not divide the launch's " +
                             std::to_string(shard.world) + " processes: launch a multiple of " +
                             std::to_string(group) + " processes (docs/scale-out.md)");
    }
    stage_ = RunStage::kValidate;
  }
  const uint32_t replicas = shard.world / group, replica = shard.rank / group;
  const bool driver = shard.rank % group == 0;
  if (group > 1) {
    spdlog::info("rank {} of {}: {} of model copy {} of {} ({} processes each)", shard.rank,
                 shard.world, driver ? "the driver" : "rank " + std::to_string(shard.rank % group),
                 replica, replicas, group);
  }
  // Where the answers computed here go: results.sqlite, or this rank's
  // own store in shards/ for a sharded run.
  std::unique_ptr<ResultsStore> store;
  std::map<std::string, StoredResponse> stored;
  if (sharded && options.restart) {
    return InvalidArgument(
        "--restart is refused for a sharded run (its processes would discard each other's "
        "answers): run once with one process and --restart, or choose another --output");
  }
  // One writer per folder: a second compass on it stops here, before any
  // weight is read and before its config can touch the stored run. In a
  // sharded launch rank 0 holds it for all; the others write only their
  // own shard store.
  summary.folder_lock = options.folder_lock;
  if (!summary.folder_lock && shard.rank == 0) {
    COMPASS_ASSIGN_OR_RETURN(summary.folder_lock, RunFolderLock::Acquire(options.output_dir));
  }
  if (!sharded) {
    COMPASS_ASSIGN_OR_RETURN(store, ResultsStore::Open(options.output_dir, options.store_label));
    COMPASS_RETURN_IF_ERROR(store->BeginRun(meta, options.restart));
    // Shards an earlier sharded launch left (it stopped before merging)
    // count as stored, as they would for a sharded launch.
    if (options.store_label.empty()) {
      COMPASS_ASSIGN_OR_RETURN(std::vector<ShardStoreFile> shards,
                               ListShardStores(options.output_dir));
      if (!shards.empty() && options.restart) {
        COMPASS_RETURN_IF_ERROR(RemoveShardStores(options.output_dir));
      } else if (!shards.empty()) {
        COMPASS_ASSIGN_OR_RETURN(
            MergeCounts counts,
            MergeShardStores(options.output_dir, *store, meta.config_hash, meta.backend));
        spdlog::info("merged {} answers from {} shard store(s) an earlier launch left",
                     counts.responses, counts.shard_files);
      }
    }
    COMPASS_ASSIGN_OR_RETURN(stored, store->Responses(all_keys));
  } else {
    // What any earlier launch stored (any world size), never recomputed.
    COMPASS_ASSIGN_OR_RETURN(stored, StoredResponses(options.output_dir, all_keys, shard.launch,
                                                     meta.config_hash, meta.backend));
    if (!shard.merge_only && driver) {
      const std::string path = (std::filesystem::path(options.output_dir) / kShardDir /
                                ShardFileName({shard.launch, shard.rank, shard.world}))
                                   .string();
      std::error_code ec;
      std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
      COMPASS_RETURN_IF_ERROR(WriteShardRunFile(options.output_dir, config.file, config.base_dir));
      COMPASS_ASSIGN_OR_RETURN(store, ResultsStore::OpenFile(path, "", true));
      COMPASS_RETURN_IF_ERROR(store->BeginRun(meta, false));
    }
  }

  // Every request still missing a sample, once per distinct hash, all tasks
  // in one call so that the backend can batch across them. A sharded run
  // sends only the requests of its rank.
  std::vector<compass_request> pending;
  std::vector<std::string> pending_hash;
  std::set<std::string> seen;
  std::map<std::string, uint64_t> computed_per_task, missing_per_task;
  for (TaskWork& w : work) {
    for (size_t r = 0; r < w.requests.requests.size(); ++r) {
      const std::string& h = w.requests.hash[r];
      bool complete = true;
      for (uint32_t s = 0; s < SamplesOf(w.requests.requests[r]); ++s) {
        complete = complete && stored.count(SampleKey(h, s)) > 0;
      }
      if (!seen.insert(h).second) continue;  // counted and sent once per distinct request
      ++summary.requests;
      if (complete) {
        ++summary.reused;
        continue;
      }
      ++missing_per_task[w.plan->config->name];
      if (shard.merge_only || ShardOf(ShardKey(w.requests.requests[r], h), replicas) != replica) {
        continue;
      }
      compass_request q = w.requests.requests[r];
      q.index = pending.size();
      pending.push_back(q);
      pending_hash.push_back(h);
      if (driver) ++computed_per_task[w.plan->config->name];
    }
  }
  summary.share = driver ? pending.size() : 0;
  if (shard.merge_only && summary.reused < summary.requests) {
    std::string tasks;
    for (const auto& [task, n] : missing_per_task) {
      tasks += (tasks.empty() ? "" : ", ") + std::to_string(n) + " of task '" + task + "'";
    }
    return InvalidArgument(
        "cannot merge " + options.output_dir + ": " +
        std::to_string(summary.requests - summary.reused) + " of " +
        std::to_string(summary.requests) + " requests have no stored answer in it (" + tasks +
        "); launch the same command again to compute them (any number of processes), then "
        "merge");
  }
  if (sharded && !shard.merge_only) {
    spdlog::info(
        "rank {} of {}: {} of {} requests already stored, {} missing, {} of them fall "
        "to {}",
        shard.rank, shard.world, summary.reused, summary.requests,
        summary.requests - summary.reused, pending.size(),
        group > 1 ? "model copy " + std::to_string(replica) : std::string("this rank"));
  } else if (summary.reused > 0 && !shard.merge_only) {
    spdlog::info("resuming: {} of {} requests already in {}", summary.reused, summary.requests,
                 store->path());
  }

  std::map<std::string, std::string> failures;  // request hash -> error
  double compute_seconds = 0;
  std::vector<double> answer_seconds;  // when each answer arrived, from the call's start
  uint64_t peak_host = 0;
  std::optional<std::vector<Figure>> backend_figures;
  bool peak_measured = false;
  if (!pending.empty()) {
    stage_ = RunStage::kPlan;
    if (!session) {
      COMPASS_ASSIGN_OR_RETURN(session, create_session());
    }
    COMPASS_ASSIGN_OR_RETURN(std::string plan_note, session->CheckPlan());
    if (!plan_note.empty()) {
      spdlog::warn("plan: {}", plan_note);
      notes.push_back(plan_note);
    }
    stage_ = RunStage::kExecute;
    if (host_.cancelled()) return StoppedStatus(shard);
    // The backend's own peak host memory: load and execute, not what the
    // process held before.
    peak_measured = ResetPeakHostMemory();
    COMPASS_RETURN_IF_ERROR(session->Load(host_));
    summary.loaded = true;
    if (!driver) {
      spdlog::info("rank {}: serving its model copy's driver, rank {}", shard.rank,
                   shard.rank - shard.rank % group);
      if (shard.coordinator) {
        shard.coordinator->SetRole("serving model copy " + std::to_string(replica));
      }
      Status served = session->backend().Serve();
      session.reset();
      if (!served.ok()) return host_.cancelled() ? StoppedStatus(shard) : served;
      pending.clear();
    }
  }
  if (!pending.empty()) {
    uint64_t owed = 0, delivered = 0;
    for (const auto& q : pending) owed += SamplesOf(q);
    const auto start = Clock::now();
    Progress progress("evaluating", owed + stored.size(), stored.size());
    host_.SetProgress([&](uint64_t done, uint64_t total, uint64_t tokens) {
      progress.Update(done, total, tokens);
    });
    if (shard.coordinator) shard.coordinator->SetProgress(0, owed);
    Status s = session->backend().Execute(pending, [&](const compass_result& r) -> Status {
      ++delivered;
      answer_seconds.push_back(SecondsSince(start));
      const std::string& h = pending_hash[r.index];
      if (r.error_code != COMPASS_OK) {
        std::string message(sdk::view(r.error_message));
        if (message.empty()) message = "failed with code " + std::to_string(r.error_code);
        failures.emplace(h, message);
        return Status::Ok();
      }
      StoredResponse resp = ToStored(r, h);
      if (!Finite(resp)) {
        // A NaN would score as a confident wrong answer: the request fails.
        failures.emplace(h, "the backend returned a non-finite log-prob (NaN or infinity)");
        return Status::Ok();
      }
      // The store cannot write (a full disk): the backend is stopped now
      // (a non-OK status), not after computing everything else.
      if (Status put = store->PutResponse(resp); !put.ok()) {
        return Status(put.code(), put.message() +
                                      "; the backend was stopped, every answer stored before is "
                                      "kept: make room and run the same command again to resume");
      }
      stored[resp.hash] = std::move(resp);
      ++summary.computed;
      if (shard.coordinator) shard.coordinator->SetProgress(summary.computed, owed);
      return Status::Ok();
    });
    host_.SetProgress(nullptr);
    compute_seconds = SecondsSince(start);
    if (peak_measured) peak_host = PeakHostMemory();
    if (!s.ok()) {
      if (host_.cancelled()) return StoppedStatus(shard);
      return s;
    }
    if (delivered < owed && failures.empty()) {
      return Internal("backend '" + backend_name + "' returned " + std::to_string(delivered) +
                      " of " + std::to_string(owed) + " results");
    }
    COMPASS_ASSIGN_OR_RETURN(backend_figures, session->backend().Figures());
    // The model copy's other processes serve until its backend is gone;
    // they must be done before rank 0 waits for every rank.
    if (group > 1) session.reset();
  }
  stage_ = RunStage::kExecute;
  if (sharded) {
    summary.share_computed = summary.computed;
    COMPASS_ASSIGN_OR_RETURN(store, FinishShard(options, meta, all_keys, std::move(store), failures,
                                                computed_per_task, summary, stored));
    if (!store) {
      summary.failed_requests = failures.size();
      if (!failures.empty()) summary.first_failure = failures.begin()->second;
      summary.seconds = SecondsSince(run_start);
      stage_ = RunStage::kDone;
      return summary;  // rank > 0: rank 0 scores
    }
  }

  uint64_t pending_total = 0;
  for (const auto& [task, n] : computed_per_task) pending_total += n;
  for (size_t ti = 0; ti < work.size(); ++ti) {
    TaskWork& w = work[ti];
    const TaskConfig& task = *w.plan->config;
    COMPASS_ASSIGN_OR_RETURN(ScoredTask scored, ScoreTask(task.name, w.items, w.requests, stored,
                                                          failures, *tokenizer, *w.scorer));
    summary.failed_items += scored.failed_items;
    const uint64_t computed = computed_per_task[task.name];
    const std::set<std::string> distinct(w.requests.hash.begin(), w.requests.hash.end());
    // One call served every task: each gets the share of its requests.
    const double seconds =
        pending_total ? compute_seconds * static_cast<double>(computed) / pending_total : 0;
    StoredTask stored_task{task.name,
                           task.dataset,
                           w.plan->scorer->name,
                           w.items.size(),
                           distinct.size(),
                           computed,
                           seconds,
                           ti};
    COMPASS_RETURN_IF_ERROR(store->PutTask(stored_task, scored.samples, scored.aggregates));
  }
  if (!failures.empty()) {
    summary.failed_requests = failures.size();
    summary.first_failure = failures.begin()->second;
    const std::string note =
        std::to_string(failures.size()) +
        " request(s) failed and were not stored (first: " + summary.first_failure +
        "); running again retries them";
    spdlog::error("{}", note);
    notes.push_back(note);
  }

  if (backend_figures) {
    std::vector<StoredFigure> stored_figures;
    for (const auto& f : *backend_figures)
      stored_figures.push_back({f.name, f.scope, f.value, f.unit});
    // The host's own measures, the same for every backend: when answers
    // arrived after the call began (every request is sent at once, so this
    // is each request's latency), and the peak resident memory of loading
    // and executing.
    for (const auto& [name, q] : {std::pair{"answer_latency_p50", 0.5},
                                  {"answer_latency_p90", 0.9},
                                  {"answer_latency_p99", 0.99},
                                  {"answer_latency_max", 1.0}}) {
      if (!answer_seconds.empty()) {
        stored_figures.push_back(
            {name, "host", NearestRankPercentile(answer_seconds, q), COMPASS_UNIT_SECONDS});
      }
    }
    if (peak_host > 0) {
      stored_figures.push_back(
          {"peak_memory", "host", static_cast<double>(peak_host), COMPASS_UNIT_BYTES});
    }
    COMPASS_RETURN_IF_ERROR(store->PutFigures(stored_figures));
  }
  summary.seconds = SecondsSince(run_start);
  COMPASS_RETURN_IF_ERROR(store->FinishRun(IsoNow(), summary.seconds, notes.dump()));
  stage_ = RunStage::kDone;
  return summary;
}

}  // namespace compass
