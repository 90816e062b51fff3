#include "plugin_host/plugin_instances.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "plugin_host/plugin_call.h"
#include "util/strings.h"

namespace compass {
namespace {

std::string Str(compass_str s) {
  return s.size ? std::string(s.data, s.size) : "";
}

// Prefixes a plugin's error with what was called, keeping its code.
Status FromPlugin(compass_status* status, const PluginRecord& record, const char* call) {
  Status s = FromAbiStatus(status);
  if (s.ok()) return s;
  return s.WithContext(std::string(PluginKindName(record.kind)) + " '" + record.name + "' " + call);
}

// Serialises sink callbacks from plugin threads and keeps the first
// exception a host callback threw, so none crosses back into the plugin.
struct SinkState {
  std::mutex mu;
  std::string error;
  template <typename Fn>
  void Run(Fn&& fn) {
    std::lock_guard<std::mutex> lock(mu);
    if (!error.empty()) return;
    try {
      fn();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  Status Finish(Status call_status) {
    if (!call_status.ok()) return call_status;
    if (!error.empty()) return Internal("while storing a result: " + error);
    return Status::Ok();
  }
};

// Calls a plugin's create and wraps the handle it returns.
template <typename Instance, typename Opaque, typename CreateFn>
StatusOr<std::unique_ptr<Instance>> CreateInstance(const PluginRecord& record, CreateFn create) {
  Opaque* handle = nullptr;
  const PluginCallScope scope(record, "create");
  Status s = FromPlugin(create(&handle), record, "create");
  if (!s.ok()) return s;
  if (handle == nullptr) {
    return Internal(std::string(PluginKindName(record.kind)) + " '" + record.name +
                    "' create returned no object");
  }
  return std::make_unique<Instance>(record, handle);
}

}  // namespace

std::string Figure::Format() const {
  char buf[64];
  switch (unit) {
    case COMPASS_UNIT_BYTES: return FormatBytes(static_cast<uint64_t>(value));
    case COMPASS_UNIT_SECONDS: std::snprintf(buf, sizeof buf, "%.3f s", value); break;
    case COMPASS_UNIT_RATIO: std::snprintf(buf, sizeof buf, "%.1f %%", value * 100.0); break;
    case COMPASS_UNIT_PER_SECOND: std::snprintf(buf, sizeof buf, "%.1f /s", value); break;
    default: std::snprintf(buf, sizeof buf, "%.6g", value); break;
  }
  return buf;
}

// ----------------------------------------------------------------- backend --

StatusOr<std::unique_ptr<BackendInstance>> BackendInstance::Create(
    const PluginRecord& record, PluginHost& host, const compass_backend_config& config) {
  return CreateInstance<BackendInstance, compass_backend>(record, [&](compass_backend** out) {
    return record.backend.create(host.ServicesFor(record.name), &config, out);
  });
}

BackendInstance::~BackendInstance() {
  const PluginCallScope scope(record_, "destroy");
  record_.backend.destroy(handle_);
}

Status BackendInstance::Unsupported(const char* what) const {
  return compass::Unsupported("backend '" + record_.name + "' does not support " + what);
}

StatusOr<PlanResult> BackendInstance::Plan() {
  if (!record_.backend.plan) return Unsupported("planning");
  PlanResult result;
  compass_plan_sink sink{};
  sink.ctx = &result;
  sink.placement = [](void* ctx, const compass_placement* p) {
    static_cast<PlanResult*>(ctx)->placements.push_back({Str(p->module), Str(p->device), p->bytes});
  };
  sink.device = [](void* ctx, const compass_device_plan* d) {
    static_cast<PlanResult*>(ctx)->devices.push_back(
        {Str(d->device), d->capacity_bytes, d->weight_bytes, d->cache_bytes, d->activation_bytes});
  };
  sink.verdict = [](void* ctx, int32_t fits, compass_str message) {
    auto* r = static_cast<PlanResult*>(ctx);
    r->fits = fits != 0;
    r->message = Str(message);
  };
  sink.figures.ctx = &result;
  sink.figures.figure = [](void* ctx, const compass_figure* f) {
    static_cast<PlanResult*>(ctx)->figures.push_back(
        {Str(f->name), Str(f->scope), f->value, static_cast<compass_unit>(f->unit)});
  };
  const PluginCallScope scope(record_, "plan");
  COMPASS_RETURN_IF_ERROR(FromPlugin(record_.backend.plan(handle_, &sink), record_, "plan"));
  return result;
}

Status BackendInstance::Load() {
  const PluginCallScope scope(record_, "load");
  return FromPlugin(record_.backend.load(handle_), record_, "load");
}

uint32_t BackendInstance::ProcessesPerModel() const {
  if (!COMPASS_HAS_FIELD(compass_backend_api, record_.backend.header.struct_size,
                         processes_per_model) ||
      record_.backend.processes_per_model == nullptr) {
    return 1;
  }
  const PluginCallScope scope(record_, "processes_per_model");
  return std::max<uint32_t>(1, record_.backend.processes_per_model(handle_));
}

Status BackendInstance::Serve() {
  if (!COMPASS_HAS_FIELD(compass_backend_api, record_.backend.header.struct_size, serve) ||
      record_.backend.serve == nullptr) {
    return Unsupported("serve");
  }
  const PluginCallScope scope(record_, "serve");
  return FromPlugin(record_.backend.serve(handle_), record_, "serve");
}

uint64_t BackendInstance::capabilities() const {
  return COMPASS_HAS_FIELD(compass_backend_api, record_.backend.header.struct_size, capabilities)
             ? record_.backend.capabilities
             : 0;
}

Status BackendInstance::Execute(const std::vector<compass_request>& requests,
                                const std::function<Status(const compass_result&)>& on_result) {
  if (!record_.backend.execute) return Unsupported("execute");
  if (requests.empty()) return Status::Ok();
  // One slot per answer owed: one per request, one per sample of a
  // generation. A second answer for a slot is a plugin bug.
  std::vector<uint64_t> first_slot(requests.size());
  uint64_t slots = 0;
  for (size_t i = 0; i < requests.size(); ++i) {
    first_slot[i] = slots;
    slots +=
        requests[i].kind == COMPASS_REQUEST_GENERATE ? std::max(1u, requests[i].num_samples) : 1;
  }
  struct Ctx {
    std::mutex mu;
    Status error = Status::Ok();
    const std::vector<compass_request>* requests;
    const std::function<Status(const compass_result&)>* fn;
    const std::vector<uint64_t>* first_slot;
    std::vector<bool> answered;
    std::string bug;  // "; this is a bug in the plugin (<path>)..."
  } ctx;
  ctx.requests = &requests;
  ctx.fn = &on_result;
  ctx.first_slot = &first_slot;
  ctx.answered.assign(slots, false);
  ctx.bug = "; this is a bug in the plugin (" + record_.path +
            "): the run stops here, and every answer stored before is kept";
  compass_response_sink sink{};
  sink.ctx = &ctx;
  sink.result = [](void* c, const compass_result* in) -> int32_t {
    auto* x = static_cast<Ctx*>(c);
    std::lock_guard<std::mutex> lock(x->mu);
    if (!x->error.ok()) return 1;
    // Read only what the plugin's struct holds; the rest stays zero.
    compass_result r{};
    std::memcpy(&r, in, std::min<uint64_t>(in->struct_size, sizeof r));
    r.struct_size = sizeof r;
    const uint64_t n = x->requests->size();
    if (r.index >= n) {
      x->error =
          Internal("answered request " + std::to_string(r.index) + ", but the call has " +
                   std::to_string(n) + " request(s), 0 to " + std::to_string(n - 1) + x->bug);
      return 1;
    }
    const compass_request& q = (*x->requests)[r.index];
    const bool generate = q.kind == COMPASS_REQUEST_GENERATE;
    if (r.kind != q.kind || (generate && r.sample >= std::max(1u, q.num_samples))) {
      x->error = Internal("returned a result whose kind or sample does not match request " +
                          std::to_string(r.index) + x->bug);
      return 1;
    }
    // Errors may repeat (each fails the whole request); an answer may not.
    if (r.error_code == COMPASS_OK) {
      const uint64_t slot = (*x->first_slot)[r.index] + (generate ? r.sample : 0);
      if (x->answered[slot]) {
        x->error = Internal("answered request " + std::to_string(r.index) +
                            (generate ? " (sample " + std::to_string(r.sample) + ")" : "") +
                            " twice" + x->bug);
        return 1;
      }
      x->answered[slot] = true;
    }
    try {
      x->error = (*x->fn)(r);
    } catch (const std::exception& e) {
      x->error = Internal(std::string("while storing a result: ") + e.what());
    }
    return x->error.ok() ? 0 : 1;
  };
  const PluginCallScope scope(record_, "execute");
  Status s = FromPlugin(record_.backend.execute(handle_, requests.data(), requests.size(), &sink),
                        record_, "execute");
  // The host's own failure (e.g. the store) explains a CANCELLED return.
  if (!ctx.error.ok()) {
    return ctx.error.WithContext("backend '" + record_.name + "' execute");
  }
  return s;
}

StatusOr<std::vector<Figure>> BackendInstance::Figures() {
  std::vector<Figure> figures;
  if (!record_.backend.figures) return figures;
  compass_figure_sink sink{
      &figures, [](void* ctx, const compass_figure* f) {
        static_cast<std::vector<Figure>*>(ctx)->push_back(
            {Str(f->name), Str(f->scope), f->value, static_cast<compass_unit>(f->unit)});
      }};
  const PluginCallScope scope(record_, "figures");
  COMPASS_RETURN_IF_ERROR(FromPlugin(record_.backend.figures(handle_, &sink), record_, "figures"));
  return figures;
}

// ----------------------------------------------------------------- dataset --

StatusOr<std::unique_ptr<DatasetInstance>> DatasetInstance::Create(
    const PluginRecord& record, PluginHost& host, const compass_dataset_config& config) {
  return CreateInstance<DatasetInstance, compass_dataset>(record, [&](compass_dataset** out) {
    return record.dataset.create(host.ServicesFor(record.name), &config, out);
  });
}

StatusOr<std::optional<TaskInfo>> DatasetInstance::Describe(const PluginRecord& record,
                                                            PluginHost& host,
                                                            const compass_dataset_config& config) {
  if (record.dataset.describe == nullptr) return std::optional<TaskInfo>();
  struct Ctx {
    SinkState state;
    std::optional<TaskInfo> info;
  } ctx;
  compass_task_info_sink sink{
      &ctx, [](void* c, const compass_task_info* in) {
        auto* x = static_cast<Ctx*>(c);
        x->state.Run([&] {
          TaskInfo info;
          const uint64_t size = in->struct_size;
          if (COMPASS_HAS_FIELD(compass_task_info, size, item_kinds))
            info.item_kinds = in->item_kinds;
          if (COMPASS_HAS_FIELD(compass_task_info, size, scorer)) info.scorer = Str(in->scorer);
          if (COMPASS_HAS_FIELD(compass_task_info, size, scorer_options_json))
            info.scorer_options_json = Str(in->scorer_options_json);
          if (COMPASS_HAS_FIELD(compass_task_info, size, num_shots)) info.num_shots = in->num_shots;
          x->info = std::move(info);
        });
      }};
  const PluginCallScope scope(record, "describe");
  Status s = FromPlugin(record.dataset.describe(host.ServicesFor(record.name), &config, &sink),
                        record, "describe");
  COMPASS_RETURN_IF_ERROR(ctx.state.Finish(s));
  if (!ctx.info) {
    return Internal("dataset '" + record.name + "' describe returned without describing the task");
  }
  return ctx.info;
}

DatasetInstance::~DatasetInstance() {
  const PluginCallScope scope(record_, "destroy");
  record_.dataset.destroy(handle_);
}

Status DatasetInstance::Items(const std::function<bool(const compass_item&)>& on_item) {
  struct Ctx {
    SinkState state;
    const std::function<bool(const compass_item&)>* fn;
    bool stop = false;
  } ctx{{}, &on_item};
  compass_item_sink sink{&ctx, [](void* c, const compass_item* item) -> int32_t {
                           auto* x = static_cast<Ctx*>(c);
                           x->state.Run([&] { x->stop = !(*x->fn)(*item); });
                           return (x->stop || !x->state.error.empty()) ? 1 : 0;
                         }};
  const PluginCallScope scope(record_, "items");
  Status s = FromPlugin(record_.dataset.items(handle_, &sink), record_, "items");
  return ctx.state.Finish(s);
}

// ------------------------------------------------------------------ scorer --

StatusOr<std::unique_ptr<ScorerInstance>> ScorerInstance::Create(const PluginRecord& record,
                                                                 PluginHost& host,
                                                                 const std::string& options_json) {
  return CreateInstance<ScorerInstance, compass_scorer>(record, [&](compass_scorer** out) {
    return record.scorer.create(host.ServicesFor(record.name),
                                {options_json.data(), options_json.size()}, out);
  });
}

ScorerInstance::~ScorerInstance() {
  const PluginCallScope scope(record_, "destroy");
  record_.scorer.destroy(handle_);
}

StatusOr<std::vector<SampleMetric>> ScorerInstance::Score(const compass_item& item,
                                                          const compass_model_output& output) {
  std::vector<SampleMetric> metrics;
  compass_metric_sink sink{&metrics, [](void* ctx, const compass_sample_metric* m) {
                             static_cast<std::vector<SampleMetric>*>(ctx)->push_back(
                                 {Str(m->name), m->value, m->weight, Str(m->prediction)});
                           }};
  const PluginCallScope scope(record_, "score");
  COMPASS_RETURN_IF_ERROR(
      FromPlugin(record_.scorer.score(handle_, &item, &output, &sink), record_, "score"));
  return metrics;
}

StatusOr<compass_aggregate> ScorerInstance::Aggregate(const std::string& metric,
                                                      const std::vector<double>& values,
                                                      const std::vector<double>& weights) {
  compass_aggregate out{};
  out.struct_size = sizeof out;
  const PluginCallScope scope(record_, "aggregate");
  COMPASS_RETURN_IF_ERROR(
      FromPlugin(record_.scorer.aggregate(handle_, {metric.data(), metric.size()}, values.data(),
                                          weights.data(), values.size(), &out),
                 record_, "aggregate"));
  return out;
}

}  // namespace compass
