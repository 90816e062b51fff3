// Header-only C++ helper for writing Compass plugins on top of plugin.h.
//
// Write a class deriving from compass::sdk::Backend, Dataset or Scorer, then
// export it with one macro in one .cpp file:
//
//   COMPASS_EXPORT_BACKEND(MyBackend, "my_backend", "1.0.0", "What it is")
//
// The class is constructed with (const compass::sdk::Host&, <config>) and may
// throw; any exception thrown by a plugin method becomes an error status at
// the ABI boundary (compass::sdk::Error keeps its code, anything else becomes
// COMPASS_INTERNAL). A virtual method that the class does not override leaves
// its optional table slot NULL ("not supported").
//
// A class may declare `static compass_option_list options()` listing the keys
// it accepts in its TOML table (see compass::sdk::option()). A Dataset may
// declare `static TaskInfo describe(const Host&, const compass_dataset_config&)`
// (what a task will deliver, from its config alone); a Scorer may declare
// `static constexpr uint64_t item_kinds` (the COMPASS_ITEM_KIND_BITs it scores).
#ifndef COMPASS_PLUGIN_HPP_
#define COMPASS_PLUGIN_HPP_

#include <compass/plugin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace compass::sdk {

inline compass_str str(std::string_view s) {
  return compass_str{s.data(), s.size()};
}
inline std::string_view view(compass_str s) {
  return s.size == 0 ? std::string_view() : std::string_view(s.data, s.size);
}
inline std::vector<int32_t> to_vector(compass_tokens t) {
  return t.size == 0 ? std::vector<int32_t>() : std::vector<int32_t>(t.ids, t.ids + t.size);
}

// Declares one option spec from string literals (static storage).
constexpr compass_option_spec option(const char* key, compass_option_type type, const char* help,
                                     const char* choices = "") {
  return compass_option_spec{sizeof(compass_option_spec),
                             {key, std::char_traits<char>::length(key)},
                             static_cast<uint32_t>(type),
                             {help, std::char_traits<char>::length(help)},
                             {choices, std::char_traits<char>::length(choices)}};
}

// Option spec `i` of a list (stepping by the producer's struct_size).
inline const compass_option_spec& option_at(const compass_option_list& list, uint64_t i) {
  return *COMPASS_AT(compass_option_spec, list.items, i);
}

// An error with a compass_code, thrown inside a plugin.
class Error : public std::runtime_error {
 public:
  Error(compass_code code, const std::string& message) : std::runtime_error(message), code_(code) {}
  compass_code code() const { return code_; }

 private:
  compass_code code_;
};

// The host services, wrapped. Copyable, cheap; valid while the plugin object
// that received it is alive.
class Host {
 public:
  explicit Host(const compass_host_api* api) : api_(api) {}
  const compass_host_api* api() const { return api_; }

  void log(compass_log_level level, std::string_view message) const {
    api_->log(api_->ctx, level, str(message));
  }
  void info(std::string_view message) const { log(COMPASS_LOG_INFO, message); }
  void warn(std::string_view message) const { log(COMPASS_LOG_WARN, message); }
  void progress(uint64_t done, uint64_t total, uint64_t tokens) const {
    api_->progress(api_->ctx, done, total, tokens);
  }
  bool cancelled() const { return api_->is_cancelled(api_->ctx) != 0; }
  // Throws Error(COMPASS_CANCELLED) when the user asked to stop.
  void check_cancelled() const {
    if (cancelled()) throw Error(COMPASS_CANCELLED, "cancelled");
  }
  // Converts a status returned by a host service into an exception.
  void throw_if_error(compass_status* status) const {
    if (status == nullptr) return;
    const auto code = static_cast<compass_code>(api_->status_code(status));
    std::string message(view(api_->status_message(status)));
    api_->status_free(status);
    throw Error(code, message);
  }
  compass_status* make_status(compass_code code, std::string_view message) const {
    return api_->status_new(code, str(message));
  }

 private:
  const compass_host_api* api_;
};

