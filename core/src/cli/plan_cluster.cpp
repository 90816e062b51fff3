#include "cli/plan_cluster.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <regex>

#include "config/config.h"
#include "devices/devices.h"
#include "models/dtype.h"
#include "models/parallel_accounting.h"
#include "plugin_host/host_services.h"
#include "util/strings.h"

namespace compass::cli {
namespace {

using planning::ClusterShape;
using planning::Layout;

std::string N(int64_t v) {
  return std::to_string(v);
}

// Two decimals, so that needed and available can be told apart.
std::string Gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1ull << 30));
  return buf;
}

double FigureOr(const PlanResult& plan, const char* name, double fallback) {
  for (const Figure& f : plan.figures) {
    if (f.name == name) return f.value;
  }
  return fallback;
}

// tp and stages from [backend.paged_tp] (config or --set); 0 when absent.
StatusOr<planning::GivenLayout> GivenFromConfig(const EvalConfig& config) {
  planning::GivenLayout given;
  const auto it = config.backend.plugin_tables.find(kClusterBackend);
  if (it == config.backend.plugin_tables.end()) return given;
  for (const char* key : {"tp", "stages"}) {
    const toml::node* node = it->second.get(key);
    if (!node) continue;
    const auto* value = node->as_integer();
    if (!value) {
      return InvalidArgument(std::string("backend.paged_tp.") + key + " must be an integer, got " +
                             TomlToJson(*node));
    }
    (std::string(key) == "tp" ? given.tp : given.stages) = value->get();
  }
  return given;
}

struct Attempt {
  StatusOr<PlanReport> report = InvalidArgument("not planned");
  int exit = kExitOk;
};

// paged_tp's plan of `layout` on `devices` (its first tp x stages).
Attempt PlanLayout(const PluginRegistry& registry, const RunOptions& options, const Layout& layout,
                   const std::vector<Device>& devices) {
  std::vector<std::string> overrides = options.overrides;
  overrides.push_back(std::string("backend.") + kClusterBackend + ".tp=" + N(layout.tp));
  overrides.push_back(std::string("backend.") + kClusterBackend + ".stages=" + N(layout.stages));
  Attempt a;
  a.report =
      PlanWithOverrides(registry, options.config, overrides, kClusterBackend, devices, &a.exit);
  return a;
}

// A cluster of `nodes` nodes like `like`'s.
std::vector<Device> ClusterLike(const std::vector<Device>& like, int64_t nodes,
                                int64_t gpus_per_node) {
  std::vector<Device> out;
  for (int64_t n = 0; n < nodes; ++n) {
    for (int64_t g = 0; g < gpus_per_node; ++g) {
      Device d = like.front();
      d.index = static_cast<int>(out.size());
      d.name = "cuda:" + std::to_string(d.index);
      d.node = static_cast<int>(n);
      out.push_back(d);
    }
  }
  return out;
}

// The GPU as --devices names it: "H100" of "2x8xH100".
std::string GpuText(const std::string& spec) {
  static const std::regex kCluster(R"(^\s*\d+x\d+x(.*)$)", std::regex::icase);
  std::smatch m;
  const std::string s(spec);
  return std::regex_match(s, m, kCluster) ? std::string(Trim(m[1].str())) : spec;
}

// The decoder layers of stage s (paged_tp splits them evenly).
std::pair<int64_t, int64_t> StageLayers(const model::ModelConfig& model, const Layout& layout,
                                        int64_t stage) {
  const auto split = model::EvenLayerSplit(model.num_hidden_layers, layout.stages);
  return stage < static_cast<int64_t>(split.size()) ? split[static_cast<size_t>(stage)]
                                                    : std::pair<int64_t, int64_t>{0, 0};
}

