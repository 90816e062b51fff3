// The pipeline backend: the decoder layers split into contiguous stages, one
// per device (planner.h, before any weight is read), each stage driven by
// its own worker thread with bounded queues between them (stage_workers.h),
// requests flowing as micro-batches (engine.h), and the bubble measured
// next to the ideal (p - 1) / (m + p - 1).
#include <ATen/Parallel.h>
#include <compass/plugin.hpp>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>

#include "answers.h"
#include "device_memory.h"
#include "engine.h"
#include "models/weights.h"
#include "options.h"
#include "planner.h"
#include "process_ranks.h"
#include "remote_stages.h"
#include "stage_workers.h"
#include "util/status_throw.h"
#include "util/strings.h"

namespace compass::pipeline {
namespace {

using json = nlohmann::json;

class PipelineBackend final : public sdk::Backend {
 public:
  static constexpr uint64_t capabilities =
      COMPASS_CAN_LOGLIKELIHOOD | COMPASS_CAN_GENERATE | COMPASS_CAN_SAMPLE;
  static compass_option_list options() {
    static const compass_option_spec specs[] = {
        sdk::option("stages", COMPASS_OPT_INT,
                    "pipeline stages, one per device of backend.devices (default: every device)"),
        sdk::option("processes", COMPASS_OPT_BOOL,
                    "run the stages as processes of a multi-process launch, one device each "
                    "(backend.devices[local rank]), instead of threads of one process (false)"),
        sdk::option("split", COMPASS_OPT_STRING,
                    "how layers are split: \"layers\" (equal counts, default) or \"bytes\" "
                    "(balance weight bytes)"),
        sdk::option("stage_layers", COMPASS_OPT_STRING,
                    "explicit layers per stage, e.g. \"0-11,12-29\" (overrides split)"),
        sdk::option("micro_batch_size", COMPASS_OPT_INT,
                    "rows per micro-batch (default backend.batch_size, else 8)"),
        sdk::option("micro_batches", COMPASS_OPT_INT,
                    "micro-batches in flight at once, at least one per stage for generation "
                    "(default 2 x stages)"),
        sdk::option("cuda_reserve", COMPASS_OPT_STRING,
                    "memory kept free per GPU for the CUDA context and allocator (1GiB)"),
        sdk::option("threads", COMPASS_OPT_INT,
                    "CPU threads for libtorch, 0 to 4096 (0, the default: its own)"),
        sdk::option("debug_fail_stage", COMPASS_OPT_INT,
                    "fault tests only: this stage throws on a micro-batch"),
        sdk::option("debug_fail_after", COMPASS_OPT_INT,
                    "fault tests only: micro-batches the failing stage computes first (0)")};
    return {specs, sizeof(specs) / sizeof(specs[0])};
  }

  PipelineBackend(const sdk::Host& host, const compass_backend_config& config) : host_(host) {
    model_path_ = std::string(sdk::view(config.model_path));
    const json o = json::parse(sdk::view(config.options_json));
    config_ = ValueOrThrow(model::LoadModelConfig(model_path_));
    dtype_ = ValueOrThrow(model::ParseDType(sdk::view(config.dtype)));
    PipelineOptions options;
    options.stages = o.value("stages", int64_t{0});
    if (o.contains("stage_layers")) {
      options.split = SplitRule::kExplicit;
      options.explicit_layers =
          ValueOrThrow(ParseStageLayers(o["stage_layers"].get<std::string>()));
    } else if (o.contains("split")) {
      options.split = ValueOrThrow(ParseSplitRule(o["split"].get<std::string>()));
    }
    options.micro_batch_size = o.value("micro_batch_size", int64_t{0});
    options.micro_batches = o.value("micro_batches", int64_t{0});
    if (o.contains("cuda_reserve")) {
      options.cuda_reserve =
          backend_support::BytesOption(o["cuda_reserve"], "pipeline", "cuda_reserve");
    }
    threads_ = backend_support::ThreadsOption(o, "pipeline");
    fault_.stage = o.value("debug_fail_stage", int64_t{-1});
    fault_.after = o.value("debug_fail_after", int64_t{0});
    std::vector<DeviceInfo> devices;
    for (uint64_t i = 0; i < config.num_devices; ++i) {
      const auto& d = *COMPASS_AT(compass_device_spec, config.devices, i);
      devices.push_back({std::string(sdk::view(d.name)), d.memory_bytes});
      simulated_ = simulated_ || (d.flags & COMPASS_DEVICE_SIMULATED) != 0;
    }
    if (o.value("processes", false)) {
      if (options.stages < 1) {
        throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                         "pipeline: processes = true needs stages = N, the processes of one model "
                         "copy (docs/scale-out.md)");
      }
      ranks_ =
          backend_support::ProcessRanksOf(config, options.stages, "pipeline", "processes = true");
      devices = ranks_->PlanDevices<DeviceInfo>();
    }
    max_length_ = static_cast<int64_t>(config.max_length);
    tokenizer_vocab_ = config.vocab_size;
    token_bytes_ = sdk::TokenBytes(config);
    plan_ = ValueOrThrow(PlanPipeline(options, config_, dtype_, devices, max_length_,
                                      static_cast<int64_t>(config.max_batch_size)));
  }

