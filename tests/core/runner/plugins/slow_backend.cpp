// A deterministic, deliberately slow backend for crash-safety tests. Each
// loglikelihood takes `delay_ms`; every request it computes is appended to
// `log_file` as "context ids|continuation ids" and flushed before its result
// is delivered, and logged through the host ("computed request N").
// load() creates `load_file`, so a test can tell whether a run got as far as
// loading weights.
//
// Faults, from the environment so that the config (and with it the run's
// identity) stays the same:
//   COMPASS_TEST_FAIL_TOKEN=ID     requests whose continuation holds ID fail alone
//   COMPASS_TEST_NAN_TOKEN=ID      ... get a NaN log-prob
//   COMPASS_TEST_DUPLICATE_INDEX=I request I is answered twice
//   COMPASS_TEST_UNKNOWN_INDEX_AFTER=N  after N answers, one for an index the call lacks
//   COMPASS_TEST_IGNORE_CANCEL=1   never looks at cancellation, never stops when told
//   COMPASS_TEST_EXIT_AFTER=N      calls exit(0) after N answers
//   COMPASS_TEST_ABORT_AFTER=N     calls abort() after N answers
//   COMPASS_TEST_CRASH=segv|abort  with COMPASS_TEST_CRASH_AFTER=N: crashes on a
//                                  thread of its own at request N
//   COMPASS_TEST_GATE=PATH         after 3 answers, waits for PATH to exist
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
  static long long Env(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::atoll(v) : -1;
  }
  void execute(const compass::sdk::Requests& r, const compass::sdk::ResponseSink& sink) override {
    const char* fail = std::getenv("COMPASS_TEST_FAIL_TOKEN");
    const long long fail_token = Env("COMPASS_TEST_FAIL_TOKEN");
    const long long nan_token = Env("COMPASS_TEST_NAN_TOKEN");
    const long long duplicate = Env("COMPASS_TEST_DUPLICATE_INDEX");
    const long long unknown_after = Env("COMPASS_TEST_UNKNOWN_INDEX_AFTER");
    const bool ignore_cancel = Env("COMPASS_TEST_IGNORE_CANCEL") == 1;
    const long long exit_after = Env("COMPASS_TEST_EXIT_AFTER");
    const long long abort_after = Env("COMPASS_TEST_ABORT_AFTER");
    const char* gate = std::getenv("COMPASS_TEST_GATE");
    // A backend that ignores the sink's "stop" goes on computing.
    auto deliver = [&](const compass_request& q, const compass::sdk::LoglikelihoodAnswer& a) {
      try {
        sink.loglikelihood(q, a);
      } catch (const compass::sdk::Error&) {
        if (!ignore_cancel) throw;
      }
    };
    const char* crash = std::getenv("COMPASS_TEST_CRASH");
    const long long crash_at = Env("COMPASS_TEST_CRASH_AFTER");
    const uint64_t n = r.size();
    long long answered = 0;
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
      // A test holds the run here while it checks what happens beside it.
      while (gate != nullptr && answered >= 3 && access(gate, F_OK) != 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (!ignore_cancel) host_.check_cancelled();
      if (crash != nullptr && static_cast<long long>(i) == crash_at) Crash(crash);
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
        if (f == nullptr) {
          throw compass::sdk::Error(COMPASS_IO, "cannot open the log file " + log_file_);
        }
        std::fprintf(f, "%s\n", line.c_str());
        std::fflush(f);
        fsync(fileno(f));
        std::fclose(f);
      }
      host_.log(COMPASS_LOG_DEBUG, "computed request " + std::to_string(i));
      compass::sdk::LoglikelihoodAnswer a;
      a.logprob = nan_answer ? std::nan("") : lp - ctx / 1e4;
      a.is_greedy = false;
      deliver(r[i], a);
      if (static_cast<long long>(i) == duplicate) {
        a.logprob -= 1;  // a second, different answer
        deliver(r[i], a);
      }
      ++answered;
      if (answered == unknown_after) {
        compass_request other = r[i];
        other.index = n + 5;
        deliver(other, a);
      }
      if (answered == exit_after) std::exit(0);
      if (answered == abort_after) std::abort();
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