namespace detail {
// Runs `fn` and turns any exception into a host-allocated status.
template <typename Fn>
compass_status* guarded(const compass_host_api* host, std::string_view plugin, Fn&& fn) noexcept {
  try {
    fn();
    return nullptr;
  } catch (const Error& e) {
    return host->status_new(e.code(), str(e.what()));
  } catch (const std::exception& e) {
    std::string msg = "plugin '" + std::string(plugin) + "' failed: " + e.what();
    return host->status_new(COMPASS_INTERNAL, str(msg));
  } catch (...) {
    std::string msg = "plugin '" + std::string(plugin) + "' failed with an unknown exception";
    return host->status_new(COMPASS_INTERNAL, str(msg));
  }
}

template <typename T, typename = void>
struct has_options : std::false_type {};
template <typename T>
struct has_options<T, std::void_t<decltype(T::options())>> : std::true_type {};

template <typename T>
compass_option_list options_of() {
  if constexpr (has_options<T>::value) {
    return T::options();
  } else {
    return compass_option_list{nullptr, 0};
  }
}

constexpr compass_plugin_info info(const char* name, const char* version, const char* description) {
  return compass_plugin_info{{name, std::char_traits<char>::length(name)},
                             {version, std::char_traits<char>::length(version)},
                             {description, std::char_traits<char>::length(description)}};
}
}  // namespace detail

// ---------------------------------------------------------------- backends --

// A read-only view of the request array execute() receives, stepping by the
// host's struct_size so that a plugin built against an older or newer minor
// reads it right. Fields appended after ABI 2.0 must be read through
// has_field().
class Requests {
 public:
  Requests(const compass_request* base, uint64_t size) : base_(base), size_(size) {}
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const compass_request& operator[](uint64_t i) const {
    return *COMPASS_AT(compass_request, base_, i);
  }

  class iterator {
   public:
    iterator(const Requests* r, uint64_t i) : r_(r), i_(i) {}
    const compass_request& operator*() const { return (*r_)[i_]; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const iterator& o) const { return i_ != o.i_; }

   private:
    const Requests* r_;
    uint64_t i_;
  };
  iterator begin() const { return {this, 0}; }
  iterator end() const { return {this, size_}; }

 private:
  const compass_request* base_;
  uint64_t size_;
};

// What one request produced; `deliver` turns it into a compass_result.
struct LoglikelihoodAnswer {
  double logprob = 0;
  bool is_greedy = true;
  std::vector<float> token_logprobs;   // per continuation token (optional)
  std::vector<int32_t> greedy_tokens;  // argmax id per position (optional)
  std::vector<float> greedy_logprobs;  // its log-prob (optional)
};

struct GenerationAnswer {
  uint32_t sample = 0;
  std::vector<int32_t> tokens;
  std::vector<float> token_logprobs;  // per generated token (optional)
  compass_finish_reason finish_reason = COMPASS_FINISH_LENGTH;
};

// Results go out through this as soon as they are ready. Thread-safe. Each
// method throws Error(COMPASS_CANCELLED) when the host asks to stop (its
// store failed, or the user pressed Ctrl-C), which ends the call promptly;
// a plugin that delivers from its own threads must catch it there and stop.
class ResponseSink {
 public:
  explicit ResponseSink(const compass_response_sink* sink) : sink_(sink) {}

  void loglikelihood(const compass_request& request, const LoglikelihoodAnswer& a) const {
    compass_result r = base(request);
    r.logprob = a.logprob;
    r.is_greedy = a.is_greedy ? 1 : 0;
    r.num_tokens = request.continuation.size;
    r.token_logprobs = data_or_null(a.token_logprobs);
    r.greedy_tokens = data_or_null(a.greedy_tokens);
    r.greedy_logprobs = data_or_null(a.greedy_logprobs);
    deliver(r);
  }
  void generation(const compass_request& request, const GenerationAnswer& a) const {
    compass_result r = base(request);
    r.sample = a.sample;
    r.tokens = {a.tokens.data(), a.tokens.size()};
    r.num_tokens = a.tokens.size();
    r.token_logprobs = data_or_null(a.token_logprobs);
    double sum = 0;
    for (float lp : a.token_logprobs) sum += lp;
    r.logprob = sum;
    r.finish_reason = static_cast<uint32_t>(a.finish_reason);
    deliver(r);
  }
  // This request alone failed (every sample of it, for a generation).
  void error(const compass_request& request, compass_code code, std::string_view message) const {
    compass_result r = base(request);
    r.error_code = code;
    r.error_message = str(message);
    deliver(r);
  }
  void deliver(const compass_result& r) const {
    if (sink_->result(sink_->ctx, &r) != 0) {
      throw Error(COMPASS_CANCELLED, "the host asked the backend to stop");
    }
  }