  void plan(const sdk::PlanSink& sink) override {
    for (size_t i = 0; i < plan_.stages.size(); ++i) {
      const StagePlan& s = plan_.stages[i];
      std::string what = "stage " + std::to_string(i) + ": ";
      if (s.embedding) what += "embed_tokens, ";
      what += "layers " + std::to_string(s.begin) + "-" + std::to_string(s.end - 1);
      if (s.head) what += s.tied_head_copy ? ", norm, lm_head (tied copy)" : ", norm, lm_head";
      sink.placement(what, s.device, s.weights);
      sink.device(s.device, s.capacity, s.weights, s.kv_bytes, s.activations + s.reserve);
    }
    const auto figures = sink.figures();
    figures.figure("stages", static_cast<double>(plan_.stages.size()), COMPASS_UNIT_COUNT);
    figures.figure("micro_batch_size", static_cast<double>(plan_.options.micro_batch_size),
                   COMPASS_UNIT_COUNT);
    figures.figure("micro_batches", static_cast<double>(plan_.options.micro_batches),
                   COMPASS_UNIT_COUNT);
    figures.figure("bubble_ideal", plan_.ideal_bubble, COMPASS_UNIT_RATIO);
    std::string message = plan_.message;
    for (const std::string& note : plan_.notes) message += (message.empty() ? "" : "; ") + note;
    sink.verdict(plan_.fits, message);
  }

  void load() override {
    if (!plan_.fits) throw sdk::Error(COMPASS_OUT_OF_MEMORY, plan_.message);
    if (simulated_) {
      throw sdk::Error(COMPASS_INVALID_ARGUMENT, "simulated devices can be planned, not loaded");
    }
    if (threads_ > 0) at::set_num_threads(threads_);
    backend_support::ResetDevicePeaks(UsedDevices());
    host_.check_cancelled();
    const auto start = std::chrono::steady_clock::now();
    const auto weights = ValueOrThrow(model::ModelWeights::Open(model_path_));
    const c10::ScalarType dtype = model::ToScalarType(dtype_);
    std::vector<model::Stage> stages;
    for (size_t k = 0; k < plan_.stages.size(); ++k) {
      // A process of a copy whose stages are processes loads its own.
      if (ranks_ && static_cast<int64_t>(k) != ranks_->rank) continue;
      const StagePlan& s = plan_.stages[k];
      host_.check_cancelled();
      model::StageSpec spec;
      spec.begin = s.begin;
      spec.end = s.end;
      spec.embedding = s.embedding;
      spec.head = s.head;
      const std::string& device = ranks_ ? ranks_->device : s.device;
      spec.placement = {backend_support::TorchDevice(device), dtype};
      spec.device_name = device;
      stages.push_back(ValueOrThrow(model::Stage::Load(weights, spec)));
    }
    std::unique_ptr<RemoteStages> remote;
    if (ranks_) {
      const c10::Device device = stages.front().device();
      comm_ = ranks_->Connect(device, host_, "stage");
      if (ranks_->rank != 0) {
        // It computes its stage of what the first process hands on, in serve.
        stage_.emplace(std::move(stages.front()));
        load_seconds_ =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return;
      }
      remote = std::make_unique<ProcessRemoteStages>(comm_, device);
    }
    workers_.emplace(std::move(stages), plan_.options.micro_batches, fault_, std::move(remote));
    EngineOptions e;
    e.micro_batch_size = plan_.options.micro_batch_size;
    e.micro_batches = std::max<int64_t>(plan_.options.micro_batches, 1);
    e.max_length = max_length_;
    e.generate_vocab = tokenizer_vocab_;
    engine_.emplace(*workers_, host_, token_bytes_, e);
    load_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::string layout;
    for (size_t i = 0; i < plan_.stages.size(); ++i) {
      if (ranks_ && i > 1) break;  // the remote worker describes them all
      layout += (i ? ", " : "") + workers_->Describe(i);
    }
    host_.info("loaded " + model_path_ + " in " + std::to_string(load_seconds_) + " s (" +
               model::DTypeName(dtype_) + "): " + layout);
  }

  uint32_t processes_per_model() override {
    return ranks_ ? static_cast<uint32_t>(ranks_->size) : 1;
  }

  void serve() override {
    if (!stage_ || !comm_) {
      throw sdk::Error(COMPASS_INTERNAL,
                       "pipeline: serve is for a loaded process other than its model copy's first");
    }
    ServeStage(*stage_, *comm_);
  }

