// A backend that wraps another one through the C ABI and perturbs a known
// share of multiple-choice items: for each selected item (chosen by a hash
// of its context, so the same items on every run), the log-probs of its
// most and least likely choices are swapped, so its prediction changes.
// Generations and single-request items pass through untouched. It exists to
// check that `compass compare` finds an injected difference: the flips are
// listed and the paired test flags them.
//
// Options ([backend.perturbed]):
//   inner  path of the wrapped backend's .so (default: hf_native of this build)
//   share  share of multiple-choice items perturbed, 0..1 (default 0.5)
// Its figure `perturbed_items` says how many items it changed.
#include <dlfcn.h>
#include <compass/plugin.h>

#include <nlohmann/json.hpp>

#include <memory>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

compass_str Str(const std::string& s) {
  return {s.data(), s.size()};
}

constexpr compass_str Lit(const char* s) {
  return {s, std::char_traits<char>::length(s)};
}

struct Perturbed {
  const compass_host_api* host = nullptr;
  void* library = nullptr;
  const compass_backend_api* inner_api = nullptr;
  compass_backend* inner = nullptr;
  compass_backend_config inner_config{};
  double share = 0.5;
  uint64_t perturbed_items = 0;
};

compass_status* Fail(const compass_host_api* host, int32_t code, const std::string& message) {
  return host->status_new(code, Str("perturbed: " + message));
}

// FNV-1a over the context ids: which items are perturbed does not depend on
// request order or batch size.
uint64_t Hash(const compass_tokens& t) {
  uint64_t h = 1469598103934665603ull;
  for (uint64_t i = 0; i < t.size; ++i) {
    h = (h ^ static_cast<uint32_t>(t.ids[i])) * 1099511628211ull;
  }
  return h;
}

// A loglikelihood answer held until every choice of its item is known.
struct Held {
  uint64_t index = 0;
  int32_t error_code = COMPASS_OK;
  std::string error_message;
  int32_t is_greedy = 0;
  double logprob = 0;
  uint64_t num_tokens = 0;
};