 private:
  template <typename T>
  static const T* data_or_null(const std::vector<T>& v) {
    return v.empty() ? nullptr : v.data();
  }
  static compass_result base(const compass_request& request) {
    compass_result r{};
    r.struct_size = sizeof r;
    r.index = request.index;
    r.kind = request.kind;
    return r;
  }
  const compass_response_sink* sink_;
};

class FigureSink {
 public:
  explicit FigureSink(const compass_figure_sink* sink) : sink_(sink) {}
  void figure(std::string_view name, double value, compass_unit unit,
              std::string_view scope = {}) const {
    compass_figure f{sizeof(compass_figure), str(name), str(scope), value,
                     static_cast<uint32_t>(unit)};
    sink_->figure(sink_->ctx, &f);
  }

 private:
  const compass_figure_sink* sink_;
};

class PlanSink {
 public:
  explicit PlanSink(const compass_plan_sink* sink) : sink_(sink) {}
  void placement(std::string_view module, std::string_view device, uint64_t bytes) const {
    compass_placement p{sizeof(compass_placement), str(module), str(device), bytes};
    sink_->placement(sink_->ctx, &p);
  }
  void device(std::string_view device, uint64_t capacity, uint64_t weights, uint64_t cache,
              uint64_t activations) const {
    compass_device_plan d{
        sizeof(compass_device_plan), str(device), capacity, weights, cache, activations};
    sink_->device(sink_->ctx, &d);
  }
  void verdict(bool fits, std::string_view message) const {
    sink_->verdict(sink_->ctx, fits ? 1 : 0, str(message));
  }
  FigureSink figures() const { return FigureSink(&sink_->figures); }

 private:
  const compass_plan_sink* sink_;
};

// A backend. Declare what it serves with a static member
//   static constexpr uint64_t capabilities = COMPASS_CAN_LOGLIKELIHOOD | ...;
// (default: loglikelihood and greedy generation).
class Backend {
 public:
  static constexpr uint64_t capabilities = COMPASS_CAN_LOGLIKELIHOOD | COMPASS_CAN_GENERATE;
  virtual ~Backend() = default;
  virtual void plan(const PlanSink&) {}
  virtual void load() {}
  virtual void execute(const Requests& requests, const ResponseSink& sink) = 0;
  virtual void figures(const FigureSink&) {}
  // ABI 2.2: a backend whose model copy spans several processes overrides
  // both (compass_backend_api.processes_per_model and serve).
  virtual uint32_t processes_per_model() { return 1; }
  virtual void serve() {}
};

namespace detail {
// True when T declares its own override of the member (the type of &T::f
// names the class that declares f).
#define COMPASS_SDK_OVERRIDES(T, Base, member) \
  (!std::is_same_v<decltype(&T::member), decltype(&Base::member)>)

// The object behind an opaque handle: the plugin's T and the host table it
// was created with. `Opaque` is compass_backend, compass_dataset or
// compass_scorer.
template <typename T, typename Opaque>
struct Owned {
  struct Handle {
    const compass_host_api* host;
    T* impl;
  };
  static inline const char* name = "";
  static Handle* h(Opaque* p) { return reinterpret_cast<Handle*>(p); }

  template <typename... Args>
  static compass_status* create(const compass_host_api* host, Opaque** out,
                                Args&&... args) noexcept {
    *out = nullptr;
    return guarded(host, name, [&] {
      T* impl = new T(Host(host), std::forward<Args>(args)...);
      try {
        *out = reinterpret_cast<Opaque*>(new Handle{host, impl});
      } catch (...) {
        delete impl;
        throw;
      }
    });
  }
  static void destroy(Opaque* p) noexcept {
    if (p == nullptr) return;
    try {
      delete h(p)->impl;
    } catch (...) {
    }
    delete h(p);
  }
  // Runs a method of the plugin object, turning exceptions into a status.
  template <typename Fn>
  static compass_status* call(Opaque* p, Fn&& fn) noexcept {
    return guarded(h(p)->host, name, [&] { fn(*h(p)->impl); });
  }
};

template <typename T>
struct BackendTrampolines : Owned<T, compass_backend> {
  using O = Owned<T, compass_backend>;
  static compass_status* create(const compass_host_api* host, const compass_backend_config* cfg,
                                compass_backend** out) noexcept {
    return O::create(host, out, *cfg);
  }
  static compass_status* plan(compass_backend* b, const compass_plan_sink* sink) noexcept {
    return O::call(b, [&](T& t) { t.plan(PlanSink(sink)); });
  }
  static compass_status* load(compass_backend* b) noexcept {
    return O::call(b, [&](T& t) { t.load(); });
  }
  static compass_status* execute(compass_backend* b, const compass_request* r, uint64_t n,
                                 const compass_response_sink* s) noexcept {
    return O::call(b, [&](T& t) { t.execute(Requests(r, n), ResponseSink(s)); });
  }
  static compass_status* figures(compass_backend* b, const compass_figure_sink* s) noexcept {
    return O::call(b, [&](T& t) { t.figures(FigureSink(s)); });
  }
  static uint32_t processes_per_model(compass_backend* b) noexcept {
    try {
      return O::h(b)->impl->processes_per_model();
    } catch (...) {
      return 1;
    }
  }
  static compass_status* serve(compass_backend* b) noexcept {
    return O::call(b, [&](T& t) { t.serve(); });
  }

