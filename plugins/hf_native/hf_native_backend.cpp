// The hf_native backend: what device_map="auto" does, done right. Whole
// decoder layers are placed on devices by a plan computed from config.json
// before any weight is read (device_map.h); the model runs as placed
// (placed_model.h); requests are served in padded batches (engine.h).
#include <ATen/Parallel.h>
#include <compass/plugin.hpp>

#include <malloc.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "device_map.h"
#include "device_memory.h"
#include "engine.h"
#include "models/weights.h"
#include "options.h"
#include "placed_model.h"
#include "util/status_throw.h"
#include "util/strings.h"

namespace compass::hf_native {
namespace {

using json = nlohmann::json;

// On CPU devices every forward allocates and frees activations of a few
// MiB to tens of MiB. With glibc's defaults those go back to the kernel
// (mmap above a threshold that adapts, heap trimming above twice it), so
// the next forward faults the same pages in again: on the benchmark's
// scoring workload at batch 1, 17 thousand minor faults per forward and
// system time 12 % of user time (bench/hf_native). With the mmap threshold
// at its maximum (32 MiB on 64-bit) and the heap trimmed only past 1 GiB
// free, freed activations are reused: 8 thousand faults in all, system
// time under 1 %. Process-wide, as malloc is; larger blocks are still
// mapped per use.
void KeepFreedActivationsForReuse() {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

std::string LayerRange(int64_t a, int64_t b) {
  return "model.layers." + std::to_string(a) + (a == b ? "" : "-" + std::to_string(b));
}

class HfNativeBackend final : public sdk::Backend {
 public:
  static constexpr uint64_t capabilities =
      COMPASS_CAN_LOGLIKELIHOOD | COMPASS_CAN_GENERATE | COMPASS_CAN_SAMPLE;
  static compass_option_list options() {
    static const compass_option_spec specs[] = {
        sdk::option("device_map", COMPASS_OPT_ANY,
                    "auto | balanced | balanced_low_0 | sequential, or a table module -> device "
                    "(model.embed_tokens, model.norm, lm_head, model.layers.N or A-B)"),
        sdk::option("max_memory", COMPASS_OPT_TABLE,
                    "per-device memory cap, e.g. { \"cuda:0\" = \"40GiB\" }"),
        sdk::option("offload", COMPASS_OPT_BOOL,
                    "layers that do not fit on the devices run on the host (cpu)"),
        sdk::option("cuda_reserve", COMPASS_OPT_STRING,
                    "memory kept free per GPU for the CUDA context and allocator (default 1GiB)"),
        sdk::option("threads", COMPASS_OPT_INT,
                    "CPU threads for libtorch, 0 to 4096 (0, the default: its own)")};
    return {specs, sizeof(specs) / sizeof(specs[0])};
  }

  HfNativeBackend(const sdk::Host& host, const compass_backend_config& config) : host_(host) {
    model_path_ = std::string(sdk::view(config.model_path));
    const json options = json::parse(sdk::view(config.options_json));
    PlanRequest r;
    r.config = ValueOrThrow(model::LoadModelConfig(model_path_));
    r.dtype = ValueOrThrow(model::ParseDType(sdk::view(config.dtype)));
    for (uint64_t i = 0; i < config.num_devices; ++i) {
      const auto& d = *COMPASS_AT(compass_device_spec, config.devices, i);
      r.devices.push_back({std::string(sdk::view(d.name)), std::string(sdk::view(d.model)),
                           d.memory_bytes, (d.flags & COMPASS_DEVICE_BF16) != 0,
                           (d.flags & COMPASS_DEVICE_FP16) != 0});
      simulated_ = simulated_ || (d.flags & COMPASS_DEVICE_SIMULATED) != 0;
    }
    if (options.contains("device_map")) {
      const json& m = options["device_map"];
      if (m.is_string()) {
        r.strategy = ValueOrThrow(ParseStrategy(m.get<std::string>()));
      } else if (m.is_object()) {
        r.strategy = Strategy::kExplicit;
        for (const auto& [module, device] : m.items()) {
          if (!device.is_string()) {
            throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                             "device_map: '" + module + "' must map to a device name string");
          }
          r.explicit_map[module] = device.get<std::string>();
        }
      } else {
        throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                         "device_map must be a strategy name or a table module -> device");
      }
    }
    if (options.contains("max_memory")) {
      for (const auto& [device, size] : options["max_memory"].items()) {
        r.max_memory[device] =
            backend_support::BytesOption(size, "hf_native", "max_memory." + device);
      }
    }
    r.offload = options.value("offload", false);
    r.host_memory = config.host_memory_bytes;
    r.max_length = static_cast<int64_t>(config.max_length);
    if (options.contains("cuda_reserve")) {
      r.cuda_reserve =
          backend_support::BytesOption(options["cuda_reserve"], "hf_native", "cuda_reserve");
    }
    r.batch_size = config.max_batch_size;
    threads_ = backend_support::ThreadsOption(options, "hf_native");
    tokenizer_vocab_ = config.vocab_size;
    token_bytes_ = sdk::TokenBytes(config);
    plan_ = ValueOrThrow(PlanDeviceMap(r));
    request_ = std::move(r);
  }

