// A deterministic, deliberately slow backend for crash-safety tests. Each
// loglikelihood takes `delay_ms`; every request it computes is appended to
// `log_file` as "context ids|continuation ids" and flushed before its result
// is delivered. load() creates `load_file`, so a test can tell whether a run
// got as far as loading weights.
#include <unistd.h>
#include <compass/plugin.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

namespace {

class SlowBackend final : public compass::sdk::Backend {
 public:
  static compass_option_list options() {
    static const compass_option_spec specs[] = {
        compass::sdk::option("delay_ms", COMPASS_OPT_INT, "milliseconds per request"),
        compass::sdk::option("log_file", COMPASS_OPT_STRING, "where computed requests are logged"),
        compass::sdk::option("load_file", COMPASS_OPT_STRING, "created when load() is called")};
    return {specs, 3};
  }
  SlowBackend(const compass::sdk::Host& host, const compass_backend_config& config) : host_(host) {
    const std::string opts(compass::sdk::view(config.options_json));
    auto value = [&](const std::string& key) -> std::string {
      const auto at = opts.find("\"" + key + "\":");
      if (at == std::string::npos) return "";
      std::string v = opts.substr(at + key.size() + 3);
      if (!v.empty() && v[0] == '"') return v.substr(1, v.find('"', 1) - 1);
      return v.substr(0, v.find_first_of(",}"));
    };
    const std::string delay = value("delay_ms");
    delay_ms_ = delay.empty() ? 0 : std::stoi(delay);
    log_file_ = value("log_file");
    load_file_ = value("load_file");
  }
  void load() override {
    if (!load_file_.empty()) std::ofstream(load_file_) << "loaded\n";
  }
  static constexpr uint64_t capabilities = COMPASS_CAN_LOGLIKELIHOOD;
  void execute(const compass::sdk::Requests& r, const compass::sdk::ResponseSink& sink) override {
    // Requests whose continuation holds this id fail alone (tests of
    // per-request errors); from the environment so the config stays the same.
    const char* fail = std::getenv("COMPASS_TEST_FAIL_TOKEN");
    const int fail_token = fail ? std::atoi(fail) : -1;
    // Requests whose continuation holds this id get a NaN log-prob (a
    // broken model), which the host must not score.
    const char* nan = std::getenv("COMPASS_TEST_NAN_TOKEN");
    const int nan_token = nan ? std::atoi(nan) : -1;
    // "segv" or "abort" after this many answers, on a thread of the
    // backend's own: a plugin that crashes mid-run.
    const char* crash = std::getenv("COMPASS_TEST_CRASH");
    const char* crash_after = std::getenv("COMPASS_TEST_CRASH_AFTER");
    const uint64_t crash_at = crash_after ? std::strtoull(crash_after, nullptr, 10) : 0;
    const uint64_t n = r.size();
    for (uint64_t i = 0; i < n; ++i) {
      bool failing = false, nan_answer = false;
      for (uint64_t t = 0; t < r[i].continuation.size; ++t) {
        failing = failing || r[i].continuation.ids[t] == fail_token;
        nan_answer = nan_answer || r[i].continuation.ids[t] == nan_token;
      }
      if (failing) {
        sink.error(r[i], COMPASS_UNSUPPORTED,
                   "this test backend refuses token " + std::string(fail));
        continue;
      }
      host_.check_cancelled();
      if (crash != nullptr && i == crash_at) Crash(crash);
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms_));
      double lp = 0, ctx = 0;
      std::string line;
      for (uint64_t t = 0; t < r[i].context.size; ++t) {
        ctx += r[i].context.ids[t] % 7;
        line += std::to_string(r[i].context.ids[t]) + " ";
      }
      line += "|";
      for (uint64_t t = 0; t < r[i].continuation.size; ++t) {
        lp -= r[i].continuation.ids[t] / 100.0;
        line += std::to_string(r[i].continuation.ids[t]) + " ";
      }
      if (!log_file_.empty()) {
        FILE* f = std::fopen(log_file_.c_str(), "a");
        std::fprintf(f, "%s\n", line.c_str());
        std::fflush(f);
        fsync(fileno(f));
        std::fclose(f);
      }
      compass::sdk::LoglikelihoodAnswer a;
      a.logprob = nan_answer ? std::nan("") : lp - ctx / 1e4;
      a.is_greedy = false;
      sink.loglikelihood(r[i], a);
      host_.progress(i + 1, n, i + 1);
    }
  }

 private:
  static void Crash(const std::string& how) {
    std::thread([how] {
      if (how == "abort") std::abort();
      volatile int* null = nullptr;
      *null = 1;
    }).join();
  }

  compass::sdk::Host host_;
  int delay_ms_ = 0;
  std::string log_file_;
  std::string load_file_;
};

}  // namespace

#ifndef PLUGIN_NAME
#define PLUGIN_NAME "slow"
#endif

COMPASS_EXPORT_BACKEND(SlowBackend, PLUGIN_NAME, "1.0.0",
                       "deterministic backend for tests that logs what it computed")
