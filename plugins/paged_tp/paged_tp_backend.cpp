// The paged_tp backend: a paged KV cache with exact prefix sharing and a
// continuous-batching scheduler (engine.h), planned before any weight is
// read (planner.h) and, on CUDA, measured at start-up (kv_profile.h); one
// rank, or tensor-parallel ranks (model_runner.h).
#include <ATen/Parallel.h>
#include <compass/plugin.hpp>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "answers.h"
#include "device_memory.h"
#include "engine.h"
#include "kv_profile.h"
#include "model_runner.h"
#include "models/causal_lm.h"
#include "models/nccl_communicator.h"
#include "models/paged_kv_cache.h"
#include "models/weights.h"
#include "options.h"
#include "planner.h"
#include "process_ranks.h"
#include "util/status_throw.h"
#include "util/strings.h"

namespace compass::paged_tp {
namespace {

using json = nlohmann::json;

class PagedTpBackend final : public sdk::Backend {
 public:
  static constexpr uint64_t capabilities =
      COMPASS_CAN_LOGLIKELIHOOD | COMPASS_CAN_GENERATE | COMPASS_CAN_SAMPLE;
  static compass_option_list options() {
    static const compass_option_spec specs[] = {
        sdk::option("tp", COMPASS_OPT_INT,
                    "tensor-parallel ranks, one per device of backend.devices (default 1)"),
        sdk::option("processes", COMPASS_OPT_BOOL,
                    "run the tp ranks as processes of a multi-process launch, one device each "
                    "(backend.devices[local rank]), instead of threads of one process (false)"),
        sdk::option("stages", COMPASS_OPT_INT,
                    "pipeline stages of tp ranks each, on devices s x tp.. (default 1; more "
                    "than one runs with processes = true)"),
        sdk::option("block_size", COMPASS_OPT_INT, "tokens per KV block, a power of two (16)"),
        sdk::option("memory_utilization", COMPASS_OPT_FLOAT,
                    "share of each device's memory for weights, activations and KV blocks (0.9)"),
        sdk::option("num_blocks", COMPASS_OPT_INT,
                    "KV blocks per rank, instead of what the memory budget allows"),
        sdk::option("max_num_seqs", COMPASS_OPT_INT, "sequences in one step at most (64)"),
        sdk::option("max_batched_tokens", COMPASS_OPT_INT, "tokens in one step at most (2048)"),
        sdk::option("prefix_caching", COMPASS_OPT_BOOL,
                    "share the KV blocks of common prompt prefixes (true)"),
        sdk::option("chunked_prefill", COMPASS_OPT_BOOL,
                    "split long prompts over several steps (true)"),
        sdk::option("cuda_reserve", COMPASS_OPT_STRING,
                    "memory kept free per GPU for the CUDA context and allocator (1GiB)"),
        sdk::option("threads", COMPASS_OPT_INT,
                    "CPU threads for libtorch, 0 to 4096 (0, the default: its own)")};
    return {specs, sizeof(specs) / sizeof(specs[0])};
  }

