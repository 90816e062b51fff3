// hf_native on the benchmark's workloads (make_workload.py), through the real
// plugin loader and one execute() call, as the compass CLI drives it.
//
//   hf_native_bench WORKLOAD --kind scoring|generation [--batch N] [--out FILE]
//                   [--device cpu] [--max-length N] [--threads N] [--plugin-dir DIR]
//
// --batch 0 (the default) is backend.batch_size = "auto": the backend's
// default setting. Prints one JSON line like hf_bench.py's: wall, user and
// system CPU seconds and minor page faults of execute() (loading excluded,
// from getrusage), useful tokens (the backend's `tokens` figure) and the
// figures; --out also writes the results, for comparison with transformers.
#include <sys/resource.h>

#include <chrono>
#include <compass/plugin.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "devices/devices.h"
#include "plugin_host/host_services.h"
#include "plugin_host/plugin_instances.h"
#include "plugin_host/plugin_registry.h"

namespace {

using json = nlohmann::json;

struct Usage {
  double wall = 0, user = 0, sys = 0;
  long minor_faults = 0;
};

Usage Now() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  Usage u;
  u.wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
  u.user = static_cast<double>(r.ru_utime.tv_sec) + r.ru_utime.tv_usec * 1e-6;
  u.sys = static_cast<double>(r.ru_stime.tv_sec) + r.ru_stime.tv_usec * 1e-6;
  u.minor_faults = r.ru_minflt;
  return u;
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "hf_native_bench: %s\n", what.c_str());
  return 1;
}