compass_status* Create(const compass_host_api* host, const compass_backend_config* config,
                       compass_backend** out) {
  auto p = std::make_unique<Perturbed>();
  p->host = host;
  const std::string options(config->options_json.data, config->options_json.size);
  const auto j = nlohmann::json::parse(options, nullptr, false);
  std::string inner = COMPASS_PERTURBED_INNER;
  if (j.is_object() && j.contains("inner")) inner = j["inner"].get<std::string>();
  if (j.is_object() && j.contains("share")) p->share = j["share"].get<double>();
  if (!(p->share >= 0 && p->share <= 1)) {
    return Fail(host, COMPASS_INVALID_ARGUMENT, "share must lie in [0, 1]");
  }
  p->library = dlopen(inner.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (p->library == nullptr) return Fail(host, COMPASS_NOT_FOUND, dlerror());
  auto entry =
      reinterpret_cast<compass_backend_entry_fn>(dlsym(p->library, "compass_backend_plugin"));
  if (entry == nullptr) return Fail(host, COMPASS_NOT_FOUND, inner + " is not a backend plugin");
  p->inner_api = entry();
  if (p->inner_api->header.abi_major != COMPASS_ABI_MAJOR) {
    return Fail(host, COMPASS_UNSUPPORTED, inner + " was built for another ABI");
  }
  // The wrapped backend runs with its defaults.
  p->inner_config = *config;
  p->inner_config.options_json = Lit("{}");
  if (compass_status* s = p->inner_api->create(host, &p->inner_config, &p->inner)) return s;
  *out = reinterpret_cast<compass_backend*>(p.release());
  return nullptr;
}

Perturbed* Self(compass_backend* b) {
  return reinterpret_cast<Perturbed*>(b);
}

void Destroy(compass_backend* b) {
  if (b == nullptr) return;
  Perturbed* p = Self(b);
  p->inner_api->destroy(p->inner);
  // The library stays loaded: threads or atexit handlers of the wrapped
  // backend may still refer to it.
  delete p;
}

compass_status* Plan(compass_backend* b, const compass_plan_sink* sink) {
  Perturbed* p = Self(b);
  if (p->inner_api->plan == nullptr) return nullptr;
  return p->inner_api->plan(p->inner, sink);
}

compass_status* Load(compass_backend* b) {
  Perturbed* p = Self(b);
  return p->inner_api->load(p->inner);
}

compass_status* Execute(compass_backend* b, const compass_request* requests, uint64_t n,
                        const compass_response_sink* sink) {
  Perturbed* p = Self(b);
  std::mutex mu;
  std::vector<Held> held;
  struct Ctx {
    const compass_response_sink* outer;
    std::mutex* mu;
    std::vector<Held>* held;
  } ctx{sink, &mu, &held};
  compass_response_sink capture{&ctx, [](void* c, const compass_result* r) -> int32_t {
                                  auto* x = static_cast<Ctx*>(c);
                                  if (r->kind != COMPASS_REQUEST_LOGLIKELIHOOD) {
                                    return x->outer->result(x->outer->ctx, r);
                                  }
                                  Held h;
                                  h.index = r->index;
                                  h.error_code = r->error_code;
                                  h.error_message.assign(r->error_message.data,
                                                         r->error_message.size);
                                  h.is_greedy = r->is_greedy;
                                  h.logprob = r->logprob;
                                  h.num_tokens = r->num_tokens;
                                  std::lock_guard<std::mutex> lock(*x->mu);
                                  x->held->push_back(std::move(h));
                                  return 0;
                                }};
  if (compass_status* s = p->inner_api->execute(p->inner, requests, n, &capture)) return s;

  // Items are the loglikelihood requests that share a context.
  std::map<uint64_t, std::vector<Held*>> items;
  for (Held& h : held) {
    const compass_request& r = *COMPASS_AT(compass_request, requests, h.index);
    if (h.error_code == COMPASS_OK) items[Hash(r.context)].push_back(&h);
  }
  for (auto& [hash, choices] : items) {
    if (choices.size() < 2 || static_cast<double>(hash % 10000) >= p->share * 10000) continue;
    Held* best = choices[0];
    Held* worst = choices[0];
    for (Held* c : choices) {
      if (c->logprob > best->logprob) best = c;
      if (c->logprob < worst->logprob) worst = c;
    }
    if (best == worst) continue;
    std::swap(best->logprob, worst->logprob);
    std::swap(best->is_greedy, worst->is_greedy);
    ++p->perturbed_items;
  }
  for (const Held& h : held) {
    compass_result r{};
    r.struct_size = sizeof(compass_result);
    r.index = h.index;
    r.kind = COMPASS_REQUEST_LOGLIKELIHOOD;
    r.error_code = h.error_code;
    r.error_message = Str(h.error_message);
    r.is_greedy = h.is_greedy;
    r.logprob = h.logprob;
    r.num_tokens = h.num_tokens;
    if (sink->result(sink->ctx, &r) != 0) break;
  }
  return nullptr;
}

compass_status* Figures(compass_backend* b, const compass_figure_sink* sink) {
  Perturbed* p = Self(b);
  if (p->inner_api->figures != nullptr) {
    if (compass_status* s = p->inner_api->figures(p->inner, sink)) return s;
  }
  compass_figure f{};
  f.struct_size = sizeof(compass_figure);
  f.name = Lit("perturbed_items");
  f.value = static_cast<double>(p->perturbed_items);
  f.unit = COMPASS_UNIT_COUNT;
  sink->figure(sink->ctx, &f);
  return nullptr;
}

const compass_option_spec kOptions[] = {
    {sizeof(compass_option_spec), Lit("inner"), COMPASS_OPT_STRING,
     Lit("path of the wrapped backend plugin"), {}},
    {sizeof(compass_option_spec), Lit("share"), COMPASS_OPT_FLOAT,
     Lit("share of multiple-choice items perturbed"), {}},
};

}  // namespace

extern "C" __attribute__((visibility("default"))) const compass_backend_api*
compass_backend_plugin(void) {
  static const compass_backend_api api = [] {
    compass_backend_api a{};
    a.header = {COMPASS_ABI_MAJOR, COMPASS_ABI_MINOR, sizeof(compass_backend_api)};
    a.info.name = Lit("perturbed");
    a.info.version = Lit("1.0.0");
    a.info.description = Lit("test backend: a wrapped backend with injected flips");
    a.options = {kOptions, 2};
    a.capabilities = COMPASS_CAN_LOGLIKELIHOOD | COMPASS_CAN_GENERATE;
    a.create = Create;
    a.destroy = Destroy;
    a.plan = Plan;
    a.load = Load;
    a.execute = Execute;
    a.figures = Figures;
    return a;
  }();
  return &api;
}
