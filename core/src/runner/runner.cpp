#include "runner/runner.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <ctime>
#include <map>
#include <set>
#include <sstream>

#include "results/request_hash.h"
#include "results/results_store.h"
#include "runner/progress.h"
#include "runner/request_builder.h"
#include "tokenizer/tokenizer.h"

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
};

// Everything checked before anything expensive happens.
struct Validated {
  const PluginRecord* backend = nullptr;
  std::string backend_options;
  std::vector<TaskPlan> tasks;
};

StatusOr<Validated> Validate(const EvalConfig& config, const PluginRegistry& registry,
                             const std::string& backend_name, RunStage& stage) {
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
                          v.backend->options(), config.display_file, "backend." + backend_name));
  for (size_t i = 0; i < config.tasks.size(); ++i) {
    const TaskConfig& task = config.tasks[i];
    TaskPlan t{&task, nullptr, nullptr, "", ""};
    stage = RunStage::kPlugin;
    COMPASS_ASSIGN_OR_RETURN(t.dataset, registry.Find(PluginKind::kDataset, task.dataset));
    std::string scorer = task.scorer;
    if (scorer.empty()) scorer = std::string(sdk::view(t.dataset->dataset.default_scorer));
    COMPASS_ASSIGN_OR_RETURN(t.scorer, registry.Find(PluginKind::kScorer, scorer));
    stage = RunStage::kValidate;
    const std::string where = "task[" + std::to_string(i) + "]";
    COMPASS_ASSIGN_OR_RETURN(t.dataset_options,
                             PluginOptionsToJson(task.dataset_options, t.dataset->options(),
                                                 config.display_file, where));
    COMPASS_ASSIGN_OR_RETURN(t.scorer_options,
                             PluginOptionsToJson(task.scorer_options, t.scorer->options(),
                                                 config.display_file, where + ".scorer_options"));
    v.tasks.push_back(std::move(t));
  }
  return v;
}

StatusOr<std::vector<sdk::Item>> ReadItems(PluginHost& host, const EvalConfig& config,
                                           const TaskPlan& t) {
  const TaskConfig& task = *t.config;
  compass_dataset_config dc{};
  dc.struct_size = sizeof dc;
  dc.path = sdk::str(task.path);
  dc.num_shots = task.shots;
  dc.seed = task.seed;
  dc.limit = task.limit ? task.limit : config.run.limit;
  dc.options_json = sdk::str(t.dataset_options);
  COMPASS_ASSIGN_OR_RETURN(auto dataset, DatasetInstance::Create(*t.dataset, host, dc));
  std::vector<sdk::Item> items;
  COMPASS_RETURN_IF_ERROR(dataset->Items([&](const compass_item& item) {
    items.push_back(sdk::to_item(item));
    return dc.limit == 0 || items.size() < dc.limit;
  }));
  if (items.empty()) {
    return InvalidArgument("task '" + task.name + "': dataset '" + task.dataset +
                           "' produced no items from " + task.path);
  }
  return items;
}

// Cuts a generation before the first stop string.
std::string CutAtStop(std::string text, const std::vector<std::string>& stops) {
  size_t cut = text.size();
  for (const auto& s : stops) {
    if (s.empty()) continue;
    const size_t pos = text.find(s);
    if (pos != std::string::npos) cut = std::min(cut, pos);
  }
  text.resize(cut);
  return text;
}

StatusOr<std::unique_ptr<BackendInstance>> CreateBackend(PluginHost& host, const EvalConfig& config,
                                                         const PluginRecord& record,
                                                         const std::vector<Device>& devices,
                                                         const std::string& options_json,
                                                         const Tokenizer& tokenizer) {
  std::vector<compass_device_spec> specs;
  for (const auto& d : devices) {
    specs.push_back({sdk::str(d.name), sdk::str(d.model), d.memory_bytes, d.Flags()});
  }
  compass_backend_config bc{};
  bc.struct_size = sizeof bc;
  bc.model_path = sdk::str(config.model.path);
  bc.dtype = sdk::str(config.model.dtype);
  bc.allow_dtype_fallback = config.model.allow_dtype_fallback ? 1 : 0;
  bc.devices = specs.data();
  bc.num_devices = specs.size();
  bc.options_json = sdk::str(options_json);
  bc.max_batch_size = config.backend.batch_size;
  bc.seed = config.run.seed;
  bc.bos_token_id = tokenizer.bos_id();
  bc.pad_token_id = tokenizer.pad_id();
  bc.vocab_size = tokenizer.vocab_size();
  return BackendInstance::Create(record, host, bc);
}