  PagedTpBackend(const sdk::Host& host, const compass_backend_config& config) : host_(host) {
    model_path_ = std::string(sdk::view(config.model_path));
    const json o = json::parse(sdk::view(config.options_json));
    config_ = ValueOrThrow(model::LoadModelConfig(model_path_));
    dtype_ = ValueOrThrow(model::ParseDType(sdk::view(config.dtype)));
    options_.tp = o.value("tp", int64_t{1});
    options_.stages = o.value("stages", int64_t{1});
    options_.block_size = o.value("block_size", options_.block_size);
    options_.memory_utilization = o.value("memory_utilization", options_.memory_utilization);
    options_.num_blocks = o.value("num_blocks", int64_t{0});
    // backend.batch_size, when set, bounds the sequences of a step.
    if (config.max_batch_size > 0) options_.max_num_seqs = config.max_batch_size;
    options_.max_num_seqs = o.value("max_num_seqs", options_.max_num_seqs);
    options_.max_batched_tokens = o.value("max_batched_tokens", options_.max_batched_tokens);
    options_.prefix_caching = o.value("prefix_caching", true);
    options_.chunked_prefill = o.value("chunked_prefill", true);
    if (o.contains("cuda_reserve")) {
      options_.cuda_reserve =
          backend_support::BytesOption(o["cuda_reserve"], "paged_tp", "cuda_reserve");
    }
    threads_ = backend_support::ThreadsOption(o, "paged_tp");
    for (uint64_t i = 0; i < config.num_devices; ++i) {
      const auto& d = *COMPASS_AT(compass_device_spec, config.devices, i);
      devices_.push_back({std::string(sdk::view(d.name)), d.memory_bytes});
      simulated_ = simulated_ || (d.flags & COMPASS_DEVICE_SIMULATED) != 0;
    }
    if (o.value("processes", false)) {
      // One copy: `stages` stages of `tp` ranks, each rank a process.
      ranks_ = backend_support::ProcessRanksOf(
          config, std::max<int64_t>(1, options_.tp) * std::max<int64_t>(1, options_.stages),
          "paged_tp", "processes = true");
      devices_ = ranks_->PlanDevices<DeviceInfo>();
    }
    max_length_ = static_cast<int64_t>(config.max_length);
    tokenizer_vocab_ = config.vocab_size;
    token_bytes_ = sdk::TokenBytes(config);
    plan_ = ValueOrThrow(PlanPaged(options_, config_, dtype_, devices_, max_length_));
    options_ = plan_.options;
  }

  void plan(const sdk::PlanSink& sink) override {
    const auto acc = model::AccountParameters(config_, dtype_);
    for (const RankPlan& r : plan_.ranks) {
      sink.placement(PlacementName(r.stage), r.device, r.weights);
      sink.device(r.device, r.capacity, r.weights, r.kv_bytes, r.activations + r.reserve);
    }
    const auto figures = sink.figures();
    figures.figure("tp", static_cast<double>(options_.tp), COMPASS_UNIT_COUNT);
    figures.figure("stages", static_cast<double>(options_.stages), COMPASS_UNIT_COUNT);
    figures.figure("kv_blocks", static_cast<double>(plan_.num_blocks), COMPASS_UNIT_COUNT);
    figures.figure("kv_tokens", static_cast<double>(plan_.num_blocks * options_.block_size),
                   COMPASS_UNIT_COUNT);
    figures.figure("block_size", static_cast<double>(options_.block_size), COMPASS_UNIT_COUNT);
    figures.figure("max_num_seqs", static_cast<double>(options_.max_num_seqs), COMPASS_UNIT_COUNT);
    figures.figure("max_batched_tokens", static_cast<double>(options_.max_batched_tokens),
                   COMPASS_UNIT_COUNT);
    figures.figure("max_length", static_cast<double>(max_length_), COMPASS_UNIT_COUNT);
    figures.figure("memory_utilization", options_.memory_utilization, COMPASS_UNIT_RATIO);
    figures.figure("weights", static_cast<double>(acc.total_bytes()), COMPASS_UNIT_BYTES);
    sink.verdict(plan_.fits, plan_.message);
  }

  uint32_t processes_per_model() override {
    return ranks_ ? static_cast<uint32_t>(ranks_->size) : 1;
  }

  void serve() override {
    if (!ranks_ || ranks_->rank == 0 || !runner_) {
      throw sdk::Error(COMPASS_INTERNAL,
                       "paged_tp: serve is for a loaded process other than its model copy's first");
    }
    static_cast<ProcessTensorParallelRunner&>(*runner_).Serve();
  }