  static compass_backend_api make(compass_plugin_info info) {
    O::name = info.name.data;
    compass_backend_api api{};
    api.header = {COMPASS_ABI_MAJOR, COMPASS_ABI_MINOR, sizeof(compass_backend_api)};
    api.info = info;
    api.options = options_of<T>();
    api.capabilities = T::capabilities;
    api.create = &create;
    api.destroy = &O::destroy;
    api.plan = COMPASS_SDK_OVERRIDES(T, Backend, plan) ? &plan : nullptr;
    api.load = &load;
    api.execute = &execute;
    api.figures = COMPASS_SDK_OVERRIDES(T, Backend, figures) ? &figures : nullptr;
    api.processes_per_model =
        COMPASS_SDK_OVERRIDES(T, Backend, processes_per_model) ? &processes_per_model : nullptr;
    api.serve = COMPASS_SDK_OVERRIDES(T, Backend, serve) ? &serve : nullptr;
    return api;
  }
};
}  // namespace detail

// ---------------------------------------------------------------- datasets --

// One item, owning its strings; converted to compass_item for the host.
struct Item {
  std::string id;
  std::string group;
  compass_item_kind kind = COMPASS_ITEM_MULTIPLE_CHOICE;
  std::string context;
  std::vector<std::string> choices;
  int64_t gold = -1;
  std::vector<std::string> references;
  std::vector<std::string> stop;
  uint32_t max_new_tokens = 0;
  std::string doc_json = "{}";
  // Partial evaluation (ABI 2.1): one whole prompt per choice; `context`
  // then holds what they all start with. Empty: every choice follows
  // `context`.
  std::vector<std::string> contexts;
};

// compass_item views of an Item; valid while both objects are alive and
// unchanged.
struct ItemView {
  compass_item item{};
  std::vector<compass_str> choices, references, stop, contexts;
  explicit ItemView(const Item& src) {
    for (const auto& s : src.contexts) contexts.push_back(str(s));
    for (const auto& s : src.choices) choices.push_back(str(s));
    for (const auto& s : src.references) references.push_back(str(s));
    for (const auto& s : src.stop) stop.push_back(str(s));
    item.struct_size = sizeof(compass_item);
    item.id = str(src.id);
    item.group = str(src.group);
    item.kind = static_cast<uint32_t>(src.kind);
    item.context = str(src.context);
    item.choices = choices.data();
    item.num_choices = choices.size();
    item.gold = src.gold;
    item.references = references.data();
    item.num_references = references.size();
    item.stop = stop.data();
    item.num_stop = stop.size();
    item.max_new_tokens = src.max_new_tokens;
    item.doc_json = str(src.doc_json);
    item.contexts = contexts.data();
    item.num_contexts = contexts.size();
  }
  ItemView(const ItemView&) = delete;
  ItemView& operator=(const ItemView&) = delete;
};

// Copies a borrowed compass_item into an owning Item.
inline Item to_item(const compass_item& c) {
  auto strs = [](const compass_str* p, uint64_t n) {
    std::vector<std::string> out;
    for (uint64_t i = 0; i < n; ++i) out.emplace_back(view(p[i]));
    return out;
  };
  Item item;
  item.id = std::string(view(c.id));
  item.group = std::string(view(c.group));
  item.kind = static_cast<compass_item_kind>(c.kind);
  item.context = std::string(view(c.context));
  item.choices = strs(c.choices, c.num_choices);
  item.gold = c.gold;
  item.references = strs(c.references, c.num_references);
  item.stop = strs(c.stop, c.num_stop);
  item.max_new_tokens = c.max_new_tokens;
  item.doc_json = std::string(view(c.doc_json));
  if (COMPASS_HAS_FIELD(compass_item, c.struct_size, num_contexts)) {
    item.contexts = strs(c.contexts, c.num_contexts);
  }
  return item;
}