// One task's items, requests and their hashes.
struct TaskWork {
  const TaskPlan* plan = nullptr;
  std::vector<sdk::Item> items;
  RequestBatch batch;
  std::vector<std::string> ll_hash, rolling_hash, generate_hash;
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

// Sends the requests of `all` whose hash is not in `stored`, each distinct
// hash once, and stores every result as it arrives.
template <typename Request, typename Result, typename Call, typename ToStored>
Status ComputeMissing(const std::vector<Request>& all, const std::vector<std::string>& hashes,
                      std::map<std::string, StoredResponse>& stored, ResultsStore& store, Call call,
                      ToStored to_stored, uint64_t& computed) {
  std::vector<Request> pending;
  std::vector<std::string> pending_hash;
  std::set<std::string> seen;
  for (size_t i = 0; i < all.size(); ++i) {
    if (stored.count(hashes[i]) || !seen.insert(hashes[i]).second) continue;
    Request r = all[i];
    r.index = pending.size();
    pending.push_back(r);
    pending_hash.push_back(hashes[i]);
  }
  if (pending.empty()) return Status::Ok();
  return call(pending, [&](const Result& r) {
    if (r.index >= pending.size()) throw std::runtime_error("result for an unknown request index");
    StoredResponse s = to_stored(r);
    s.hash = pending_hash[r.index];
    Status st = store.PutResponse(s);
    if (!st.ok()) throw std::runtime_error(st.message());
    stored[s.hash] = std::move(s);
    ++computed;
  });
}

}  // namespace

StatusOr<PlanReport> Runner::Plan(const EvalConfig& config, const std::string& backend_name,
                                  const std::vector<Device>& simulated) {
  stage_ = RunStage::kValidate;
  COMPASS_ASSIGN_OR_RETURN(Validated v, Validate(config, registry_, backend_name, stage_));
  PlanReport report;
  report.backend = v.backend->name;
  report.backend_version = v.backend->version;
  if (simulated.empty()) {
    COMPASS_ASSIGN_OR_RETURN(report.devices, ResolveDevices(config.backend.devices));
  } else {
    report.devices = simulated;
  }
  COMPASS_ASSIGN_OR_RETURN(auto tokenizer,
                           LoadTokenizer(config.model.tokenizer, config.model.path));
  stage_ = RunStage::kPlan;
  COMPASS_ASSIGN_OR_RETURN(auto backend, CreateBackend(host_, config, *v.backend, report.devices,
                                                       v.backend_options, *tokenizer));
  COMPASS_ASSIGN_OR_RETURN(report.plan, backend->Plan());
  stage_ = RunStage::kDone;
  return report;
}