// Needed against available on the GPU that misses most: its weights,
// activations and reserve, and one sequence of max_length tokens of KV
// cache, against capacity x memory_utilization.
std::string Shortfall(const PlanReport& report, const model::ModelConfig& model,
                      const Layout& layout) {
  const PlanResult& p = report.plan;
  auto dtype = model::ParseDType(report.dtype);
  if (!dtype.ok() || p.devices.empty()) return p.message;
  const double mu = FigureOr(p, "memory_utilization", 0.9);
  const int64_t block = static_cast<int64_t>(FigureOr(p, "block_size", 16));
  const int64_t tokens = (report.max_length + block - 1) / block * block;
  double worst_gap = -1e300;
  std::string out;
  for (size_t i = 0; i < p.devices.size(); ++i) {
    const auto& d = p.devices[i];
    const auto [begin, end] = StageLayers(model, layout, static_cast<int64_t>(i) / layout.tp);
    const double kv =
        static_cast<double>(model::KvBytesPerToken(model, *dtype, layout.tp, end - begin)) *
        static_cast<double>(tokens);
    const double need = static_cast<double>(d.weights + d.activations) + kv;
    const double usable = static_cast<double>(d.capacity) * mu;
    if (need - usable <= worst_gap) continue;
    worst_gap = need - usable;
    char mu_text[16];
    std::snprintf(mu_text, sizeof mu_text, "%.2f", mu);
    out = "with tp = " + N(layout.tp) + " and " + N(layout.stages) + " stage" +
          (layout.stages == 1 ? "" : "s") + " a GPU (" + d.device + ") needs " + Gib(d.weights) +
          " of weights + " + Gib(d.activations) + " of activations and reserve + " + Gib(kv) +
          " of KV cache for one sequence of " + N(report.max_length) + " tokens = " + Gib(need) +
          ", but paged_tp may use " + Gib(usable) + " of its " + Gib(d.capacity) +
          " (memory_utilization " + mu_text + ")";
  }
  return out;
}

std::string NodesText(int64_t nodes, int64_t gpus, const std::string& gpu) {
  return N(nodes) + " node" + (nodes == 1 ? "" : "s") + " of " + N(gpus) + " x " + gpu;
}

}  // namespace

ClusterChoice ChooseClusterLayout(const PluginRegistry& registry, const RunOptions& options,
                                  const EvalConfig& config, const std::vector<Device>& simulated,
                                  const model::ModelConfig& model) {
  ClusterChoice c;
  c.shape = planning::ShapeOf(simulated);
  auto given = GivenFromConfig(config);
  if (!given.ok()) {
    c.error = given.status();
    c.error_exit = kExitUsage;
    return c;
  }
  c.given = given->tp != 0 || given->stages != 0;
  if (Status s = planning::CheckGivenLayout(*given, model, c.shape); !s.ok()) {
    c.error = s;
    c.error_exit = kExitUsage;
    return c;
  }
  std::optional<PlanReport> one_node;  // the last one-stage plan tried
  Layout one_node_layout;
  for (const Layout& layout : planning::CandidateLayouts(*given, model, c.shape)) {
    Attempt a = PlanLayout(registry, options, layout, simulated);
    if (!a.report.ok()) {
      c.error = a.report.status();
      c.error_exit = a.exit;
      return c;
    }
    c.layout = layout;
    c.report = std::move(*a.report);
    if (c.report->plan.fits) {
      c.fits = true;
      break;
    }
    if (layout.stages == 1) {
      one_node = c.report;
      one_node_layout = layout;
    }
  }
  if (!c.report) {
    c.error = InvalidArgument("paged_tp: no layout of the cluster to plan");
    c.error_exit = kExitUsage;
    return c;
  }
  if (c.fits && c.layout.stages > 1 && one_node) {
    c.why_stages =
        "one node does not hold the model: " + Shortfall(*one_node, model, one_node_layout);
  }
  if (c.fits) return c;
  c.shortfall = Shortfall(*c.report, model, c.layout);
  for (const Layout& layout : planning::LargerClusterLayouts(*given, model, c.shape)) {
    const int64_t nodes = planning::NodesFor(layout, c.shape);
    const auto devices = ClusterLike(simulated, nodes, c.shape.gpus_per_node);
    Attempt a = PlanLayout(registry, options, layout, devices);
    if (!a.report.ok()) break;
    if (a.report->plan.fits) {
      c.larger = layout;
      c.larger->replicas = nodes * c.shape.gpus_per_node / layout.gpus();
      c.larger_devices = N(nodes) + "x" + N(c.shape.gpus_per_node) + "x" + GpuText(options.devices);
      break;
    }
  }
  return c;
}