class ItemSink {
 public:
  explicit ItemSink(const compass_item_sink* sink) : sink_(sink) {}
  // Returns false when the host wants no more items.
  bool operator()(const Item& item) const {
    const ItemView v(item);
    return sink_->item(sink_->ctx, &v.item) == 0;
  }

 private:
  const compass_item_sink* sink_;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual void items(const ItemSink& sink) = 0;
};

// What a task will deliver (compass_task_info), owning its strings.
struct TaskInfo {
  uint64_t item_kinds = 0;  // COMPASS_ITEM_KIND_BIT(...) | ...
  std::string scorer;       // "" = the dataset's default scorer
  std::string scorer_options_json;
  int64_t num_shots = -1;  // -1 = no default
};

namespace detail {
template <typename T, typename = void>
struct has_describe : std::false_type {};
template <typename T>
struct has_describe<
    T, std::void_t<decltype(T::describe(std::declval<const Host&>(),
                                        std::declval<const compass_dataset_config&>()))>>
    : std::true_type {};
template <typename T, typename = void>
struct has_item_kinds : std::false_type {};
template <typename T>
struct has_item_kinds<T, std::void_t<decltype(T::item_kinds)>> : std::true_type {};

template <typename T>
struct DatasetTrampolines : Owned<T, compass_dataset> {
  using O = Owned<T, compass_dataset>;
  static compass_status* create(const compass_host_api* host, const compass_dataset_config* cfg,
                                compass_dataset** out) noexcept {
    return O::create(host, out, *cfg);
  }
  static compass_status* items(compass_dataset* d, const compass_item_sink* s) noexcept {
    return O::call(d, [&](T& t) { t.items(ItemSink(s)); });
  }
  static compass_status* describe(const compass_host_api* host, const compass_dataset_config* cfg,
                                  const compass_task_info_sink* sink) noexcept {
    if constexpr (has_describe<T>::value) {
      return guarded(host, O::name, [&] {
        const TaskInfo t = T::describe(Host(host), *cfg);
        compass_task_info info{};
        info.struct_size = sizeof info;
        info.item_kinds = t.item_kinds;
        info.scorer = str(t.scorer);
        info.scorer_options_json = str(t.scorer_options_json);
        info.num_shots = t.num_shots;
        sink->info(sink->ctx, &info);
      });
    } else {
      return nullptr;
    }
  }
  static compass_dataset_api make(compass_plugin_info info, const char* default_scorer) {
    O::name = info.name.data;
    compass_dataset_api api{};
    api.header = {COMPASS_ABI_MAJOR, COMPASS_ABI_MINOR, sizeof(compass_dataset_api)};
    api.info = info;
    api.options = options_of<T>();
    api.default_scorer = {default_scorer, std::char_traits<char>::length(default_scorer)};
    api.create = &create;
    api.destroy = &O::destroy;
    api.items = &items;
    api.describe = has_describe<T>::value ? &describe : nullptr;
    return api;
  }
};
}  // namespace detail

// ----------------------------------------------------------------- scorers --

class MetricSink {
 public:
  explicit MetricSink(const compass_metric_sink* sink) : sink_(sink) {}
  void operator()(std::string_view name, double value, double weight = 1.0,
                  std::string_view prediction = {}) const {
    compass_sample_metric m{sizeof(compass_sample_metric), str(name), value, weight,
                            str(prediction)};
    sink_->metric(sink_->ctx, &m);
  }

 private:
  const compass_metric_sink* sink_;
};

