// `compass plan --backend all`: every in-tree backend planned for the same
// model and devices, one row each.
//
// Each backend gets the layout the devices suggest, given as an override
// (`--set backend.paged_tp.tp=4`), so that what the user wrote in the
// config's [backend.<name>] table or with --set wins where given:
//   hf_native  its device_map (auto unless configured)
//   paged_tp   tp = the devices, or when the model forbids that, the
//              largest tp below that it accepts
//              (models/parallel_accounting.h, TensorParallelRefusal)
//   pipeline   stages = the devices, at most the model's decoder layers
// On a cluster (`--devices 2x8xH100`, cli/plan_cluster.h) paged_tp's row is
// the cluster layout (tp x stages x replicas); hf_native and pipeline run
// in one process, so they are planned on the first node's GPUs.
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/plan_cluster.h"
#include "cli/plan_support.h"
#include "config/config.h"
#include "devices/devices.h"
#include "models/model_config.h"
#include "models/parallel_accounting.h"
#include "plugin_host/host_services.h"
#include "plugin_host/plugin_registry.h"
#include "runner/run_rules.h"
#include "runner/runner.h"
#include "util/strings.h"

namespace compass::cli {
namespace {

constexpr const char* kInTreeBackends[] = {"hf_native", "paged_tp", "pipeline"};

struct Row {
  std::string backend;
  std::string layout;                // "tp = 4"
  std::string layout_note;           // why, when the layout is not the obvious one
  std::optional<PlanReport> report;  // absent when the plan was refused
  Status error;                      // why, when refused
  int error_exit = kExitOk;
  uint64_t peak = 0, peak_capacity = 0;  // the fullest device's use and capacity
  uint64_t kv_tokens = 0, kv_bytes = 0;
};

// The option a user gave in [backend.<name>] (config or --set), if any.
const toml::node* UserOption(const EvalConfig& config, const std::string& backend,
                             const char* key) {
  const auto it = config.backend.plugin_tables.find(backend);
  return it == config.backend.plugin_tables.end() ? nullptr : it->second.get(key);
}

std::string NodeText(const toml::node& node) {
  if (const auto* s = node.as_string()) return s->get();
  return TomlToJson(node);
}

// Whether paged_tp accepts `tp` for this model (its CheckOptions rule).
// The layout of `backend` and the overrides that ask for it; nothing is
// added where the user's config or --set names the option already.
std::string ChooseLayout(const std::string& backend, const EvalConfig& config, int64_t devices,
                         const std::optional<model::ModelConfig>& model,
                         std::vector<std::string>* overrides, std::string* note) {
  if (backend == "hf_native") {
    const toml::node* map = UserOption(config, backend, "device_map");
    if (!map) return "device_map = auto";
    return "device_map = " + (map->is_table() ? std::string("explicit") : NodeText(*map)) +
           " (given)";
  }
  if (backend == "paged_tp") {
    if (const toml::node* tp = UserOption(config, backend, "tp")) {
      return "tp = " + NodeText(*tp) + " (given)";
    }
    int64_t tp = std::max<int64_t>(devices, 1);
    std::string why;
    const std::string refusal =
        model && model->num_attention_heads > 0 && model->num_key_value_heads > 0
            ? model::TensorParallelRefusal(*model, tp)
            : "";
    if (!refusal.empty()) {
      const int64_t all = tp;
      while (tp > 1 && !model::TensorParallelRefusal(*model, tp).empty()) --tp;
      why = " (not " + std::to_string(all) + ")";
      *note = "tp = " + std::to_string(tp) + ", the largest tp <= " + std::to_string(all) +
              " devices the model allows (" + refusal + "); the ranks use the first " +
              std::to_string(tp) + " devices";
    }
    overrides->push_back("backend.paged_tp.tp=" + std::to_string(tp));
    return "tp = " + std::to_string(tp) + why;
  }
  if (backend == "pipeline") {
    if (const toml::node* layers = UserOption(config, backend, "stage_layers")) {
      return "stage_layers = " + NodeText(*layers) + " (given)";
    }
    if (const toml::node* stages = UserOption(config, backend, "stages")) {
      return "stages = " + NodeText(*stages) + " (given)";
    }
    int64_t stages = std::max<int64_t>(devices, 1);
    std::string why;
    if (model && model->num_hidden_layers > 0 && stages > model->num_hidden_layers) {
      why = " (not " + std::to_string(stages) + ")";
      stages = model->num_hidden_layers;
      *note = "stages = " + std::to_string(stages) + ": the model has " + std::to_string(stages) +
              " decoder layers, one stage needs at least one";
    }
    overrides->push_back("backend.pipeline.stages=" + std::to_string(stages));
    return "stages = " + std::to_string(stages) + why;
  }
  return "";
}

double FigureOr(const PlanResult& plan, const char* name, double fallback) {
  for (const Figure& f : plan.figures) {
    if (f.name == name) return f.value;
  }
  return fallback;
}

// The tokens of KV cache the plan holds: paged_tp's kv_tokens (blocks x
// block size); hf_native's batch of full-length sequences; pipeline's
// micro-batches in flight, each micro_batch_size sequences of max_length.
uint64_t KvTokens(const PlanReport& r) {
  const PlanResult& p = r.plan;
  const double kv = FigureOr(p, "kv_tokens", -1);
  if (kv >= 0) return static_cast<uint64_t>(kv);
  const double max_length = FigureOr(p, "max_length", static_cast<double>(r.max_length));
  const double mbs = FigureOr(p, "micro_batch_size", -1);
  if (mbs >= 0) return static_cast<uint64_t>(FigureOr(p, "micro_batches", 0) * mbs * max_length);
  const double batch = FigureOr(p, "batch_size", -1);
  if (batch >= 0) return static_cast<uint64_t>(batch * max_length);
  return 0;
}

Row PlanOne(const std::string& backend, const PluginRegistry& registry, const RunOptions& options,
            const EvalConfig& base, const std::vector<Device>& simulated,
            const std::optional<model::ModelConfig>& model) {
  Row row;
  row.backend = backend;
  const int64_t devices = simulated.empty() ? static_cast<int64_t>(base.backend.devices.size())
                                            : static_cast<int64_t>(simulated.size());
  std::vector<std::string> overrides = options.overrides;
  row.layout = ChooseLayout(backend, base, devices, model, &overrides, &row.layout_note);
  auto result =
      PlanWithOverrides(registry, options.config, overrides, backend, simulated, &row.error_exit);
  if (!result.ok()) {
    row.error = result.status();
    return row;
  }
  for (const auto& d : result->plan.devices) {
    const uint64_t used = d.weights + d.cache + d.activations;
    if (used >= row.peak) {
      row.peak = used;
      row.peak_capacity = d.capacity;
    }
    row.kv_bytes += d.cache;
  }
  row.kv_tokens = KvTokens(*result);
  row.report = std::move(*result);
  return row;
}

// "4x NVIDIA A40 (simulated) 44.7 GiB" for runs of equal devices.
std::string DescribeDevices(const std::vector<Device>& devices) {
  std::string out;
  for (size_t i = 0; i < devices.size();) {
    size_t j = i;
    while (j < devices.size() && devices[j].model == devices[i].model &&
           devices[j].memory_bytes == devices[i].memory_bytes) {
      ++j;
    }
    out += (out.empty() ? "" : ", ") + std::to_string(j - i) + "x " + devices[i].model + " " +
           FormatBytes(devices[i].memory_bytes);
    i = j;
  }
  return out;
}

std::string OneLine(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

const char* Verdict(const Row& r) {
  if (!r.report) return "REFUSED";
  return r.report->plan.fits ? "FITS" : "DOES NOT FIT";
}

// The bf16 fallback note the runner puts in front of every plan's message:
// said once above the table instead.
std::string DtypeNote(const EvalConfig& config, const std::vector<Row>& rows) {
  for (const Row& r : rows) {
    if (!r.report) continue;
    auto d = DecideDtype(config.model.dtype, config.model.allow_dtype_fallback, r.report->devices);
    return d.ok() ? d->note : "";
  }
  return "";
}

std::string WithoutPrefix(const std::string& text, const std::string& prefix) {
  if (prefix.empty() || text.rfind(prefix, 0) != 0) return text;
  std::string rest = text.substr(prefix.size());
  if (rest.rfind("; ", 0) == 0) rest = rest.substr(2);
  return rest;
}

// paged_tp's row on a cluster: the layout ChooseClusterLayout picks, KV
// capacity over its replicas.
Row PlanClusterRow(const PluginRegistry& registry, const RunOptions& options,
                   const EvalConfig& config, const std::vector<Device>& simulated,
                   const model::ModelConfig& model) {
  Row row;
  row.backend = kClusterBackend;
  const ClusterChoice c = ChooseClusterLayout(registry, options, config, simulated, model);
  row.layout = c.report ? planning::LayoutText(c.layout) + (c.given ? " (given)" : "") : "-";
  if (!c.error.ok()) {
    row.error = c.error;
    row.error_exit = c.error_exit;
    return row;
  }
  row.report = *c.report;
  for (const auto& d : row.report->plan.devices) {
    const uint64_t used = d.weights + d.cache + d.activations;
    if (used >= row.peak) {
      row.peak = used;
      row.peak_capacity = d.capacity;
    }
    row.kv_bytes += d.cache * static_cast<uint64_t>(c.layout.replicas);
  }
  row.kv_tokens = KvTokens(*row.report) * static_cast<uint64_t>(c.layout.replicas);
  row.layout_note = "tp within a node, stages across nodes, " + std::to_string(c.layout.replicas) +
                    " replica(s) on the GPUs left (KV capacity over all of them)";
  if (!c.why_stages.empty()) row.layout_note += "; " + c.why_stages;
  if (!c.fits) {
    const std::string larger = LargerClusterText(c);
    row.report->plan.message = c.shortfall + (larger.empty() ? "" : "; " + larger);
  }
  return row;
}

void PrintTable(const std::vector<Row>& rows, const std::vector<Device>& simulated,
                const std::string& dtype_note) {
  const PlanReport* any = nullptr;
  for (const Row& r : rows) {
    if (r.report && !any) any = &*r.report;
  }
  const std::vector<Device>& devices = any ? any->devices : simulated;
  if (NodeCount(simulated) > 1) {
    const auto shape = planning::ShapeOf(simulated);
    std::printf("Plans on %lld nodes x %lld GPUs (%s %s)", static_cast<long long>(shape.nodes),
                static_cast<long long>(shape.gpus_per_node), simulated.front().model.c_str(),
                FormatBytes(simulated.front().memory_bytes).c_str());
  } else if (devices.empty()) {
    std::printf("Plans");
  } else {
    std::printf("Plans on %zu device(s) (%s)", devices.size(), DescribeDevices(devices).c_str());
  }
  if (any) std::printf(", context window %lld tokens", static_cast<long long>(any->max_length));
  std::printf(":\n");
  if (!dtype_note.empty()) std::printf("  Note: %s\n", dtype_note.c_str());
  size_t layout_width = 6;
  for (const Row& r : rows) layout_width = std::max(layout_width, r.layout.size());
  const int lw = static_cast<int>(layout_width);
  std::printf("  %-10s %-*s %-9s %-22s %-22s %s\n", "BACKEND", lw, "LAYOUT", "DTYPE", "PEAK/DEVICE",
              "KV CAPACITY", "VERDICT");
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    std::string dtype = "-", peak = "-", kv = "-", reason;
    if (r.report) {
      dtype = r.report->dtype;
      peak = FormatBytes(r.peak) + " of " + FormatBytes(r.peak_capacity);
      kv = std::to_string(r.kv_tokens) + " tok, " + FormatBytes(r.kv_bytes);
      reason = WithoutPrefix(r.report->plan.message, dtype_note);
    } else {
      reason = r.error.message();
      // The same refusal (bf16 on these devices, a task's data) once.
      for (size_t j = 0; j < i; ++j) {
        if (!rows[j].report && rows[j].error.message() == reason) {
          reason = "as for " + rows[j].backend;
          break;
        }
      }
    }
    std::printf("  %-10s %-*s %-9s %-22s %-22s %s%s%s\n", r.backend.c_str(), lw, r.layout.c_str(),
                dtype.c_str(), peak.c_str(), kv.c_str(), Verdict(r), reason.empty() ? "" : ": ",
                OneLine(reason).c_str());
  }
  for (const Row& r : rows) {
    if (!r.layout_note.empty()) std::printf("  %s: %s\n", r.backend.c_str(), r.layout_note.c_str());
  }
}

nlohmann::json ToJson(const std::vector<Row>& rows, bool fits) {
  nlohmann::json plans = nlohmann::json::array();
  for (const Row& r : rows) {
    nlohmann::json p;
    if (r.report) {
      p = PlanJson(*r.report);
      p["peak_device_bytes"] = r.peak;
      p["peak_device_capacity_bytes"] = r.peak_capacity;
      p["kv_tokens"] = r.kv_tokens;
      p["kv_bytes"] = r.kv_bytes;
    } else {
      p = {{"backend", r.backend}, {"fits", false}, {"error", r.error.message()}};
    }
    p["layout"] = r.layout;
    if (!r.layout_note.empty()) p["layout_note"] = r.layout_note;
    p["verdict"] = Verdict(r);
    plans.push_back(std::move(p));
  }
  return {{"fits", fits}, {"plans", std::move(plans)}};
}

}  // namespace

int PlanAllCommand(const GlobalOptions& global, const RunOptions& options, bool json) {
  std::optional<PlanInputs> inputs = LoadPlanInputs(options);
  if (!inputs) return kExitUsage;
  const EvalConfig* config = &inputs->config;
  const std::vector<Device>& simulated = inputs->simulated;
  // The heads and layers the layouts depend on; a model the library cannot
  // read gets tp and stages = the devices, and each backend says why not.
  std::optional<model::ModelConfig> model;
  if (auto m = model::LoadModelConfig(config->model.path); m.ok()) model = std::move(*m);

  const auto registry = PluginRegistry::Discover(PluginSearchPath(global.plugin_dirs));
  std::vector<Row> rows;
  const bool cluster = IsClusterSpec(options.devices);
  // One process runs on one node: hf_native and pipeline get node 0's GPUs.
  std::vector<Device> node0;
  for (const Device& d : simulated) {
    if (d.node == 0) node0.push_back(d);
  }
  for (const char* backend : kInTreeBackends) {
    if (cluster && model && std::string(backend) == kClusterBackend) {
      rows.push_back(PlanClusterRow(registry, options, *config, simulated, *model));
      continue;
    }
    rows.push_back(
        PlanOne(backend, registry, options, *config, cluster ? node0 : simulated, model));
    if (cluster && node0.size() < simulated.size()) {
      rows.back().layout_note =
          "one process on one node: planned on node 0's " + std::to_string(node0.size()) + " GPUs" +
          (rows.back().layout_note.empty() ? "" : "; ") + rows.back().layout_note;
    }
  }
  bool fits = false;
  const Row* first_error = nullptr;
  for (const Row& r : rows) {
    if (r.report) fits = fits || r.report->plan.fits;
    if (!r.report && !first_error) first_error = &r;
  }
  const bool planned = std::any_of(rows.begin(), rows.end(), [](const Row& r) { return r.report; });
  // No plan at all (bf16 refused, a task's data unreadable): the error on
  // stderr too, and the exit code a single plan would give.
  if (!planned) spdlog::error("{}", first_error->error.message());
  if (json) {
    std::cout << ToJson(rows, fits).dump(2) << "\n";
  } else {
    PrintTable(rows, simulated, DtypeNote(*config, rows));
  }
  if (fits) return kExitOk;
  return planned ? kExitPlanRefused : first_error->error_exit;
}

}  // namespace compass::cli