StatusOr<RunSummary> Runner::Run(const EvalConfig& config, const std::string& backend_name,
                                 const RunOptions& options) {
  const auto run_start = Clock::now();
  stage_ = RunStage::kValidate;
  COMPASS_ASSIGN_OR_RETURN(Validated v, Validate(config, registry_, backend_name, stage_));
  RunSummary summary;
  summary.output_dir = options.output_dir;
  summary.backend = v.backend->name;
  summary.backend_version = v.backend->version;
  COMPASS_ASSIGN_OR_RETURN(std::vector<Device> devices, ResolveDevices(config.backend.devices));
  COMPASS_ASSIGN_OR_RETURN(auto tokenizer,
                           LoadTokenizer(config.model.tokenizer, config.model.path));
  host_.SetDetokenizer(
      [t = tokenizer.get()](const int32_t* ids, uint64_t n) { return t->Decode(ids, n); });

  // Data, scorers and the results store before any weight: a malformed file
  // or an unwritable folder must stop the run first.
  std::vector<TaskWork> work(v.tasks.size());
  std::vector<std::unique_ptr<ScorerInstance>> scorers;
  std::set<std::string> all_hashes;
  for (size_t i = 0; i < v.tasks.size(); ++i) {
    const TaskPlan& t = v.tasks[i];
    TaskWork& w = work[i];
    w.plan = &t;
    COMPASS_ASSIGN_OR_RETURN(w.items, ReadItems(host_, config, t));
    spdlog::info("task '{}': {} items from {}", t.config->name, w.items.size(), t.config->path);
    COMPASS_ASSIGN_OR_RETURN(auto scorer,
                             ScorerInstance::Create(*t.scorer, host_, t.scorer_options));
    scorers.push_back(std::move(scorer));
    w.batch = BuildRequests(*tokenizer, w.items, t.config->max_new_tokens,
                            config.model.add_bos.value_or(tokenizer->add_bos()));
    for (const auto& r : w.batch.loglikelihood) w.ll_hash.push_back(HashLoglikelihood(r));
    for (const auto& r : w.batch.rolling) w.rolling_hash.push_back(HashRolling(r));
    for (const auto& r : w.batch.generate) w.generate_hash.push_back(HashGenerate(r));
    for (const auto* hashes : {&w.ll_hash, &w.rolling_hash, &w.generate_hash}) {
      all_hashes.insert(hashes->begin(), hashes->end());
    }
  }

  COMPASS_ASSIGN_OR_RETURN(auto store, ResultsStore::Open(options.output_dir));
  RunMetadata meta;
  meta.config_text = ConfigText(config);
  meta.config_hash = Hasher().Add(meta.config_text).Add(backend_name).Hex();
  meta.compass_version = COMPASS_VERSION;
  meta.git_hash = COMPASS_GIT_HASH;
  meta.backend = v.backend->name;
  meta.backend_version = v.backend->version;
  meta.model_path = config.model.path;
  meta.dtype = config.model.dtype;
  meta.devices_json = DevicesJson(devices).dump();
  meta.backend_options_json = v.backend_options;
  meta.started_at = IsoNow();
  COMPASS_RETURN_IF_ERROR(store->BeginRun(meta, options.restart));
  COMPASS_ASSIGN_OR_RETURN(auto stored, store->Responses(all_hashes));
  summary.requests = all_hashes.size();
  summary.reused = stored.size();
  if (summary.reused > 0) {
    spdlog::info("resuming: {} of {} requests already in {}", summary.reused, summary.requests,
                 store->path());
  }

  json notes = json::array();
  std::unique_ptr<BackendInstance> backend;
  if (stored.size() < all_hashes.size()) {
    stage_ = RunStage::kPlan;
    COMPASS_ASSIGN_OR_RETURN(
        backend, CreateBackend(host_, config, *v.backend, devices, v.backend_options, *tokenizer));
    if (backend->supports_plan()) {
      COMPASS_ASSIGN_OR_RETURN(PlanResult plan, backend->Plan());
      if (!plan.fits) {
        return OutOfMemory("backend '" + backend_name + "' plan does not fit: " + plan.message);
      }
      if (!plan.message.empty()) {
        spdlog::warn("plan: {}", plan.message);
        notes.push_back(plan.message);
      }
    }
    stage_ = RunStage::kExecute;
    COMPASS_RETURN_IF_ERROR(backend->Load());
    summary.loaded = true;
  }
  stage_ = RunStage::kExecute;

  for (size_t ti = 0; ti < work.size(); ++ti) {
    if (host_.cancelled()) return Cancelled("stopped by the user; finished results are kept");
    TaskWork& w = work[ti];
    const TaskConfig& task = *w.plan->config;
    const auto task_start = Clock::now();
    const uint64_t before = summary.computed;
    std::set<std::string> task_hashes;
    for (const auto* hashes : {&w.ll_hash, &w.rolling_hash, &w.generate_hash}) {
      task_hashes.insert(hashes->begin(), hashes->end());
    }
    uint64_t task_stored = 0;
    for (const auto& h : task_hashes) task_stored += stored.count(h);

    if (task_stored < task_hashes.size()) {
      Progress progress(task.name, task_hashes.size(), task_stored);
      host_.SetProgress([&](uint64_t done, uint64_t total, uint64_t tokens) {
        progress.Update(done, total, tokens);
      });
      Status s = ComputeMissing<compass_loglikelihood_request, compass_loglikelihood_result>(
          w.batch.loglikelihood, w.ll_hash, stored, *store,
          [&](const auto& reqs, const auto& fn) { return backend->Loglikelihood(reqs, fn); },
          [](const compass_loglikelihood_result& r) {
            StoredResponse s;
            s.kind = "loglikelihood";
            s.logprob = r.logprob;
            s.is_greedy = r.is_greedy != 0;
            s.num_tokens = r.num_tokens;
            return s;
          },
          summary.computed);
      if (s.ok()) {
        s = ComputeMissing<compass_rolling_request, compass_rolling_result>(
            w.batch.rolling, w.rolling_hash, stored, *store,
            [&](const auto& reqs, const auto& fn) { return backend->Rolling(reqs, fn); },
            [](const compass_rolling_result& r) {
              StoredResponse s;
              s.kind = "rolling";
              s.logprob = r.logprob;
              s.num_tokens = r.num_tokens;
              return s;
            },
            summary.computed);
      }
      if (s.ok()) {
        s = ComputeMissing<compass_generate_request, compass_generate_result>(
            w.batch.generate, w.generate_hash, stored, *store,
            [&](const auto& reqs, const auto& fn) { return backend->Generate(reqs, fn); },
            [](const compass_generate_result& r) {
              StoredResponse s;
              s.kind = "generate";
              s.tokens.assign(r.tokens.ids, r.tokens.ids + r.tokens.size);
              s.num_tokens = r.tokens.size;
              s.finish_reason = r.finish_reason;
              return s;
            },
            summary.computed);
      }
      host_.SetProgress(nullptr);
      if (!s.ok()) {
        if (host_.cancelled()) return Cancelled("stopped by the user; finished results are kept");
        return s;
      }
    }
    for (const auto& h : task_hashes) {
      if (!stored.count(h)) {
        return Internal("backend '" + backend_name +
                        "' returned no result for a request of task '" + task.name + "'");
      }
    }

    // Score every item from the stored responses, then aggregate per metric
    // over the task and over each group.
    std::vector<StoredSample> samples;
    std::map<std::pair<std::string, std::string>,
             std::pair<std::vector<double>, std::vector<double>>>
        series;
    std::vector<std::vector<size_t>> ll_of_item(w.items.size());
    for (size_t r = 0; r < w.batch.loglikelihood_owner.size(); ++r) {
      ll_of_item[w.batch.loglikelihood_owner[r].first].push_back(r);
    }
    std::vector<int64_t> rolling_of_item(w.items.size(), -1), generate_of_item(w.items.size(), -1);
    for (size_t r = 0; r < w.batch.rolling_owner.size(); ++r) {
      rolling_of_item[w.batch.rolling_owner[r].first] = static_cast<int64_t>(r);
    }
    for (size_t r = 0; r < w.batch.generate_owner.size(); ++r) {
      generate_of_item[w.batch.generate_owner[r].first] = static_cast<int64_t>(r);
    }
    for (size_t i = 0; i < w.items.size(); ++i) {
      const sdk::Item& item = w.items[i];
      compass_model_output out{};
      out.struct_size = sizeof out;
      std::vector<compass_choice_output> choices(item.choices.size());
      json sample = {
          {"task", task.name}, {"id", item.id}, {"group", item.group}, {"prompt", item.context}};
      std::string text;
      if (item.kind == COMPASS_ITEM_MULTIPLE_CHOICE) {
        json logprobs = json::array(), greedy = json::array();
        for (size_t r : ll_of_item[i]) {
          const StoredResponse& resp = stored.at(w.ll_hash[r]);
          const size_t c = w.batch.loglikelihood_owner[r].second;
          choices[c] = {resp.logprob, resp.is_greedy ? 1 : 0, resp.num_tokens};
        }
        for (const auto& c : choices) {
          logprobs.push_back(c.logprob);
          greedy.push_back(c.is_greedy != 0);
        }
        sample["choices"] = item.choices;
        sample["logprobs"] = logprobs;
        sample["is_greedy"] = greedy;
        sample["gold"] = item.gold;
        if (item.gold >= 0 && static_cast<size_t>(item.gold) < item.choices.size()) {
          sample["reference"] = item.choices[item.gold];
        }
      } else if (item.kind == COMPASS_ITEM_ROLLING) {
        const StoredResponse& resp = stored.at(w.rolling_hash[rolling_of_item[i]]);
        out.logprob = resp.logprob;
        out.num_tokens = resp.num_tokens;
        sample["logprob"] = resp.logprob;
        sample["num_tokens"] = resp.num_tokens;
      } else {
        const StoredResponse& resp = stored.at(w.generate_hash[generate_of_item[i]]);
        COMPASS_ASSIGN_OR_RETURN(std::string decoded,
                                 tokenizer->Decode(resp.tokens.data(), resp.tokens.size()));
        text = CutAtStop(decoded, item.stop);
        out.num_tokens = resp.num_tokens;
        sample["generation"] = text;
        sample["references"] = item.references;
        if (!item.references.empty()) sample["reference"] = item.references[0];
      }
      out.choices = choices.data();
      out.num_choices = choices.size();
      out.text = sdk::str(text);
      const sdk::ItemView view(item);
      COMPASS_ASSIGN_OR_RETURN(auto metrics, scorers[ti]->Score(view.item, out));
      StoredSample stored_sample{task.name, item.id, item.group, i, "", {}};
      json metric_values = json::object();
      for (size_t m = 0; m < metrics.size(); ++m) {
        const auto& metric = metrics[m];
        metric_values[metric.name] = metric.value;
        stored_sample.metrics[metric.name] = metric.value;
        if (m == 0) {
          if (!metric.prediction.empty()) sample["prediction"] = metric.prediction;
          if (metric.value == 0.0 || metric.value == 1.0) sample["correct"] = metric.value == 1.0;
        }
        for (const std::string& group : {std::string(), item.group}) {
          auto& s = series[{metric.name, group}];
          s.first.push_back(metric.value);
          s.second.push_back(metric.weight);
          if (item.group.empty()) break;
        }
      }
      sample["metrics"] = metric_values;
      sample["doc"] = json::parse(item.doc_json, nullptr, false);
      // Generations may hold invalid UTF-8 (a model can emit any bytes).
      stored_sample.sample_json = sample.dump(-1, ' ', false, json::error_handler_t::replace);
      samples.push_back(std::move(stored_sample));
    }
    std::vector<StoredAggregate> aggregates;
    for (const auto& [key, s] : series) {
      COMPASS_ASSIGN_OR_RETURN(compass_aggregate a,
                               scorers[ti]->Aggregate(key.first, s.first, s.second));
      StoredAggregate agg;
      agg.task = task.name;
      agg.group = key.second;
      agg.metric = key.first;
      agg.value = a.value;
      agg.stderr_value = a.stderr_value;
      agg.stderr_method = std::string(sdk::view(a.stderr_method));
      agg.count = a.count;
      agg.higher_is_better = a.higher_is_better != 0;
      aggregates.push_back(std::move(agg));
    }
    StoredTask stored_task{task.name,
                           task.dataset,
                           w.plan->scorer->name,
                           w.items.size(),
                           task_hashes.size(),
                           summary.computed - before,
                           SecondsSince(task_start),
                           ti};
    COMPASS_RETURN_IF_ERROR(store->PutTask(stored_task, samples, aggregates));
  }

  if (backend) {
    COMPASS_ASSIGN_OR_RETURN(auto figures, backend->Figures());
    std::vector<StoredFigure> stored_figures;
    for (const auto& f : figures) stored_figures.push_back({f.name, f.scope, f.value, f.unit});
    COMPASS_RETURN_IF_ERROR(store->PutFigures(stored_figures));
  }
  summary.seconds = SecondsSince(run_start);
  COMPASS_RETURN_IF_ERROR(store->FinishRun(IsoNow(), summary.seconds, notes.dump()));
  stage_ = RunStage::kDone;
  return summary;
}

}  // namespace compass