  void plan(const sdk::PlanSink& sink) override {
    sink.placement("model.embed_tokens", plan_.head_device,
                   model::AccountParameters(request_.config, plan_.dtype).embed_tokens_bytes());
    for (size_t a = 0; a < plan_.layer_device.size();) {
      size_t b = a;
      uint64_t bytes = 0;
      const auto acc = model::AccountParameters(request_.config, plan_.dtype);
      while (b < plan_.layer_device.size() && plan_.layer_device[b] == plan_.layer_device[a]) {
        bytes += acc.layer_bytes(b);
        ++b;
      }
      if (!plan_.layer_device[a].empty()) {
        sink.placement(LayerRange(static_cast<int64_t>(a), static_cast<int64_t>(b - 1)),
                       plan_.layer_device[a], bytes);
      }
      a = b;
    }
    const auto acc = model::AccountParameters(request_.config, plan_.dtype);
    sink.placement("model.norm", plan_.head_device, acc.norm_bytes());
    sink.placement(request_.config.tie_word_embeddings ? "lm_head (tied)" : "lm_head",
                   plan_.head_device, acc.lm_head_bytes());
    for (const auto& u : plan_.devices) {
      sink.device(u.device, u.capacity, u.weights, u.cache, u.activations + u.reserve);
    }
    const auto figures = sink.figures();
    figures.figure("batch_size", plan_.batch_size, COMPASS_UNIT_COUNT);
    figures.figure("max_length", static_cast<double>(plan_.max_length), COMPASS_UNIT_COUNT);
    figures.figure("weights", static_cast<double>(acc.total_bytes()), COMPASS_UNIT_BYTES);
    figures.figure("kv_cache_per_token", static_cast<double>(acc.kv_cache_bytes_per_token),
                   COMPASS_UNIT_BYTES);
    sink.verdict(plan_.fits, plan_.message);
  }

  void load() override {
    if (!plan_.fits) throw sdk::Error(COMPASS_OUT_OF_MEMORY, plan_.message);
    if (simulated_) {
      throw sdk::Error(COMPASS_INVALID_ARGUMENT, "simulated devices can be planned, not loaded");
    }
    for (const auto& note : plan_.notes) host_.warn(note);
    if (threads_ > 0) at::set_num_threads(threads_);
    const bool on_cpu = plan_.head_device.rfind("cpu", 0) == 0 ||
                        std::any_of(plan_.layer_device.begin(), plan_.layer_device.end(),
                                    [](const std::string& d) { return d.rfind("cpu", 0) == 0; });
    if (on_cpu) KeepFreedActivationsForReuse();
    backend_support::ResetDevicePeaks(UsedDevices());
    host_.check_cancelled();
    const auto start = std::chrono::steady_clock::now();
    const auto weights = ValueOrThrow(model::ModelWeights::Open(model_path_));
    // Progress in bytes after every layer; a stop asked for ends the load
    // there (COMPASS_CANCELLED).
    const auto progress = [this](uint64_t done, uint64_t total) {
      host_.progress(done, total, 0);
      return !host_.cancelled();
    };
    model_.emplace(PlacedModel::Load(weights, model::ToScalarType(plan_.dtype), plan_.head_device,
                                     plan_.layer_device, model::AttentionImpl::kSdpa, progress));
    load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    engine_.emplace(*model_, host_, token_bytes_, plan_.batch_size, plan_.max_length,
                    tokenizer_vocab_);
    host_.info("loaded " + model_path_ + " in " + std::to_string(load_seconds_) + " s (" +
               model::DTypeName(plan_.dtype) + ", batch " + std::to_string(plan_.batch_size) + ")");
  }

  void execute(const sdk::Requests& requests, const sdk::ResponseSink& sink) override {
    Ready().Execute(requests, sink);
  }

  void figures(const sdk::FigureSink& sink) override {
    sink.figure("load_seconds", load_seconds_, COMPASS_UNIT_SECONDS);
    if (!engine_) return;
    const auto& s = engine_->stats();
    sink.figure("forward_seconds", s.seconds, COMPASS_UNIT_SECONDS);
    sink.figure("forwards", static_cast<double>(s.forwards), COMPASS_UNIT_COUNT);
    sink.figure("tokens", static_cast<double>(s.tokens), COMPASS_UNIT_COUNT);
    sink.figure("computed_tokens", static_cast<double>(s.computed_tokens), COMPASS_UNIT_COUNT);
    if (s.seconds > 0) {
      sink.figure("tokens_per_s", static_cast<double>(s.tokens) / s.seconds,
                  COMPASS_UNIT_PER_SECOND);
    }
    sink.figure("shared_context_requests", static_cast<double>(s.shared_contexts),
                COMPASS_UNIT_COUNT);
    sink.figure("device_transfers", static_cast<double>(model_->transfers()), COMPASS_UNIT_COUNT);
    sink.figure("batch_size", plan_.batch_size, COMPASS_UNIT_COUNT);
    for (const auto& u : plan_.devices) {
      if (u.weights > 0) {
        sink.figure("weights", static_cast<double>(u.weights), COMPASS_UNIT_BYTES, u.device);
      }
    }
    backend_support::DevicePeakFigures(UsedDevices(), sink);
  }

 private:
  std::vector<std::string> UsedDevices() const {
    std::vector<std::string> out;
    for (const auto& u : plan_.devices) out.push_back(u.device);
    return out;
  }

  Engine& Ready() {
    if (!engine_) throw sdk::Error(COMPASS_INTERNAL, "hf_native: requests before load()");
    return *engine_;
  }

  sdk::Host host_;
  std::string model_path_;
  PlanRequest request_;
  DevicePlan plan_;
  bool simulated_ = false;
  int threads_ = 0;
  int64_t tokenizer_vocab_ = 0;
  sdk::TokenBytes token_bytes_;
  double load_seconds_ = 0;
  std::optional<PlacedModel> model_;
  std::optional<Engine> engine_;
};

}  // namespace
}  // namespace compass::hf_native

COMPASS_EXPORT_BACKEND(compass::hf_native::HfNativeBackend, "hf_native", "0.1.0",
                       "Whole decoder layers placed on cpu/cpu:N/cuda:N devices by a plan made "
                       "before loading (the reference backend)")