int PrintUsage() {
  std::fprintf(stderr,
               "usage: hf_native_bench WORKLOAD --kind scoring|generation [--batch N] [--out FILE] "
               "[--device NAME] [--max-length N] [--threads N] [--plugin-dir DIR]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return PrintUsage();
  const std::string workload_path = argv[1];
  std::string kind, out_path, device = "cpu", plugin_dir = COMPASS_PLUGIN_DIR;
  uint32_t batch = 0;
  int64_t max_length = 0;
  int threads = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (arg == "--kind") {
      kind = next();
    } else if (arg == "--batch") {
      batch = static_cast<uint32_t>(std::atoi(next().c_str()));
    } else if (arg == "--out") {
      out_path = next();
    } else if (arg == "--device") {
      device = next();
    } else if (arg == "--max-length") {
      max_length = std::atoll(next().c_str());
    } else if (arg == "--threads") {
      threads = std::atoi(next().c_str());
    } else if (arg == "--plugin-dir") {
      plugin_dir = next();
    } else {
      return PrintUsage();
    }
  }
  if (kind != "scoring" && kind != "generation") return PrintUsage();

  std::ifstream in(workload_path);
  if (!in) return Fail(workload_path + ": cannot be read");
  const json workload = json::parse(in);
  const std::string model_dir = workload["model"].get<std::string>();
  std::ifstream config_file(model_dir + "/config.json");
  const json model_config = json::parse(config_file);
  const int64_t vocab = model_config["vocab_size"].get<int64_t>();
  if (max_length == 0) {
    max_length = std::min<int64_t>(model_config.value("max_position_embeddings", 2048), 2048);
  }

  // The plugin, as the CLI finds and creates it.
  compass::PluginHost host;
  const auto registry = compass::PluginRegistry::Discover({plugin_dir});
  auto record = registry.Find(compass::PluginKind::kBackend, "hf_native");
  if (!record.ok()) return Fail(record.status().ToString());
  auto devices = compass::ResolveDevices({device});
  if (!devices.ok()) return Fail(devices.status().ToString());
  std::vector<compass_device_spec> specs;
  for (const auto& d : *devices) {
    specs.push_back({sizeof(compass_device_spec), compass::sdk::str(d.name),
                     compass::sdk::str(d.model), d.memory_bytes, d.Flags()});
  }
  // No tokenizer: token i reads "<i>" (stop strings are not used here).
  std::vector<std::string> texts;
  for (int64_t i = 0; i < vocab; ++i) texts.push_back("<" + std::to_string(i) + ">");
  std::vector<compass_str> token_bytes;
  for (const auto& t : texts) token_bytes.push_back(compass::sdk::str(t));
  const std::string options =
      threads > 0 ? R"({"threads": )" + std::to_string(threads) + "}" : "{}";
  compass_backend_config c{};
  c.struct_size = sizeof c;
  c.model_path = compass::sdk::str(model_dir);
  c.dtype = compass::sdk::str("float32");
  c.devices = specs.data();
  c.num_devices = specs.size();
  c.options_json = compass::sdk::str(options);
  c.max_batch_size = batch;
  c.vocab_size = static_cast<uint32_t>(vocab);
  c.bos_token_id = model_config.value("bos_token_id", -1);
  c.pad_token_id = -1;
  c.max_length = static_cast<uint64_t>(max_length);
  c.token_bytes = token_bytes.data();
  c.num_token_bytes = token_bytes.size();
  c.host_memory_bytes = compass::AvailableHostMemory();
  auto backend = compass::BackendInstance::Create(**record, host, c);
  if (!backend.ok()) return Fail(backend.status().ToString());
  const auto load_start = Now();
  if (compass::Status s = (*backend)->Load(); !s.ok()) return Fail(s.ToString());
  const double load_s = Now().wall - load_start.wall;

  // The requests: 4 loglikelihood requests per scoring context, one
  // generation per prompt.
  std::vector<std::vector<int32_t>> contexts, continuations, stops;
  std::vector<compass_request> requests;
  const json& work = workload[kind];
  for (const json& w : work) {
    contexts.push_back(w["context"].get<std::vector<int32_t>>());
    if (kind == "scoring") {
      for (const json& cont : w["continuations"]) {
        continuations.push_back(cont.get<std::vector<int32_t>>());
      }
    } else {
      stops.push_back(w["stop_token_ids"].get<std::vector<int32_t>>());
    }
  }
  size_t next_cont = 0;
  for (size_t i = 0; i < work.size(); ++i) {
    const auto& ctx = contexts[i];
    const size_t n = kind == "scoring" ? work[i]["continuations"].size() : 1;
    for (size_t k = 0; k < n; ++k) {
      compass_request r{};
      r.struct_size = sizeof r;
      r.index = requests.size();
      r.num_samples = 1;
      r.context = {ctx.data(), ctx.size()};
      if (kind == "scoring") {
        r.kind = COMPASS_REQUEST_LOGLIKELIHOOD;
        const auto& cont = continuations[next_cont++];
        r.continuation = {cont.data(), cont.size()};
      } else {
        r.kind = COMPASS_REQUEST_GENERATE;
        r.stop_token_ids = {stops[i].data(), stops[i].size()};
        r.max_new_tokens = work[i]["max_new_tokens"].get<uint32_t>();
      }
      requests.push_back(r);
    }
  }

  std::vector<json> results(requests.size());
  const Usage before = Now();
  const compass::Status status =
      (*backend)->Execute(requests, [&](const compass_result& r) -> compass::Status {
        if (r.error_code != COMPASS_OK) {
          return compass::Status(static_cast<compass_code>(r.error_code),
                                 std::string(compass::sdk::view(r.error_message)));
        }
        if (r.kind == COMPASS_REQUEST_LOGLIKELIHOOD) {
          results[r.index] = r.logprob;
        } else {
          results[r.index] = std::vector<int32_t>(r.tokens.ids, r.tokens.ids + r.tokens.size);
        }
        return compass::Status::Ok();
      });
  const Usage after = Now();
  if (!status.ok()) return Fail(status.ToString());

  json figures = json::object();
  if (auto f = (*backend)->Figures(); f.ok()) {
    for (const auto& x : *f) {
      if (x.scope.empty()) figures[x.name] = x.value;
    }
  }
  const double wall = after.wall - before.wall;
  const double tokens = figures.value("tokens", 0.0);
  json report = {{"impl", "hf_native"},
                 {"kind", kind},
                 {"batch", figures.value("batch_size", 0.0)},
                 {"batch_option", batch == 0 ? json("auto") : json(batch)},
                 {"load_s", load_s},
                 {"wall_s", wall},
                 {"user_s", after.user - before.user},
                 {"sys_s", after.sys - before.sys},
                 {"minor_faults", after.minor_faults - before.minor_faults},
                 {"tokens", tokens},
                 {"tokens_per_s", tokens / wall},
                 {"forwards", figures.value("forwards", 0.0)}};
  if (!out_path.empty()) {
    json full = report;
    if (kind == "scoring") {
      // Grouped per context, as hf_bench.py writes them.
      json grouped = json::array();
      size_t at = 0;
      for (const json& w : work) {
        json row = json::array();
        for (size_t k = 0; k < w["continuations"].size(); ++k) row.push_back(results[at++]);
        grouped.push_back(row);
      }
      full["results"] = grouped;
    } else {
      full["results"] = results;
    }
    std::ofstream(out_path) << full.dump();
  }
  std::printf("%s\n", report.dump().c_str());
  return 0;
}
