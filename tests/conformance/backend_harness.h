// Drives an in-tree backend through the real plugin loader on the tiny
// models of every architecture variant, with transformers' goldens
// (tests/fixtures/models) to compare with. Shared by the cross-backend
// conformance suite and the backends' own tests.
#ifndef COMPASS_TESTS_CONFORMANCE_BACKEND_HARNESS_H_
#define COMPASS_TESTS_CONFORMANCE_BACKEND_HARNESS_H_

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <compass/plugin.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "models/model_config.h"
#include "models/safetensors.h"
#include "models/tiny_model.h"
#include "plugin_host/host_services.h"
#include "plugin_host/plugin_instances.h"
#include "plugin_host/plugin_registry.h"

namespace compass::testing {

struct Golden {
  std::string variant, dir;
  std::vector<std::vector<int32_t>> prompts, generations;
  std::vector<std::vector<float>> logits;  // per prompt: [len * vocab]
  int64_t vocab = 0;
};

// The plugins found in `dir` (loaded once per folder).
inline const PluginRegistry& Registry(const std::string& dir = COMPASS_PLUGIN_DIR) {
  static std::map<std::string, std::unique_ptr<PluginRegistry>> registries;
  auto& r = registries[dir];
  if (!r) r = std::make_unique<PluginRegistry>(PluginRegistry::Discover({dir}));
  return *r;
}

inline std::vector<Golden> LoadGoldens() {
  namespace fs = std::filesystem;
  std::vector<Golden> out;
  const fs::path root = fs::path(COMPASS_SOURCE_DIR) / "tests/fixtures/models";
  const fs::path models =
      fs::temp_directory_path() / ("compass_backends_" + std::to_string(::getpid()));
  for (const auto& name : model::TinyModelVariants()) {
    if (!fs::exists(root / name / "golden.json")) continue;
    Golden g;
    g.variant = name;
    g.dir = (models / name).string();
    auto spec = model::TinyModelVariant(name);
    EXPECT_TRUE(spec.ok());
    auto files = model::WriteTinyModel(*spec, g.dir);
    EXPECT_TRUE(files.ok()) << files.status().message();
    std::ifstream f(root / name / "golden.json");
    const nlohmann::json j = nlohmann::json::parse(f);
    EXPECT_EQ(j["weights_checksum"], files->weights_checksum) << name;
    g.prompts = j["prompts"].get<std::vector<std::vector<int32_t>>>();
    g.generations = j["generations"].get<std::vector<std::vector<int32_t>>>();
    auto st = model::SafetensorsFile::Open((root / name / "golden.safetensors").string());
    EXPECT_TRUE(st.ok());
    for (size_t p = 0; p < g.prompts.size(); ++p) {
      const auto* t = (*st)->Find("logits." + std::to_string(p));
      const float* data = static_cast<const float*>((*st)->data(*t));
      g.vocab = t->shape[1];
      g.logits.emplace_back(data, data + t->numel());
    }
    out.push_back(std::move(g));
  }
  return out;
}

inline const std::vector<Golden>& Goldens() {
  static const std::vector<Golden> g = LoadGoldens();
  return g;
}

// log_softmax(logits[pos])[token] from the golden logits, in double;
// `argmax` tells whether `token` is the most likely one.
inline double GoldenLogProb(const Golden& g, size_t prompt, size_t pos, int32_t token,
                            bool* argmax) {
  const float* row = g.logits[prompt].data() + pos * g.vocab;
  double mx = row[0];
  int64_t best = 0;
  for (int64_t v = 1; v < g.vocab; ++v) {
    if (row[v] > mx) {
      mx = row[v];
      best = v;
    }
  }
  double sum = 0;
  for (int64_t v = 0; v < g.vocab; ++v) sum += std::exp(row[v] - mx);
  if (argmax) *argmax = best == token;
  return row[token] - mx - std::log(sum);
}

// The tiny models have no tokenizer: the host's vocabulary is the model's,
// and token i reads "<i>" in a text (for stop strings).
inline const std::vector<std::string>& TokenTexts(int64_t vocab) {
  static std::map<int64_t, std::vector<std::string>> tables;
  auto& t = tables[vocab];
  if (t.empty()) {
    for (int64_t i = 0; i < vocab; ++i) t.push_back("<" + std::to_string(i) + ">");
  }
  return t;
}

// A created and loaded backend with everything its config points to.
struct LoadedBackend {
  PluginHost host;
  std::vector<compass_device_spec> specs;
  std::vector<compass_str> token_bytes;
  std::string model_dir, options;
  std::unique_ptr<BackendInstance> instance;
};

struct BackendSpec {
  std::string name;
  std::vector<std::string> devices = {"cpu"};
  std::string options = "{}";
  std::string plugin_dir = COMPASS_PLUGIN_DIR;
  uint32_t world = 1;  // the launch's processes (this one is rank 0)
};

// `vocab` is the host's vocabulary (0: the model folder's config.json).
// `before_load` sees the host before the backend loads (e.g. to watch its
// progress or to cancel).
inline std::unique_ptr<LoadedBackend> MakeBackend(
    const BackendSpec& spec, const std::string& model_dir, uint32_t batch, int64_t max_length = 256,
    Status* error = nullptr, int64_t vocab = 0,
    const std::function<void(PluginHost&)>& before_load = {}) {
  if (vocab == 0) {
    const auto model_config = model::LoadModelConfig(model_dir);
    EXPECT_TRUE(model_config.ok());
    vocab = model_config->vocab_size;
  }
  auto b = std::make_unique<LoadedBackend>();
  b->model_dir = model_dir;
  b->options = spec.options;
  auto record = Registry(spec.plugin_dir).Find(PluginKind::kBackend, spec.name);
  EXPECT_TRUE(record.ok()) << record.status().message();
  for (const auto& d : spec.devices) {
    b->specs.push_back({sizeof(compass_device_spec), sdk::str(d), sdk::str("cpu"), 1ull << 32,
                        COMPASS_DEVICE_BF16 | COMPASS_DEVICE_FP16});
  }
  for (const auto& t : TokenTexts(vocab)) b->token_bytes.push_back(sdk::str(t));
  compass_backend_config c{};
  c.struct_size = sizeof c;
  c.model_path = sdk::str(b->model_dir);
  c.dtype = sdk::str("float32");
  c.devices = b->specs.data();
  c.num_devices = b->specs.size();
  c.options_json = sdk::str(b->options);
  c.max_batch_size = batch;
  c.bos_token_id = 1;
  c.pad_token_id = -1;
  c.vocab_size = static_cast<uint32_t>(vocab);
  c.max_length = static_cast<uint64_t>(max_length);
  c.token_bytes = b->token_bytes.data();
  c.num_token_bytes = b->token_bytes.size();
  c.host_memory_bytes = 8ull << 30;
  c.process_world = spec.world;
  auto created = BackendInstance::Create(**record, b->host, c);
  if (!created.ok()) {
    if (error) *error = created.status();
    return nullptr;
  }
  b->instance = std::move(*created);
  if (before_load) before_load(b->host);
  Status loaded = b->instance->Load();
  if (!loaded.ok()) {
    if (error) *error = loaded;
    return nullptr;
  }
  return b;
}

// One request with the buffers it points to.
struct TestRequest {
  std::vector<int32_t> context, continuation;
  std::vector<int32_t> stop_ids;
  std::vector<std::string> stop;
  uint32_t max_new_tokens = 0;
  float temperature = 0, top_p = 1;
  int32_t top_k = 0;
  uint32_t num_samples = 1;
  uint64_t seed = 0;
  bool generate = false;
};

// What came back for one request (or one sample).
struct TestResult {
  int32_t error_code = -1;
  std::string error;
  double logprob = NAN;
  bool is_greedy = false;
  std::vector<float> token_logprobs;
  std::vector<int32_t> greedy_tokens, tokens;
  uint32_t finish_reason = 99;
};

inline std::vector<compass_request> ToAbi(const std::vector<TestRequest>& requests,
                                          std::vector<std::vector<compass_str>>& stops) {
  stops.assign(requests.size(), {});
  std::vector<compass_request> abi;
  for (size_t i = 0; i < requests.size(); ++i) {
    const TestRequest& t = requests[i];
    compass_request r{};
    r.struct_size = sizeof r;
    r.index = i;
    r.kind = t.generate ? COMPASS_REQUEST_GENERATE : COMPASS_REQUEST_LOGLIKELIHOOD;
    r.context = {t.context.data(), t.context.size()};
    r.continuation = {t.continuation.data(), t.continuation.size()};
    for (const auto& s : t.stop) stops[i].push_back(sdk::str(s));
    r.stop = stops[i].data();
    r.num_stop = stops[i].size();
    r.stop_token_ids = {t.stop_ids.data(), t.stop_ids.size()};
    r.max_new_tokens = t.max_new_tokens;
    r.num_samples = t.num_samples;
    r.temperature = t.temperature;
    r.top_p = t.top_p;
    r.top_k = t.top_k;
    r.seed = t.seed;
    abi.push_back(r);
  }
  return abi;
}

// Runs `requests` in one execute call; results[i][sample].
inline std::vector<std::vector<TestResult>> Execute(LoadedBackend& b,
                                                    const std::vector<TestRequest>& requests,
                                                    Status* status = nullptr) {
  std::vector<std::vector<compass_str>> stops;
  const std::vector<compass_request> abi = ToAbi(requests, stops);
  std::vector<std::vector<TestResult>> out(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    out[i].resize(requests[i].generate ? std::max(1u, requests[i].num_samples) : 1);
  }
  Status s = b.instance->Execute(abi, [&](const compass_result& r) {
    TestResult& x = out[r.index][r.sample];
    EXPECT_EQ(x.error_code, -1) << "two results for request " << r.index << " sample " << r.sample;
    x.error_code = r.error_code;
    x.error = std::string(sdk::view(r.error_message));
    x.logprob = r.logprob;
    x.is_greedy = r.is_greedy != 0;
    if (r.token_logprobs)
      x.token_logprobs.assign(r.token_logprobs, r.token_logprobs + r.num_tokens);
    if (r.greedy_tokens) x.greedy_tokens.assign(r.greedy_tokens, r.greedy_tokens + r.num_tokens);
    x.tokens.assign(r.tokens.ids, r.tokens.ids + r.tokens.size);
    x.finish_reason = r.finish_reason;
    return Status::Ok();
  });
  if (status) {
    *status = s;
  } else {
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t k = 0; k < out[i].size(); ++k) {
      EXPECT_NE(out[i][k].error_code, -1) << "no result for request " << i << " sample " << k;
    }
  }
  return out;
}