  void load() override {
    if (!plan_.fits) throw sdk::Error(COMPASS_OUT_OF_MEMORY, plan_.message);
    if (simulated_) {
      throw sdk::Error(COMPASS_INVALID_ARGUMENT, "simulated devices can be planned, not loaded");
    }
    if (options_.stages > 1 && !ranks_) {
      throw sdk::Error(COMPASS_UNSUPPORTED,
                       "paged_tp: stages = " + std::to_string(options_.stages) +
                           " runs only with processes = true (each rank of each stage a process "
                           "of a multi-process launch); set processes = true and launch tp x "
                           "stages processes, or set stages = 1 (docs/scale-out.md)");
    }
    backend_support::ResetDevicePeaks(UsedDevices());
    std::vector<c10::Device> devices;
    for (int64_t r = 0; r < (ranks_ ? 1 : options_.tp); ++r) {
      const std::string& name = ranks_ ? ranks_->device : devices_[r].name;
      if (options_.tp > 1 && name.rfind("cpu", 0) != 0 && !model::NcclBuilt()) {
        throw sdk::Error(COMPASS_UNSUPPORTED,
                         "paged_tp: tp = " + std::to_string(options_.tp) + " on " + name +
                             " needs NCCL, which this build of Compass lacks (CMake looks for "
                             "nccl.h and libnccl beside the torch wheel and the CUDA toolkit); "
                             "tensor parallelism runs on cpu:N ranks, or set tp = 1");
      }
      devices.push_back(backend_support::TorchDevice(name));
    }
    if (threads_ > 0) at::set_num_threads(threads_);
    host_.check_cancelled();
    const auto start = std::chrono::steady_clock::now();
    const auto weights = ValueOrThrow(model::ModelWeights::Open(model_path_));
    const c10::ScalarType dtype = model::ToScalarType(dtype_);
    // CUDA ranks measure their KV budget with the weights loaded: they start
    // with just the blocks of the worst-case step.
    const bool measure = devices.front().is_cuda();
    const int64_t initial_blocks = measure ? ProfileBlocks(plan_) : plan_.num_blocks;
    if (ranks_) {
      auto copy = ranks_->Connect(devices.front(), host_, "rank");
      std::unique_ptr<model::ProcessCommunicator> stage_ranks;
      if (options_.stages > 1) {
        const int64_t stage = ranks_->rank / options_.tp;
        stage_ranks =
            ranks_
                ->Subgroup("stage" + std::to_string(stage), ranks_->rank % options_.tp, options_.tp)
                .Connect(devices.front(), host_, "stage " + std::to_string(stage) + " rank");
      }
      runner_ = ValueOrThrow(ProcessTensorParallelRunner::Load(
          weights, std::move(copy), std::move(stage_ranks), plan_.stage_layers, devices.front(),
          dtype, initial_blocks, options_.block_size));
      if (ranks_->rank != 0) {
        // It computes what the driver asks, in serve.
        load_seconds_ =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return;
      }
    } else if (options_.tp == 1) {
      auto lm = ValueOrThrow(model::CausalLM::Load(weights, {devices.front(), dtype}));
      runner_ =
          std::make_unique<SingleDeviceRunner>(std::move(lm), initial_blocks, options_.block_size);
    } else {
      runner_ = ValueOrThrow(
          TensorParallelRunner::Load(weights, devices, dtype, initial_blocks, options_.block_size));
    }
    if (measure) {
      const int64_t estimated = plan_.num_blocks;
      plan_.num_blocks = ValueOrThrow(ProfileKvBlocks(*runner_, plan_));
      runner_->AllocateKv(plan_.num_blocks);
      host_.info("KV blocks per rank measured: " + std::to_string(plan_.num_blocks) +
                 " (the plan estimated " + std::to_string(estimated) + ")");
    }
    EngineOptions e;
    e.max_length = max_length_;
    e.generate_vocab = tokenizer_vocab_;
    e.num_blocks = plan_.num_blocks;
    e.block_size = options_.block_size;
    e.prefix_caching = options_.prefix_caching;
    e.scheduler.max_num_seqs = options_.max_num_seqs;
    e.scheduler.max_batched_tokens = options_.max_batched_tokens;
    e.scheduler.chunked_prefill = options_.chunked_prefill;
    engine_.emplace(*runner_, host_, token_bytes_, e);
    load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    host_.info("loaded " + model_path_ + " in " + std::to_string(load_seconds_) + " s (" +
               model::DTypeName(dtype_) + ", " + std::to_string(plan_.num_blocks) +
               " KV blocks of " + std::to_string(options_.block_size) + " tokens per rank)");
  }

  void execute(const sdk::Requests& requests, const sdk::ResponseSink& sink) override {
    if (!engine_) throw sdk::Error(COMPASS_INTERNAL, "paged_tp: requests before load()");
    engine_->Execute(requests, sink);
  }

