#include "runner/runner.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <map>

#include "runner/request_builder.h"
#include "tokenizer/tokenizer.h"

namespace compass {
namespace {

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Logs progress at most every two seconds.
class ProgressLog {
 public:
  explicit ProgressLog(std::string task) : task_(std::move(task)), start_(Clock::now()) {}
  void Update(uint64_t done, uint64_t total, uint64_t tokens) {
    const auto now = Clock::now();
    if (done < total && now - last_ < std::chrono::seconds(2)) return;
    last_ = now;
    const double s = SecondsSince(start_);
    spdlog::info("{}: {}/{} requests, {:.0f} tokens/s", task_, done, total,
                 s > 0 ? static_cast<double>(tokens) / s : 0.0);
  }

 private:
  std::string task_;
  Clock::time_point start_, last_{};
};

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
    if (scorer.empty()) {
      const auto& d = t.dataset->dataset.default_scorer;
      scorer.assign(d.data ? d.data : "", d.size);
    }
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

}  // namespace

StatusOr<std::unique_ptr<BackendInstance>> Runner::CreateBackend(
    const EvalConfig& config, const PluginRecord& record, const std::vector<Device>& devices,
    const std::string& options_json, uint32_t vocab_size, int32_t bos, int32_t pad) {
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
  bc.bos_token_id = bos;
  bc.pad_token_id = pad;
  bc.vocab_size = vocab_size;
  return BackendInstance::Create(record, host_, bc);
}

StatusOr<RunResult> Runner::Plan(const EvalConfig& config, const std::string& backend_name,
                                 const std::vector<Device>& simulated) {
  stage_ = RunStage::kValidate;
  COMPASS_ASSIGN_OR_RETURN(Validated v, Validate(config, registry_, backend_name, stage_));
  RunResult result;
  result.backend = v.backend->name;
  result.backend_version = v.backend->version;
  if (simulated.empty()) {
    COMPASS_ASSIGN_OR_RETURN(result.devices, ResolveDevices(config.backend.devices));
  } else {
    result.devices = simulated;
  }
  COMPASS_ASSIGN_OR_RETURN(auto tokenizer,
                           LoadTokenizer(config.model.tokenizer, config.model.path));
  stage_ = RunStage::kPlan;
  COMPASS_ASSIGN_OR_RETURN(auto backend, CreateBackend(config, *v.backend, result.devices,
                                                       v.backend_options, tokenizer->vocab_size(),
                                                       tokenizer->bos_id(), tokenizer->pad_id()));
  COMPASS_ASSIGN_OR_RETURN(result.plan, backend->Plan());
  result.planned = true;
  stage_ = RunStage::kDone;
  return result;
}

StatusOr<RunResult> Runner::Run(const EvalConfig& config, const std::string& backend_name) {
  const auto run_start = Clock::now();
  stage_ = RunStage::kValidate;
  COMPASS_ASSIGN_OR_RETURN(Validated v, Validate(config, registry_, backend_name, stage_));
  RunResult result;
  result.backend = v.backend->name;
  result.backend_version = v.backend->version;
  COMPASS_ASSIGN_OR_RETURN(result.devices, ResolveDevices(config.backend.devices));
  COMPASS_ASSIGN_OR_RETURN(auto tokenizer,
                           LoadTokenizer(config.model.tokenizer, config.model.path));
  host_.SetDetokenizer(
      [t = tokenizer.get()](const int32_t* ids, uint64_t n) { return t->Decode(ids, n); });

  // Data and scorers first: a malformed file must stop the run before any
  // weight is loaded.
  std::vector<std::vector<sdk::Item>> items;
  std::vector<std::unique_ptr<ScorerInstance>> scorers;
  for (const auto& t : v.tasks) {
    COMPASS_ASSIGN_OR_RETURN(auto task_items, ReadItems(host_, config, t));
    spdlog::info("task '{}': {} items from {}", t.config->name, task_items.size(), t.config->path);
    items.push_back(std::move(task_items));
    COMPASS_ASSIGN_OR_RETURN(auto scorer,
                             ScorerInstance::Create(*t.scorer, host_, t.scorer_options));
    scorers.push_back(std::move(scorer));
  }

  stage_ = RunStage::kPlan;
  COMPASS_ASSIGN_OR_RETURN(auto backend, CreateBackend(config, *v.backend, result.devices,
                                                       v.backend_options, tokenizer->vocab_size(),
                                                       tokenizer->bos_id(), tokenizer->pad_id()));
  if (backend->supports_plan()) {
    COMPASS_ASSIGN_OR_RETURN(result.plan, backend->Plan());
    result.planned = true;
    if (!result.plan.fits) {
      return OutOfMemory("backend '" + backend_name +
                         "' plan does not fit: " + result.plan.message);
    }
    if (!result.plan.message.empty()) spdlog::warn("plan: {}", result.plan.message);
  }
  stage_ = RunStage::kExecute;
  COMPASS_RETURN_IF_ERROR(backend->Load());

  for (size_t ti = 0; ti < v.tasks.size(); ++ti) {
    if (host_.cancelled()) return Cancelled("stopped by the user");
    const TaskConfig& task = *v.tasks[ti].config;
    const auto task_start = Clock::now();
    const auto& task_items = items[ti];
    RequestBatch batch = BuildRequests(*tokenizer, task_items, task.max_new_tokens);

    std::vector<compass_model_output> outputs(task_items.size());
    std::vector<std::vector<compass_choice_output>> choices(task_items.size());
    std::vector<std::string> texts(task_items.size());
    std::vector<size_t> missing(task_items.size(), 0);
    for (size_t i = 0; i < task_items.size(); ++i) {
      choices[i].resize(task_items[i].choices.size());
      missing[i] = task_items[i].kind == COMPASS_ITEM_MULTIPLE_CHOICE ? choices[i].size() : 1;
    }
    ProgressLog progress(task.name);
    host_.SetProgress([&](uint64_t done, uint64_t total, uint64_t tokens) {
      progress.Update(done, total, tokens);
    });

    if (!batch.loglikelihood.empty()) {
      COMPASS_RETURN_IF_ERROR(
          backend->Loglikelihood(batch.loglikelihood, [&](const compass_loglikelihood_result& r) {
            if (r.index >= batch.loglikelihood_owner.size()) return;
            const auto [item, choice] = batch.loglikelihood_owner[r.index];
            choices[item][choice] = {r.logprob, r.is_greedy,
                                     batch.loglikelihood[r.index].continuation.size};
            --missing[item];
          }));
    }
    if (!batch.rolling.empty()) {
      COMPASS_RETURN_IF_ERROR(backend->Rolling(batch.rolling, [&](const compass_rolling_result& r) {
        if (r.index >= batch.rolling_owner.size()) return;
        const size_t item = batch.rolling_owner[r.index].first;
        outputs[item].logprob = r.logprob;
        outputs[item].num_tokens = r.num_tokens;
        --missing[item];
      }));
    }
    if (!batch.generate.empty()) {
      COMPASS_RETURN_IF_ERROR(
          backend->Generate(batch.generate, [&](const compass_generate_result& r) {
            if (r.index >= batch.generate_owner.size()) return;
            const size_t item = batch.generate_owner[r.index].first;
            auto text = tokenizer->Decode(r.tokens.ids, r.tokens.size);
            if (!text.ok()) throw std::runtime_error(text.status().message());
            texts[item] = CutAtStop(*text, task_items[item].stop);
            outputs[item].num_tokens = r.tokens.size;
            --missing[item];
          }));
    }
    for (size_t i = 0; i < task_items.size(); ++i) {
      if (missing[i] != 0) {
        return Internal("backend '" + backend_name + "' returned no result for " +
                        std::to_string(missing[i]) + " request(s) of item " + task_items[i].id);
      }
    }

    // Score, then aggregate per metric over the task and per group.
    std::map<std::pair<std::string, std::string>,
             std::pair<std::vector<double>, std::vector<double>>>
        series;
    for (size_t i = 0; i < task_items.size(); ++i) {
      auto& out = outputs[i];
      out.struct_size = sizeof out;
      out.choices = choices[i].data();
      out.num_choices = choices[i].size();
      out.text = sdk::str(texts[i]);
      const sdk::ItemView view(task_items[i]);
      COMPASS_ASSIGN_OR_RETURN(auto metrics, scorers[ti]->Score(view.item, out));
      for (const auto& m : metrics) {
        auto add = [&](const std::string& group) {
          auto& s = series[{m.name, group}];
          s.first.push_back(m.value);
          s.second.push_back(m.weight);
        };
        add("");
        if (!task_items[i].group.empty()) add(task_items[i].group);
      }
    }
    TaskResult tr;
    tr.name = task.name;
    tr.dataset = task.dataset;
    tr.scorer = v.tasks[ti].scorer->name;
    tr.items = task_items.size();
    tr.requests = batch.loglikelihood.size() + batch.rolling.size() + batch.generate.size();
    for (const auto& [key, s] : series) {
      COMPASS_ASSIGN_OR_RETURN(compass_aggregate a,
                               scorers[ti]->Aggregate(key.first, s.first, s.second));
      MetricResult m;
      m.metric = key.first;
      m.group = key.second;
      m.value = a.value;
      m.stderr_value = a.stderr_value;
      m.stderr_method.assign(a.stderr_method.data ? a.stderr_method.data : "",
                             a.stderr_method.size);
      m.count = a.count;
      m.higher_is_better = a.higher_is_better != 0;
      tr.metrics.push_back(m);
    }
    tr.seconds = SecondsSince(task_start);
    result.tasks.push_back(std::move(tr));
  }
  host_.SetProgress(nullptr);
  COMPASS_ASSIGN_OR_RETURN(result.figures, backend->Figures());
  result.seconds = SecondsSince(run_start);
  stage_ = RunStage::kDone;
  return result;
}

}  // namespace compass
