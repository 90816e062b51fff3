// The host's side of a backend's answers: exactly one per (index, sample).
// A backend that answers twice, or answers a request the call does not
// have, is stopped at once (the sink answers non-zero) and the call fails
// naming the plugin and the request; the bad answer never reaches the host.
#include "plugin_host/plugin_instances.h"

#include <gtest/gtest.h>

#include <compass/plugin.hpp>
#include <string>
#include <vector>

namespace compass {
namespace {

// What the fake backend's execute delivers: (index, sample) pairs, in order;
// it stops at the first non-zero return, as the SDK's sink does.
struct Script {
  std::vector<std::pair<uint64_t, uint32_t>> answers;
  bool error_answers = false;
  size_t delivered = 0;  // answers the sink accepted
  bool stopped = false;
};
Script* g_script = nullptr;

compass_status* FakeExecute(compass_backend*, const compass_request* requests, uint64_t,
                            const compass_response_sink* sink) {
  for (const auto& [index, sample] : g_script->answers) {
    compass_result r{};
    r.struct_size = sizeof r;
    r.index = index;
    r.kind = requests[0].kind;
    r.sample = sample;
    r.logprob = -1;
    if (g_script->error_answers) {
      r.error_code = COMPASS_INVALID_ARGUMENT;
      r.error_message = sdk::str("refused");
    }
    if (sink->result(sink->ctx, &r) != 0) {
      g_script->stopped = true;
      return nullptr;
    }
    ++g_script->delivered;
  }
  return nullptr;
}
void FakeDestroy(compass_backend*) {}

PluginRecord FakeBackend() {
  PluginRecord record;
  record.kind = PluginKind::kBackend;
  record.name = "fake";
  record.path = "/plugins/libfake.so";
  record.backend.execute = &FakeExecute;
  record.backend.destroy = &FakeDestroy;
  return record;
}

std::vector<compass_request> Requests(uint32_t kind, size_t n, uint32_t samples = 1) {
  std::vector<compass_request> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i].struct_size = sizeof(compass_request);
    out[i].index = i;
    out[i].kind = kind;
    out[i].num_samples = samples;
  }
  return out;
}

// Runs the script; returns the status and how many answers the host saw.
Status ExecuteScript(Script script, const std::vector<compass_request>& requests, Script* after,
                     size_t* seen) {
  g_script = &script;
  BackendInstance backend(FakeBackend(), nullptr);
  *seen = 0;
  Status s = backend.Execute(requests, [&](const compass_result&) {
    ++*seen;
    return Status::Ok();
  });
  *after = script;
  g_script = nullptr;
  return s;
}

TEST(BackendExecute, ASecondAnswerStopsTheBackendAtOnceNamingPluginAndRequest) {
  Script after;
  size_t seen = 0;
  const Status s = ExecuteScript({{{0, 0}, {1, 0}, {1, 0}, {2, 0}}},
                                 Requests(COMPASS_REQUEST_LOGLIKELIHOOD, 3), &after, &seen);
  EXPECT_EQ(s.code(), COMPASS_INTERNAL);
  EXPECT_EQ(s.message(),
            "backend 'fake' execute: answered request 1 twice; this is a bug in the plugin "
            "(/plugins/libfake.so): the run stops here, and every answer stored before is kept");
  EXPECT_TRUE(after.stopped);
  EXPECT_EQ(after.delivered, 2u);
  EXPECT_EQ(seen, 2u);  // the second answer never reached the host
}

TEST(BackendExecute, SamplesOfAGenerationAreDistinctAnswersButEachOnlyOnce) {
  Script after;
  size_t seen = 0;
  Status s = ExecuteScript({{{0, 0}, {0, 1}, {0, 2}, {1, 2}, {1, 0}, {1, 1}}},
                           Requests(COMPASS_REQUEST_GENERATE, 2, 3), &after, &seen);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(seen, 6u);

  s = ExecuteScript({{{0, 0}, {0, 1}, {0, 1}}}, Requests(COMPASS_REQUEST_GENERATE, 1, 3), &after,
                    &seen);
  EXPECT_NE(s.message().find("answered request 0 (sample 1) twice"), std::string::npos)
      << s.message();
  EXPECT_EQ(seen, 2u);
}

TEST(BackendExecute, AnAnswerForAnUnknownIndexStopsTheBackendAtOnce) {
  Script after;
  size_t seen = 0;
  const Status s = ExecuteScript({{{0, 0}, {7, 0}, {1, 0}}},
                                 Requests(COMPASS_REQUEST_LOGLIKELIHOOD, 2), &after, &seen);
  EXPECT_EQ(s.code(), COMPASS_INTERNAL);
  EXPECT_NE(s.message().find("backend 'fake' execute: answered request 7, but the call has 2 "
                             "request(s), 0 to 1; this is a bug in the plugin "
                             "(/plugins/libfake.so)"),
            std::string::npos)
      << s.message();
  EXPECT_TRUE(after.stopped);
  EXPECT_EQ(seen, 1u);
}

TEST(BackendExecute, ErrorAnswersMayRepeat) {
  Script script{{{0, 0}, {0, 0}, {1, 0}}};
  script.error_answers = true;
  Script after;
  size_t seen = 0;
  const Status s = ExecuteScript(script, Requests(COMPASS_REQUEST_GENERATE, 2, 2), &after, &seen);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(seen, 3u);
}

}  // namespace
}  // namespace compass