  void figures(const sdk::FigureSink& sink) override {
    sink.figure("load_seconds", load_seconds_, COMPASS_UNIT_SECONDS);
    if (!engine_) return;
    const EngineStats& s = engine_->stats();
    sink.figure("forward_seconds", s.prefill_seconds + s.decode_seconds, COMPASS_UNIT_SECONDS);
    sink.figure("steps", static_cast<double>(s.steps), COMPASS_UNIT_COUNT);
    sink.figure("prefill_tokens_requested", static_cast<double>(s.prompt_tokens_requested),
                COMPASS_UNIT_COUNT);
    sink.figure("prefill_tokens_computed", static_cast<double>(s.prompt_tokens_computed),
                COMPASS_UNIT_COUNT);
    if (s.prompt_tokens_requested > 0) {
      sink.figure("prefix_hit_ratio",
                  1.0 - static_cast<double>(s.prompt_tokens_computed) /
                            static_cast<double>(s.prompt_tokens_requested),
                  COMPASS_UNIT_RATIO);
    }
    sink.figure("decode_tokens", static_cast<double>(s.decode_tokens), COMPASS_UNIT_COUNT);
    if (s.prefill_seconds > 0) {
      sink.figure("prefill_tokens_per_s",
                  static_cast<double>(s.prompt_tokens_computed) / s.prefill_seconds,
                  COMPASS_UNIT_PER_SECOND);
    }
    if (s.decode_seconds > 0) {
      sink.figure("decode_tokens_per_s", static_cast<double>(s.decode_tokens) / s.decode_seconds,
                  COMPASS_UNIT_PER_SECOND);
    }
    sink.figure("shared_context_requests", static_cast<double>(s.shared_contexts),
                COMPASS_UNIT_COUNT);
    sink.figure("preemptions", static_cast<double>(s.preemptions), COMPASS_UNIT_COUNT);
    sink.figure("peak_blocks", static_cast<double>(s.peak_blocks), COMPASS_UNIT_COUNT);
    sink.figure("kv_blocks", static_cast<double>(plan_.num_blocks), COMPASS_UNIT_COUNT);
    backend_support::DevicePeakFigures(UsedDevices(), sink);
  }

 private:
  // "model", "model (rank of 4)", "layers 0-62 (stage 0, rank of 8)".
  std::string PlacementName(int64_t stage) const {
    const std::string rank = options_.tp == 1 ? "" : "rank of " + std::to_string(options_.tp);
    if (options_.stages == 1) return rank.empty() ? "model" : "model (" + rank + ")";
    const auto [begin, end] = plan_.stage_layers[static_cast<size_t>(stage)];
    return "layers " + std::to_string(begin) + "-" + std::to_string(end - 1) + " (stage " +
           std::to_string(stage) + (rank.empty() ? "" : ", " + rank) + ")";
  }
  std::vector<std::string> UsedDevices() const {
    if (ranks_) return {ranks_->device};
    std::vector<std::string> out;
    for (const RankPlan& r : plan_.ranks) out.push_back(r.device);
    return out;
  }
  sdk::Host host_;
  std::string model_path_;
  model::ModelConfig config_;
  model::DType dtype_ = model::DType::kF32;
  PagedOptions options_;
  std::vector<DeviceInfo> devices_;
  bool simulated_ = false;
  int threads_ = 0;
  int64_t max_length_ = 0;
  int64_t tokenizer_vocab_ = 0;
  sdk::TokenBytes token_bytes_;
  PagedPlan plan_;
  double load_seconds_ = 0;
  std::unique_ptr<ModelRunner> runner_;
  // Set when the tp ranks are processes (processes = true).
  std::optional<backend_support::ProcessRanks> ranks_;
  std::optional<Engine> engine_;
};

}  // namespace
}  // namespace compass::paged_tp

COMPASS_EXPORT_BACKEND(compass::paged_tp::PagedTpBackend, "paged_tp", "0.1.0",
                       "Paged KV cache with exact prefix sharing, continuous batching and "
                       "tensor parallelism")