std::string LargerClusterText(const ClusterChoice& c) {
  if (!c.larger) return "";
  const int64_t nodes = planning::NodesFor(*c.larger, c.shape);
  return "it needs " + NodesText(nodes, c.shape.gpus_per_node, GpuText(c.larger_devices)) +
         " with tp = " + N(c.larger->tp) + " and " + N(c.larger->stages) + " stage" +
         (c.larger->stages == 1 ? "" : "s") + " (--devices " + c.larger_devices + ")";
}

namespace {

std::string Verdict(const ClusterChoice& c, const std::string& gpu) {
  if (c.fits) return "FITS";
  std::string out = "DOES NOT FIT: on " + NodesText(c.shape.nodes, c.shape.gpus_per_node, gpu) +
                    ", " + c.shortfall;
  const std::string larger = LargerClusterText(c);
  if (!larger.empty()) return out + "; " + larger;
  out += c.given ? "; no larger cluster holds it with the tp and stages given: raise them, or "
                   "leave them out and let the plan choose"
                 : "; no cluster of up to 1024 of these GPUs holds it with tp <= " +
                       N(c.shape.gpus_per_node) +
                       " (use a smaller dtype, a smaller model.max_length or larger GPUs)";
  return out;
}

struct Capacity {
  uint64_t tokens = 0;     // per replica
  uint64_t sequences = 0;  // of max_length tokens, per replica
};

Capacity KvCapacity(const PlanReport& r) {
  Capacity c;
  c.tokens = static_cast<uint64_t>(FigureOr(r.plan, "kv_tokens", 0));
  if (r.max_length > 0) c.sequences = c.tokens / static_cast<uint64_t>(r.max_length);
  return c;
}

std::string StageParts(const model::ModelConfig& model, const Layout& layout, int64_t s) {
  const auto [begin, end] = StageLayers(model, layout, s);
  std::string out = "layers " + N(begin) + "-" + N(end - 1);
  if (s == 0) out += ", the embedding";
  if (s == layout.stages - 1) out += ", the final norm and the LM head";
  return out;
}

void PrintCluster(const ClusterChoice& c, const model::ModelConfig& model,
                  const std::vector<Device>& devices, const std::string& gpu) {
  const PlanReport& r = *c.report;
  const Layout& l = c.layout;
  std::printf(
      "Cluster plan for %s on %lld node(s) x %lld GPUs (%s, %s each), dtype %s, context "
      "window %lld tokens:\n",
      kClusterBackend, static_cast<long long>(c.shape.nodes),
      static_cast<long long>(c.shape.gpus_per_node), devices.front().model.c_str(),
      FormatBytes(devices.front().memory_bytes).c_str(), r.dtype.c_str(),
      static_cast<long long>(r.max_length));
  const int64_t used = l.gpus() * l.replicas;
  std::string layout =
      planning::LayoutText(l) + " (" + N(used) + " of " + N(c.shape.gpus()) + " GPUs" +
      (used < c.shape.gpus() ? ", " + N(c.shape.gpus() - used) + " left idle" : "") +
      "; tp within a node, stages across nodes)" + (c.given ? " (given)" : "");
  std::printf("  %-12s %s\n", "layout", layout.c_str());
  for (int64_t s = 0; s < l.stages; ++s) {
    std::printf("  %-12s %s, %s\n", ("stage " + N(s)).c_str(),
                planning::StageDevices(l, s, devices).c_str(), StageParts(model, l, s).c_str());
  }
  const auto& ds = r.plan.devices;
  for (int64_t s = 0; s < l.stages; ++s) {
    const size_t i = static_cast<size_t>(s * l.tp);
    if (i >= ds.size()) break;
    const auto& d = ds[i];
    const std::string who = l.stages == 1 ? "" : "stage " + N(s) + ": ";
    std::printf("  %-12s %sweights %s + KV cache %s + activations and reserve %s = %s of %s\n",
                s == 0 ? "per GPU" : "", who.c_str(), Gib(d.weights).c_str(), Gib(d.cache).c_str(),
                Gib(d.activations).c_str(), Gib(d.weights + d.cache + d.activations).c_str(),
                Gib(d.capacity).c_str());
  }
  const Capacity kv = KvCapacity(r);
  std::printf(
      "  %-12s %llu tokens per replica (%llu sequences of %lld tokens); %llu tokens, %llu "
      "sequences over %lld replica(s)\n",
      "KV capacity", static_cast<unsigned long long>(kv.tokens),
      static_cast<unsigned long long>(kv.sequences), static_cast<long long>(r.max_length),
      static_cast<unsigned long long>(kv.tokens * l.replicas),
      static_cast<unsigned long long>(kv.sequences * l.replicas),
      static_cast<long long>(l.replicas));
  if (!c.why_stages.empty()) std::printf("  %-12s %s\n", "stages", c.why_stages.c_str());
  if (c.fits && !r.plan.message.empty())
    std::printf("  %-12s %s\n", "note", r.plan.message.c_str());
  std::printf("%s\n", Verdict(c, gpu).c_str());
}

nlohmann::json ClusterJson(const ClusterChoice& c, const model::ModelConfig& model,
                           const std::vector<Device>& devices, const std::string& gpu) {
  nlohmann::json j = PlanJson(*c.report);
  const Layout& l = c.layout;
  const Capacity kv = KvCapacity(*c.report);
  nlohmann::json stages = nlohmann::json::array();
  for (int64_t s = 0; s < l.stages; ++s) {
    const auto [begin, end] = StageLayers(model, l, s);
    const size_t first = static_cast<size_t>(s * l.tp);
    stages.push_back({{"stage", s},
                      {"node", first < devices.size() ? devices[first].node : -1},
                      {"devices", planning::StageDevices(l, s, devices)},
                      {"layers", {begin, end}}});
  }
  j["fits"] = c.fits;
  j["verdict"] = Verdict(c, gpu);
  j["cluster"] = {{"nodes", c.shape.nodes},
                  {"gpus_per_node", c.shape.gpus_per_node},
                  {"tp", l.tp},
                  {"stages", l.stages},
                  {"replicas", l.replicas},
                  {"given", c.given},
                  {"gpus_used", l.gpus() * l.replicas},
                  {"stage_layout", std::move(stages)},
                  {"kv_tokens_per_replica", kv.tokens},
                  {"kv_sequences_per_replica", kv.sequences},
                  {"kv_tokens", kv.tokens * l.replicas},
                  {"kv_sequences", kv.sequences * l.replicas}};
  if (!c.why_stages.empty()) j["cluster"]["why_stages"] = c.why_stages;
  if (!c.fits) {
    j["cluster"]["shortfall"] = c.shortfall;
    if (c.larger) {
      j["cluster"]["fits_on"] = {{"devices", c.larger_devices},
                                 {"nodes", planning::NodesFor(*c.larger, c.shape)},
                                 {"tp", c.larger->tp},
                                 {"stages", c.larger->stages}};
    }
  }
  return j;
}

}  // namespace

int PlanClusterCommand(const GlobalOptions& global, const RunOptions& options, bool json) {
  std::optional<PlanInputs> inputs = LoadPlanInputs(options);
  if (!inputs) return kExitUsage;
  auto model = model::LoadModelConfig(inputs->config.model.path);
  if (!model.ok()) {
    spdlog::error("{}", model.status().message());
    return kExitUsage;
  }
  const auto registry = PluginRegistry::Discover(PluginSearchPath(global.plugin_dirs));
  const ClusterChoice c =
      ChooseClusterLayout(registry, options, inputs->config, inputs->simulated, *model);
  if (!c.error.ok()) {
    spdlog::error("{}", c.error.message());
    return c.error_exit;
  }
  const std::string gpu = GpuText(options.devices);
  if (json) {
    std::cout << ClusterJson(c, *model, inputs->simulated, gpu).dump(2) << "\n";
  } else {
    PrintCluster(c, *model, inputs->simulated, gpu);
  }
  return c.fits ? kExitOk : kExitPlanRefused;
}

}  // namespace compass::cli