  void execute(const sdk::Requests& requests, const sdk::ResponseSink& sink) override {
    if (!engine_) throw sdk::Error(COMPASS_INTERNAL, "pipeline: requests before load()");
    engine_->Execute(requests, sink);
  }

  void figures(const sdk::FigureSink& sink) override {
    sink.figure("load_seconds", load_seconds_, COMPASS_UNIT_SECONDS);
    sink.figure("stages", static_cast<double>(plan_.stages.size()), COMPASS_UNIT_COUNT);
    sink.figure("micro_batch_size", static_cast<double>(plan_.options.micro_batch_size),
                COMPASS_UNIT_COUNT);
    sink.figure("micro_batches_in_flight", static_cast<double>(plan_.options.micro_batches),
                COMPASS_UNIT_COUNT);
    if (!engine_) return;
    const EngineStats& s = engine_->stats();
    const int64_t p = static_cast<int64_t>(plan_.stages.size());
    sink.figure("forward_seconds", s.scoring_seconds + s.generation_seconds, COMPASS_UNIT_SECONDS);
    sink.figure("prompt_tokens", static_cast<double>(s.prompt_tokens), COMPASS_UNIT_COUNT);
    sink.figure("decode_tokens", static_cast<double>(s.decode_tokens), COMPASS_UNIT_COUNT);
    sink.figure("shared_context_requests", static_cast<double>(s.shared_contexts),
                COMPASS_UNIT_COUNT);
    if (s.generation_seconds > 0 && s.decode_tokens > 0) {
      sink.figure("decode_tokens_per_s",
                  static_cast<double>(s.decode_tokens) / s.generation_seconds,
                  COMPASS_UNIT_PER_SECOND);
    }
    const struct {
      const char* name;
      const PhaseFigures& phase;
    } phases[] = {{"scoring", s.scoring}, {"generation", s.generation}};
    for (const auto& [name, phase] : phases) {
      if (phase.stats.micro_batches == 0) continue;
      const std::string prefix = std::string(name) + "_";
      sink.figure(prefix + "micro_batches", static_cast<double>(phase.stats.micro_batches),
                  COMPASS_UNIT_COUNT);
      sink.figure(prefix + "span_seconds", phase.stats.span, COMPASS_UNIT_SECONDS);
      sink.figure(prefix + "bubble", phase.stats.bubble(), COMPASS_UNIT_RATIO);
      // The ideal for the micro-batches of one call (fill and drain once).
      const int64_t m =
          static_cast<int64_t>(phase.stats.micro_batches / std::max<uint64_t>(1, phase.phases));
      sink.figure(prefix + "bubble_ideal", IdealBubble(p, m), COMPASS_UNIT_RATIO);
      for (size_t i = 0; i < phase.stats.stages.size(); ++i) {
        const StageTimes& t = phase.stats.stages[i];
        const std::string scope =
            "stage " + std::to_string(i) + " (" + plan_.stages[i].device + ")";
        sink.figure(prefix + "busy_seconds", t.busy, COMPASS_UNIT_SECONDS, scope);
        sink.figure(prefix + "wait_input_seconds", t.wait_input, COMPASS_UNIT_SECONDS, scope);
        sink.figure(prefix + "wait_output_seconds", t.wait_output, COMPASS_UNIT_SECONDS, scope);
      }
    }
    backend_support::DevicePeakFigures(UsedDevices(), sink);
  }

 private:
  std::vector<std::string> UsedDevices() const {
    if (ranks_) return {ranks_->device};
    std::vector<std::string> out;
    for (const StagePlan& s : plan_.stages) out.push_back(s.device);
    return out;
  }
  sdk::Host host_;
  std::string model_path_;
  model::ModelConfig config_;
  model::DType dtype_ = model::DType::kF32;
  PipelinePlan plan_;
  FaultInjection fault_;
  bool simulated_ = false;
  int threads_ = 0;
  int64_t max_length_ = 0;
  int64_t tokenizer_vocab_ = 0;
  sdk::TokenBytes token_bytes_;
  double load_seconds_ = 0;
  // Set when the stages are processes (processes = true): this process's
  // place, its link to the others and, on a process other than the first,
  // the stage it serves.
  std::optional<backend_support::ProcessRanks> ranks_;
  std::shared_ptr<model::ProcessCommunicator> comm_;
  std::optional<model::Stage> stage_;
  std::optional<StageWorkers> workers_;
  std::optional<Engine> engine_;
};

}  // namespace
}  // namespace compass::pipeline

COMPASS_EXPORT_BACKEND(compass::pipeline::PipelineBackend, "pipeline", "0.1.0",
                       "Contiguous layer stages on devices, one worker each, with micro-batches "
                       "in flight and the bubble measured")