// Weighted mean with its analytic standard error: for unit weights the
// sample standard deviation over sqrt(n), as lm-evaluation-harness reports.
inline compass_aggregate weighted_mean(const double* values, const double* weights, uint64_t count,
                                       bool higher_is_better) {
  compass_aggregate a{};
  a.struct_size = sizeof a;
  a.count = count;
  a.higher_is_better = higher_is_better ? 1 : 0;
  a.stderr_method = str("analytic");
  double sw = 0, swx = 0;
  for (uint64_t i = 0; i < count; ++i) {
    sw += weights[i];
    swx += weights[i] * values[i];
  }
  a.value = sw > 0 ? swx / sw : std::nan("");
  if (count < 2 || sw <= 0) {
    a.stderr_value = std::nan("");
    return a;
  }
  // Ratio-estimator variance, which reduces to var/n for unit weights.
  const double mean_w = sw / static_cast<double>(count);
  double ss = 0;
  for (uint64_t i = 0; i < count; ++i) {
    const double d = weights[i] * (values[i] - a.value) / mean_w;
    ss += d * d;
  }
  const double n = static_cast<double>(count);
  a.stderr_value = std::sqrt(ss / (n - 1) / n);
  return a;
}

class Scorer {
 public:
  virtual ~Scorer() = default;
  virtual void score(const compass_item& item, const compass_model_output& output,
                     const MetricSink& sink) = 0;
  // Default: weighted mean, higher is better, analytic standard error.
  virtual compass_aggregate aggregate(std::string_view /*metric*/, const double* values,
                                      const double* weights, uint64_t count) {
    return weighted_mean(values, weights, count, true);
  }
};

namespace detail {
template <typename T>
struct ScorerTrampolines : Owned<T, compass_scorer> {
  using O = Owned<T, compass_scorer>;
  static compass_status* create(const compass_host_api* host, compass_str options_json,
                                compass_scorer** out) noexcept {
    return O::create(host, out, view(options_json));
  }
  static compass_status* score(compass_scorer* s, const compass_item* item,
                               const compass_model_output* output,
                               const compass_metric_sink* sink) noexcept {
    return O::call(s, [&](T& t) { t.score(*item, *output, MetricSink(sink)); });
  }
  static compass_status* aggregate(compass_scorer* s, compass_str metric, const double* values,
                                   const double* weights, uint64_t count,
                                   compass_aggregate* out) noexcept {
    return O::call(s, [&](T& t) {
      // Write only what the host's struct has room for.
      const compass_aggregate a = t.aggregate(view(metric), values, weights, count);
      const uint64_t host_size = out->struct_size;
      std::memcpy(out, &a, std::min<uint64_t>(host_size, sizeof a));
      out->struct_size = host_size;
    });
  }
  static compass_scorer_api make(compass_plugin_info info) {
    O::name = info.name.data;
    compass_scorer_api api{};
    api.header = {COMPASS_ABI_MAJOR, COMPASS_ABI_MINOR, sizeof(compass_scorer_api)};
    api.info = info;
    api.options = options_of<T>();
    api.create = &create;
    api.destroy = &O::destroy;
    api.score = &score;
    api.aggregate = &aggregate;
    if constexpr (has_item_kinds<T>::value) api.item_kinds = T::item_kinds;
    return api;
  }
};
}  // namespace detail

}  // namespace compass::sdk

// Export macros: use each at most once per shared library, at file scope.
#define COMPASS_EXPORT_BACKEND(Class, name, version, description)                            \
  extern "C" COMPASS_PLUGIN_EXPORT const compass_backend_api* compass_backend_plugin(void) { \
    static const compass_backend_api api =                                                   \
        ::compass::sdk::detail::BackendTrampolines<Class>::make(                             \
            ::compass::sdk::detail::info(name, version, description));                       \
    return &api;                                                                             \
  }

#define COMPASS_EXPORT_DATASET(Class, name, version, description, default_scorer)            \
  extern "C" COMPASS_PLUGIN_EXPORT const compass_dataset_api* compass_dataset_plugin(void) { \
    static const compass_dataset_api api =                                                   \
        ::compass::sdk::detail::DatasetTrampolines<Class>::make(                             \
            ::compass::sdk::detail::info(name, version, description), default_scorer);       \
    return &api;                                                                             \
  }

#define COMPASS_EXPORT_SCORER(Class, name, version, description)                                  \
  extern "C" COMPASS_PLUGIN_EXPORT const compass_scorer_api* compass_scorer_plugin(void) {        \
    static const compass_scorer_api api = ::compass::sdk::detail::ScorerTrampolines<Class>::make( \
        ::compass::sdk::detail::info(name, version, description));                                \
    return &api;                                                                                  \
  }

#endif  // COMPASS_PLUGIN_HPP_