// Loglikelihood requests over each golden prompt, with the first generated
// token appended to the continuation: the model's input is then exactly the
// golden prompt, as transformers saw it (which matters for dynamic RoPE,
// whose frequencies depend on the sequence length). `expected` and `greedy`
// come from the golden logits.
struct LlCase {
  TestRequest request;
  double expected = 0;
  bool greedy = true;
};

inline std::vector<LlCase> LoglikelihoodCases(const Golden& g) {
  std::vector<LlCase> out;
  for (size_t p = 0; p < g.prompts.size(); ++p) {
    std::vector<int32_t> text = g.prompts[p];
    text.push_back(g.generations[p][0]);
    for (size_t k : {size_t{1}, text.size() / 2, text.size() - 1}) {
      LlCase c;
      c.request.context.assign(text.begin(), text.begin() + k);
      c.request.continuation.assign(text.begin() + k, text.end());
      for (size_t t = k; t < text.size(); ++t) {
        bool am = false;
        c.expected += GoldenLogProb(g, p, t - 1, text[t], &am);
        c.greedy = c.greedy && am;
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

inline std::vector<TestRequest> Requests(const std::vector<LlCase>& cases) {
  std::vector<TestRequest> out;
  for (const auto& c : cases) out.push_back(c.request);
  return out;
}

inline std::vector<double> LogProbs(const std::vector<std::vector<TestResult>>& results) {
  std::vector<double> out;
  for (const auto& r : results) out.push_back(r[0].logprob);
  return out;
}

}  // namespace compass::testing

#endif  // COMPASS_TESTS_CONFORMANCE_BACKEND_HARNESS_H_
