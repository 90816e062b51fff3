// `compass plan` on real models' config.json (tests/fixtures/configs) and
// GPUs of the catalogue (`--devices 4xA40`), through the real executable
// and the in-tree backend plugins: the verdicts and numbers users rely on
// before they download 140 GB of weights. Every verdict below is what the
// planners compute; where that is not the obvious answer, a comment says why.
//
// The catalogue reads marketed sizes as decimal GB (an A40 is 48e9 bytes =
// 44.7 GiB, an A100-80GB 80e9 = 74.5 GiB), as `4xA40-48GB` does.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include "test_files.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace {

namespace fs = std::filesystem;
using compass::testing::Slurp;

struct Outcome {
  int exit_code = -1;
  std::string out, err;
};

Outcome RunCompass(const std::string& args) {
  static const fs::path tmp = compass::testing::TempDir("plan_catalogue", "io");
  const fs::path out = tmp / "stdout", err = tmp / "stderr";
  const std::string cmd =
      std::string(COMPASS_EXE) + " " + args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(cmd.c_str());
  Outcome o;
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  o.out = Slurp(out);
  o.err = Slurp(err);
  return o;
}

// A plan config for a fixture model: `[model] path = <fixture dir>`, no task.
std::string Config(const std::string& fixture, const std::string& dtype,
                   const std::string& extra = "") {
  const fs::path dir = compass::testing::TempDir("plan_catalogue", fixture + "_" + dtype);
  const fs::path file = dir / "plan.toml";
  std::ofstream(file) << "[model]\npath = \"" << COMPASS_SOURCE_DIR << "/tests/fixtures/configs/"
                      << fixture << "\"\ndtype = \"" << dtype << "\"\n"
                      << extra;
  return file.string();
}

Outcome Plan(const std::string& backend, const std::string& config, const std::string& devices,
             const std::string& more = "") {
  return RunCompass("plan --backend " + backend + " --config " + config + " --devices " + devices +
                    (more.empty() ? "" : " " + more));
}

nlohmann::json PlanJson(const std::string& backend, const std::string& config,
                        const std::string& devices, const std::string& more = "") {
  const Outcome o = Plan(backend, config, devices, "--json " + more);
  EXPECT_TRUE(o.exit_code == 0 || o.exit_code == 4) << o.exit_code << " " << o.err;
  const auto j = nlohmann::json::parse(o.out, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << o.out;
  return j;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The row of `backend` in the `--backend all` table.
std::string Row(const std::string& table, const std::string& backend) {
  const size_t at = table.find("\n  " + backend + " ");
  if (at == std::string::npos) return "";
  const size_t end = table.find('\n', at + 1);
  return table.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
}

uint64_t Peak(const nlohmann::json& plan) {
  uint64_t peak = 0;
  for (const auto& d : plan["devices"]) {
    const uint64_t used = d["weight_bytes"].get<uint64_t>() + d["cache_bytes"].get<uint64_t>() +
                          d["activation_bytes"].get<uint64_t>();
    peak = std::max(peak, used);
  }
  return peak;
}

TEST(PlanCatalogue, Llama2_70BOn4xA40) {
  // 128.5 GiB of float16 weights over 4 x 44.7 GiB.
  const std::string cfg = Config("llama2-70b", "float16");
  auto o = Plan("paged_tp", cfg, "4xA40", "--set backend.paged_tp.tp=4");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "NVIDIA A40 (simulated)")) << o.out;
  EXPECT_TRUE(Has(o.out, "dtype float16, context window 4096")) << o.out;
  EXPECT_TRUE(Has(o.out, "\nFITS")) << o.out;
  auto j = PlanJson("paged_tp", cfg, "4xA40", "--set backend.paged_tp.tp=4");
  EXPECT_TRUE(j["fits"].get<bool>());
  ASSERT_EQ(j["devices"].size(), 4u);  // one rank per device: 32.1 GiB of weights each
  EXPECT_EQ(j["figures"]["tp"].get<int>(), 4);
  // About 83600 tokens of KV cache (5225 blocks of 16) in what the ranks
  // have left: well beyond one 4096-token sequence.
  EXPECT_GT(j["figures"]["kv_tokens"].get<double>(), 4096 * 16);

  // hf_native fits too: 80 whole layers over the four devices (about 32 GiB
  // of weights each) and an automatic batch of 4 sequences of 4096 tokens,
  // chosen to fill the devices (the fullest is at 44.6 of 44.7 GiB).
  o = Plan("hf_native", cfg, "4xA40");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "\nFITS")) << o.out;
  j = PlanJson("hf_native", cfg, "4xA40");
  EXPECT_TRUE(j["fits"].get<bool>());
  EXPECT_GE(j["figures"]["batch_size"].get<double>(), 1);
  EXPECT_LE(Peak(j), 48'000'000'000ull);
}

TEST(PlanCatalogue, Llama2_13BOn8xA100_40GB) {
  // 40 heads, 40 KV heads: tp = 8 divides both.
  const std::string cfg = Config("llama2-13b", "float16");
  auto o = Plan("paged_tp", cfg, "8xA100-40GB", "--set backend.paged_tp.tp=8");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "NVIDIA A100 40GB (simulated)")) << o.out;
  EXPECT_TRUE(Has(o.out, "\nFITS")) << o.out;
  const auto j = PlanJson("paged_tp", cfg, "8xA100-40GB", "--set backend.paged_tp.tp=8");
  EXPECT_EQ(j["devices"].size(), 8u);
  EXPECT_GT(j["figures"]["kv_tokens"].get<double>(), 0);
  o = Plan("hf_native", cfg, "8xA100-40GB");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "\nFITS")) << o.out;
}

TEST(PlanCatalogue, Llama3_70BRefusesTpThatDoesNotDivideTheHeads) {
  const std::string cfg = Config("llama3-70b", "bfloat16");
  auto o = Plan("paged_tp", cfg, "4xA100-80GB", "--set backend.paged_tp.tp=3");
  EXPECT_EQ(o.exit_code, 2) << o.out;
  EXPECT_TRUE(Has(o.err, "tp = 3 does not divide the model's 64 attention heads")) << o.err;
  EXPECT_FALSE(Has(o.out, "FITS")) << o.out;

  // --backend all on 6 devices: tp = 6 does not divide 64, so paged_tp
  // gets 4 (the largest tp <= 6 dividing 64 with 8 KV heads), and says so.
  o = Plan("all", cfg, "6xA100-80GB");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(Row(o.out, "paged_tp"), "tp = 4 (not 6)")) << o.out;
  EXPECT_TRUE(Has(o.out, "tp = 6 does not divide the model's 64 attention heads")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "paged_tp"), "FITS")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "pipeline"), "stages = 6")) << o.out;

  // A tp the user gives wins, and its refusal is that backend's row.
  o = Plan("all", cfg, "4xA100-80GB", "--set backend.paged_tp.tp=3");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;  // hf_native fits
  const std::string row = Row(o.out, "paged_tp");
  EXPECT_TRUE(Has(row, "tp = 3 (given)")) << o.out;
  EXPECT_TRUE(Has(row, "REFUSED")) << o.out;
  EXPECT_TRUE(Has(row, "64 attention heads")) << o.out;
}

TEST(PlanCatalogue, Bf16OnP4IsRefusedWithTheFix) {
  // Yi-9B in bfloat16 on Pascal cards: refused as a probe of a real P4
  // (compute capability 6.1) would have it, naming the device and the fix.
  const std::string cfg = Config("yi-9b", "bfloat16");
  for (const char* backend : {"hf_native", "paged_tp", "pipeline"}) {
    const auto o = Plan(backend, cfg, "4xP4");
    EXPECT_EQ(o.exit_code, 2) << backend << o.out;
    EXPECT_TRUE(Has(o.err, "cuda:0 (Tesla P4 (simulated)) has no bfloat16 support")) << o.err;
    EXPECT_TRUE(Has(o.err, "model.dtype = \"float16\"")) << o.err;
    EXPECT_TRUE(Has(o.err, "model.allow_dtype_fallback = true")) << o.err;
  }
  auto o = Plan("all", cfg, "4xP4");
  EXPECT_EQ(o.exit_code, 2) << o.out;  // no backend could be planned: as one backend exits
  EXPECT_TRUE(Has(Row(o.out, "hf_native"), "REFUSED: model.dtype = \"bfloat16\"")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "pipeline"), "REFUSED")) << o.out;

  // With the fallback allowed the plan is in float16, and says why.
  o = Plan("hf_native", cfg, "4xP4", "--set model.allow_dtype_fallback=true");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "dtype float16")) << o.out;
  EXPECT_TRUE(Has(o.out, "computing in float16 instead")) << o.out;
  // 16.4 GiB of weights over 4 x 7.5 GiB: hf_native and paged_tp (tp = 4)
  // fit; pipeline does not, even with the one-row micro-batches it falls
  // back to (below).
  o = Plan("all", cfg, "4xP4", "--set model.allow_dtype_fallback=true");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "Note: bfloat16 is not supported on cuda:0 (Tesla P4 (simulated))"))
      << o.out;
  for (const char* backend : {"hf_native", "paged_tp", "pipeline"}) {
    EXPECT_TRUE(Has(Row(o.out, backend), " float16 ")) << o.out;
  }
  EXPECT_TRUE(Has(Row(o.out, "hf_native"), "FITS")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "paged_tp"), "FITS")) << o.out;
  // Even with one row per micro-batch, the last stage (12 layers, the head
  // and the 1 GiB CUDA reserve) exceeds a P4's 7.5 GiB.
  EXPECT_TRUE(Has(Row(o.out, "pipeline"), "DOES NOT FIT: pipeline: stage 3 on cuda:3")) << o.out;
}

TEST(PlanCatalogue, Qwen2_72BOnA100s) {
  // 135.4 GiB of bfloat16 weights. On 2 x A100-80GB (2 x 74.5 GiB here) at
  // Qwen2's own 32768-token window nothing fits: hf_native needs KV cache
  // and activations for a 32768-token sequence on top of the weights.
  const std::string cfg = Config("qwen2-72b", "bfloat16");
  auto o = Plan("all", cfg, "2xA100-80GB");
  EXPECT_EQ(o.exit_code, 4) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "context window 32768")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "hf_native"), "DOES NOT FIT")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "hf_native"), "weights 135.4 GiB")) << o.out;

  // At a 4096-token window (model.max_length) hf_native fits, KV cache for
  // one sequence (batch 1, 4096 tokens, 1.2 GiB) printed. paged_tp does not:
  // at memory_utilization 0.9 a rank may use 67.06 GiB, less than its
  // 67.71 GiB half of the weights.
  const std::string cfg4k = Config("qwen2-72b", "bfloat16", "max_length = 4096\n");
  o = Plan("all", cfg4k, "2xA100-80GB");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(Row(o.out, "hf_native"), "FITS")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "hf_native"), "4096 tok, 1.2 GiB")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "paged_tp"), "DOES NOT FIT")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "paged_tp"), "67.71 GiB of weights")) << o.out;
  auto j = PlanJson("hf_native", cfg4k, "2xA100-80GB");
  EXPECT_TRUE(j["fits"].get<bool>());
  EXPECT_EQ(j["figures"]["batch_size"].get<double>() * j["figures"]["max_length"].get<double>(),
            4096);
  uint64_t cache = 0;
  for (const auto& d : j["devices"]) cache += d["cache_bytes"].get<uint64_t>();
  EXPECT_GT(cache, 0u);

  // On 2 x A100-40GB (2 x 37.3 GiB) even the weights do not fit; the
  // reason gives the numbers.
  o = Plan("hf_native", cfg4k, "2xA100-40GB");
  EXPECT_EQ(o.exit_code, 4) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "DOES NOT FIT: ")) << o.out;
  EXPECT_TRUE(Has(o.out, "decoder layers could not be placed")) << o.out;
  EXPECT_TRUE(Has(o.out, "weights 135.4 GiB")) << o.out;
  EXPECT_TRUE(Has(o.out, "the devices offer 72.5 GiB")) << o.out;
  o = Plan("all", cfg4k, "2xA100-40GB");
  EXPECT_EQ(o.exit_code, 4) << o.out << o.err;
  for (const char* backend : {"hf_native", "paged_tp", "pipeline"}) {
    EXPECT_TRUE(Has(Row(o.out, backend), "DOES NOT FIT: ")) << o.out;
  }
}

TEST(PlanCatalogue, Llama3_8BOn1xH100) {
  const std::string cfg = Config("llama3-8b", "bfloat16");
  auto o = Plan("hf_native", cfg, "1xH100");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "NVIDIA H100 80GB (simulated)")) << o.out;
  EXPECT_TRUE(Has(o.out, "dtype bfloat16, context window 8192")) << o.out;
  o = Plan("paged_tp", cfg, "1xH100");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "kv_tokens")) << o.out;
  auto j = PlanJson("paged_tp", cfg, "1xH100");
  EXPECT_TRUE(j["fits"].get<bool>());
  // About 379000 tokens (46 GiB) of KV cache beside 15 GiB of weights.
  EXPECT_GT(j["figures"]["kv_tokens"].get<double>(), 300000);

  // pipeline with micro-batches of 8 sequences of 8192 tokens (float32
  // logits over Llama-3's 128256-token vocabulary for a whole micro-batch:
  // 44.8 GiB of activations) needs 76.8 GiB, more than the 74.5 GiB here;
  // left to choose, it takes 4 rows, which fit, and says so.
  o = Plan("pipeline", cfg, "1xH100", "--set backend.batch_size=8");
  EXPECT_EQ(o.exit_code, 4) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "needs 76.77 GiB")) << o.out;
  EXPECT_TRUE(Has(o.out, "lower micro_batches (2) or micro_batch_size (8)")) << o.out;
  o = Plan("pipeline", cfg, "1xH100");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "\nFITS")) << o.out;
  EXPECT_TRUE(Has(o.out, "micro_batch_size = 4 (automatic: 8 rows do not fit)")) << o.out;
}

TEST(PlanCatalogue, AllBackendsInOneTableAndOneJsonDocument) {
  const std::string cfg = Config("llama3-8b", "bfloat16");
  auto o = Plan("all", cfg, "1xH100");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;  // hf_native and paged_tp fit
  EXPECT_TRUE(Has(o.out, "Plans on 1 device(s) (1x NVIDIA H100 80GB (simulated) 74.5 GiB)"))
      << o.out;
  EXPECT_TRUE(Has(o.out, "BACKEND")) << o.out;
  EXPECT_TRUE(Has(o.out, "KV CAPACITY")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "hf_native"), "device_map = auto")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "hf_native"), "FITS")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "paged_tp"), "tp = 1")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "paged_tp"), "FITS")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "paged_tp"), " tok, ")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "pipeline"), "stages = 1")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "pipeline"), "FITS")) << o.out;  // with 4 rows per micro-batch

  const auto j = PlanJson("all", cfg, "1xH100");
  EXPECT_TRUE(j["fits"].get<bool>());
  ASSERT_EQ(j["plans"].size(), 3u);
  const char* names[] = {"hf_native", "paged_tp", "pipeline"};
  for (size_t i = 0; i < 3; ++i) {
    const auto& p = j["plans"][i];
    EXPECT_EQ(p["backend"], names[i]);
    // The single-plan shape, plus the table's columns.
    for (const char* key : {"dtype", "max_length", "fits", "message", "devices", "placements",
                            "figures", "layout", "verdict", "peak_device_bytes", "kv_tokens"}) {
      EXPECT_TRUE(p.contains(key)) << names[i] << " lacks " << key;
    }
    EXPECT_EQ(p["dtype"], "bfloat16");
    EXPECT_EQ(p["peak_device_bytes"].get<uint64_t>(), Peak(p));
  }
  EXPECT_EQ(j["plans"][1]["kv_tokens"].get<double>(), j["plans"][1]["figures"]["kv_tokens"]);
  EXPECT_EQ(j["plans"][2]["verdict"], "FITS");

  // A backend's own table in the config wins over the layout `all` picks.
  const std::string given = Config(
      "llama2-70b", "float16", "[backend.paged_tp]\ntp = 2\n\n[backend.pipeline]\nstages = 2\n");
  o = Plan("all", given, "4xA40");
  EXPECT_TRUE(Has(Row(o.out, "paged_tp"), "tp = 2 (given)")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "pipeline"), "stages = 2 (given)")) << o.out;
  const auto jg = PlanJson("all", given, "4xA40");
  EXPECT_EQ(jg["plans"][1]["figures"]["tp"].get<int>(), 2);
  EXPECT_EQ(jg["plans"][2]["figures"]["stages"].get<int>(), 2);
}

}  // namespace

namespace {

// Every in-tree backend refuses its numeric options out of range when it is
// created, before any weight, naming the key as the config spells it and
// the range allowed; numbers too large for 64 bits end as usage errors
// naming the input, never as an "unexpected error".
TEST(PlanCatalogue, OptionsOutOfRangeAreRefusedNamingTheKeyAndTheRange) {
  const std::string config = Config("llama3-8b", "bf16");
  const struct {
    std::string backend, set, expected;
  } cases[] = {
      {"hf_native", "backend.hf_native.threads=-3",
       "backend.hf_native.threads must be between 0 and 4096 (0: libtorch's default), got -3"},
      {"paged_tp", "backend.paged_tp.threads=-1",
       "backend.paged_tp.threads must be between 0 and 4096"},
      {"pipeline", "backend.pipeline.threads=99999",
       "backend.pipeline.threads must be between 0 and 4096 (0: libtorch's default), got 99999"},
      {"hf_native", "backend.hf_native.max_memory={\"cuda:0\"=-5}",
       "backend.hf_native.max_memory.cuda:0 must be a memory size such as \"40GiB\" or a number "
       "of bytes from 0 to 2^64 - 1, got -5"},
      {"hf_native", "backend.hf_native.cuda_reserve=99999999999999999999999TB",
       "backend.hf_native.cuda_reserve is not a memory size: memory size "
       "'99999999999999999999999TB' is too large"},
      {"hf_native",
       "backend.hf_native.device_map={\"model.layers.99999999999999999999\"=\"cuda:0\"}",
       "device_map: 'model.layers.99999999999999999999' is outside the model's layers (0..31)"},
      {"paged_tp", "backend.paged_tp.block_size=1048576",
       "block_size must be a power of two from 1 to 65536 (16 by default), got 1048576"},
      {"paged_tp", "backend.paged_tp.num_blocks=-1",
       "num_blocks must be between 0 and 2147483647 (0: from the memory budget), got -1"},
      {"pipeline", "backend.pipeline.micro_batches=-2",
       "micro_batches must be between 0 and 65536 (0: 2 x stages), got -2"},
      {"hf_native", "model.max_length=0", "model.max_length: must be between 2 and 2147483647"},
      {"hf_native", "backend.batch_size=-1", "backend.batch_size: must be between 1 and"},
  };
  for (const auto& c : cases) {
    const Outcome o = Plan(c.backend, config, "2xA40", "--set '" + c.set + "'");
    EXPECT_EQ(o.exit_code, 2) << c.set << ": " << o.err;
    EXPECT_TRUE(Has(o.err, c.expected)) << c.set << ": " << o.err;
    EXPECT_FALSE(Has(o.err, "unexpected error")) << o.err;
  }
  for (const std::string devices :
       {"99999999999999999999xA100-80GB", "2x99999999999999999999999GB"}) {
    const Outcome o = Plan("hf_native", config, devices);
    EXPECT_EQ(o.exit_code, 2) << devices << ": " << o.err;
    EXPECT_TRUE(Has(o.err, "--devices: ") && Has(o.err, "'" + devices + "'")) << o.err;
    EXPECT_FALSE(Has(o.err, "unexpected error")) << o.err;
  }
}

}  // namespace

namespace {

// Clusters: `--devices NODESxGPUSxGPU` plans paged_tp as tp within a node x
// stages across nodes x replicas on the GPUs left.

// Llama-3.1-405B's parameters from its config.json, counted independently
// of the model library: embedding and LM head (untied), per layer the
// attention (q and o hidden x hidden, k and v hidden x kv_heads x
// head_dim), the MLP (3 x hidden x intermediate) and two norms, the final
// norm.
uint64_t ParamsFromConfig(const std::string& fixture) {
  const auto c = nlohmann::json::parse(
      Slurp(fs::path(COMPASS_SOURCE_DIR) / "tests/fixtures/configs" / fixture / "config.json"));
  const uint64_t h = c["hidden_size"], layers = c["num_hidden_layers"],
                 heads = c["num_attention_heads"], kv = c["num_key_value_heads"],
                 inter = c["intermediate_size"], vocab = c["vocab_size"];
  const uint64_t head_dim = h / heads;
  const uint64_t layer = 2 * h * h + 2 * h * kv * head_dim + 3 * h * inter + 2 * h;
  return 2 * vocab * h + layers * layer + h;
}

std::string Gib2(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / (1ull << 30));
  return buf;
}

TEST(PlanCatalogue, Llama31_405BFitsOnTwoNodesOf8xH100WithTp8And2Stages) {
  const std::string cfg = Config("llama3.1-405b", "bfloat16");
  const uint64_t params = ParamsFromConfig("llama3.1-405b");
  EXPECT_NEAR(static_cast<double>(params), 405.85e9, 0.01e9);  // 811.7 GB in bfloat16

  auto o = Plan("paged_tp", cfg, "2x8xH100");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "on 2 node(s) x 8 GPUs (NVIDIA H100 80GB (simulated), 74.5 GiB each)"))
      << o.out;
  EXPECT_TRUE(Has(o.out, "context window 131072 tokens")) << o.out;
  EXPECT_TRUE(Has(o.out, "tp = 8 x stages = 2 x replicas = 1 (16 of 16 GPUs")) << o.out;
  EXPECT_TRUE(Has(o.out, "stage 0      node 0: cuda:0-cuda:7, layers 0-62, the embedding"))
      << o.out;
  EXPECT_TRUE(Has(o.out, "stage 1      node 1: cuda:8-cuda:15, layers 63-125, the final norm"))
      << o.out;
  // Why a second node: one node of 8 cannot hold a replica.
  EXPECT_TRUE(Has(o.out, "one node does not hold the model: with tp = 8 and 1 stage")) << o.out;
  EXPECT_TRUE(Has(o.out, "\nFITS")) << o.out;

  const auto j = PlanJson("paged_tp", cfg, "2x8xH100");
  EXPECT_TRUE(j["fits"].get<bool>());
  EXPECT_EQ(j["cluster"]["tp"], 8);
  EXPECT_EQ(j["cluster"]["stages"], 2);
  EXPECT_EQ(j["cluster"]["replicas"], 1);
  EXPECT_EQ(j["figures"]["tp"].get<int>(), 8);
  EXPECT_EQ(j["figures"]["stages"].get<int>(), 2);
  ASSERT_EQ(j["devices"].size(), 16u);
  // Every GPU holds about 1/16 of the bfloat16 weights (stage 0 the
  // embedding, stage 1 the LM head: the same size), and all it holds fits.
  const double share = static_cast<double>(params) * 2 / 16;
  uint64_t weights = 0;
  for (const auto& d : j["devices"]) {
    const uint64_t w = d["weight_bytes"];
    weights += w;
    EXPECT_NEAR(static_cast<double>(w), share, share * 0.001) << d;
    EXPECT_LE(d["weight_bytes"].get<uint64_t>() + d["cache_bytes"].get<uint64_t>() +
                  d["activation_bytes"].get<uint64_t>(),
              d["capacity_bytes"].get<uint64_t>())
        << d;
    EXPECT_GT(d["cache_bytes"].get<uint64_t>(), 0u) << d;
  }
  EXPECT_NEAR(static_cast<double>(weights), static_cast<double>(params) * 2, 16.0);
  // The printed per-GPU weights are the JSON's.
  EXPECT_TRUE(Has(o.out, "per GPU      stage 0: weights " +
                             Gib2(j["devices"][0]["weight_bytes"].get<double>())))
      << o.out;
  // KV capacity: at least one sequence of the full window per replica; the
  // tokens per GPU x the bytes a token takes there (63 layers x K and V x
  // 1 KV head of 128 x 2 bytes with tp = 8) are the cache bytes.
  const uint64_t kv_tokens = j["cluster"]["kv_tokens_per_replica"];
  EXPECT_GE(kv_tokens, 131072u);
  EXPECT_EQ(j["cluster"]["kv_sequences_per_replica"].get<uint64_t>(), kv_tokens / 131072);
  EXPECT_EQ(j["devices"][0]["cache_bytes"].get<uint64_t>(), kv_tokens * 63 * 2 * 1 * 128 * 2);
  EXPECT_TRUE(Has(o.out, std::to_string(kv_tokens) + " tokens per replica")) << o.out;
}

TEST(PlanCatalogue, Llama31_405BIsRefusedOnOneNodeOf8xH100WithTheNumbersAndWhatFits) {
  const std::string cfg = Config("llama3.1-405b", "bfloat16");
  const auto o = Plan("paged_tp", cfg, "1x8xH100");
  EXPECT_EQ(o.exit_code, 4) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "tp = 8 x stages = 1 x replicas = 1")) << o.out;
  EXPECT_TRUE(Has(o.out, "DOES NOT FIT: on 1 node of 8 x H100, with tp = 8 and 1 stage a GPU"))
      << o.out;
  // Needed against available, per GPU: an eighth of the weights alone is
  // more than the 0.9 of 80e9 bytes paged_tp may use.
  const double eighth = static_cast<double>(ParamsFromConfig("llama3.1-405b")) * 2 / 8;
  EXPECT_TRUE(Has(o.out, "needs " + Gib2(eighth) + " of weights")) << Gib2(eighth) << "\n" << o.out;
  EXPECT_TRUE(Has(o.out, "but paged_tp may use " + Gib2(80e9 * 0.9) + " of its " + Gib2(80e9)))
      << o.out;
  EXPECT_TRUE(Has(o.out,
                  "it needs 2 nodes of 8 x H100 with tp = 8 and 2 stages (--devices "
                  "2x8xH100)"))
      << o.out;
  const auto j = PlanJson("paged_tp", cfg, "1x8xH100");
  EXPECT_FALSE(j["fits"].get<bool>());
  EXPECT_EQ(j["cluster"]["fits_on"]["devices"], "2x8xH100");
  EXPECT_EQ(j["cluster"]["fits_on"]["stages"], 2);
}

TEST(PlanCatalogue, Llama3_70BOnOneNodeOf8xH100NeedsNoStages) {
  // 131.4 GiB of bfloat16 weights: tp = 2 leaves too little of a GPU's 67
  // GiB, tp = 4 fits, and the other four GPUs hold a second replica.
  const std::string cfg = Config("llama3-70b", "bfloat16");
  const auto o = Plan("paged_tp", cfg, "1x8xH100");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  const auto j = PlanJson("paged_tp", cfg, "1x8xH100");
  EXPECT_TRUE(j["fits"].get<bool>());
  EXPECT_EQ(j["cluster"]["stages"], 1);
  const int tp = j["cluster"]["tp"], replicas = j["cluster"]["replicas"];
  EXPECT_EQ(tp, 4);
  EXPECT_EQ(replicas, 2);
  EXPECT_TRUE(Has(o.out, "tp = 4 x stages = 1 x replicas = 2 (8 of 8 GPUs")) << o.out;
  EXPECT_EQ(j["cluster"]["kv_tokens"].get<uint64_t>(),
            2 * j["cluster"]["kv_tokens_per_replica"].get<uint64_t>());
  EXPECT_FALSE(Has(o.out, "one node does not hold")) << o.out;
}

TEST(PlanCatalogue, Llama3_8BOnTwoNodesOf8xA100GivesReplicas) {
  const std::string cfg = Config("llama3-8b", "bfloat16");
  const auto o = Plan("paged_tp", cfg, "2x8xA100-80GB");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "tp = 1 x stages = 1 x replicas = 16 (16 of 16 GPUs")) << o.out;
  const auto j = PlanJson("paged_tp", cfg, "2x8xA100-80GB");
  EXPECT_GT(j["cluster"]["replicas"].get<int>(), 1);
  EXPECT_EQ(j["cluster"]["kv_sequences"].get<uint64_t>(),
            16 * j["cluster"]["kv_sequences_per_replica"].get<uint64_t>());
}

TEST(PlanCatalogue, ClusterLayoutGivenIsVerified) {
  const std::string cfg = Config("llama3.1-405b", "bfloat16");
  // Given and right: planned as given.
  auto o = Plan("paged_tp", cfg, "2x8xH100",
                "--set backend.paged_tp.tp=8 --set backend.paged_tp.stages=2");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "tp = 8 x stages = 2 x replicas = 1 (16 of 16 GPUs")) << o.out;
  EXPECT_TRUE(Has(o.out, "(given)")) << o.out;
  // A tp across nodes, one not dividing a node, more GPUs than there are:
  // usage errors with the fix.
  o = Plan("paged_tp", cfg, "2x8xH100", "--set backend.paged_tp.tp=16");
  EXPECT_EQ(o.exit_code, 2) << o.out;
  EXPECT_TRUE(Has(o.err, "paged_tp: tp = 16 would span 2 nodes, but a node has 8 GPUs")) << o.err;
  EXPECT_TRUE(Has(o.err, "use tp = 8 with stages = 2")) << o.err;
  o = Plan("paged_tp", cfg, "2x8xH100", "--set backend.paged_tp.tp=3");
  EXPECT_EQ(o.exit_code, 2) << o.out;
  EXPECT_TRUE(Has(o.err, "tp = 3 does not divide the 8 GPUs of a node")) << o.err;
  o = Plan("paged_tp", cfg, "2x8xH100",
           "--set backend.paged_tp.stages=3 --set backend.paged_tp.tp=8");
  EXPECT_EQ(o.exit_code, 2) << o.out;
  EXPECT_TRUE(Has(o.err, "stages = 3 x tp = 8 needs 24 GPUs")) << o.err;
  // Given and too small: does not fit, with the numbers.
  o = Plan("paged_tp", cfg, "2x8xH100",
           "--set backend.paged_tp.tp=4 --set backend.paged_tp.stages=2");
  EXPECT_EQ(o.exit_code, 4) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "DOES NOT FIT: on 2 nodes of 8 x H100, with tp = 4 and 2 stages"))
      << o.out;
  // Given stages only: the smallest tp that fits with them.
  o = Plan("paged_tp", cfg, "2x8xH100", "--set backend.paged_tp.stages=2");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_TRUE(Has(o.out, "tp = 8 x stages = 2")) << o.out;
}

TEST(PlanCatalogue, ClusterInTheAllBackendsTable) {
  const std::string cfg = Config("llama3.1-405b", "bfloat16");
  const auto o = Plan("all", cfg, "2x8xH100");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;  // paged_tp fits
  EXPECT_TRUE(Has(o.out, "Plans on 2 nodes x 8 GPUs")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "paged_tp"), "tp = 8 x stages = 2 x replicas = 1")) << o.out;
  EXPECT_TRUE(Has(Row(o.out, "paged_tp"), "FITS")) << o.out;
  // hf_native and pipeline run in one process: on the first node only,
  // where 811 GB do not fit.
  EXPECT_TRUE(Has(Row(o.out, "hf_native"), "DOES NOT FIT")) << o.out;
  EXPECT_TRUE(Has(o.out, "hf_native: one process on one node: planned on node 0's 8 GPUs"))
      << o.out;
  // Alone, a one-process backend on several nodes is a usage error with the way out.
  for (const char* backend : {"hf_native", "pipeline"}) {
    const auto one = Plan(backend, cfg, "2x8xH100");
    EXPECT_EQ(one.exit_code, 2) << one.out << one.err;
    EXPECT_TRUE(Has(one.err, "--devices '2x8xH100' spans 2 nodes, but " + std::string(backend) +
                                 " runs in one process on one machine"))
        << one.err;
    EXPECT_TRUE(Has(one.err, "--backend paged_tp")) << one.err;
  }
}

TEST(PlanCatalogue, MalformedClusterDevicesAreUsageErrorsNamingTheFlag) {
  const std::string cfg = Config("llama3-8b", "bfloat16");
  for (const std::string devices :
       {"0x8xH100", "2x0xH100", "2x8x", "99999999999x8xH100", "2x8xH900"}) {
    for (const char* backend : {"paged_tp", "all"}) {
      const Outcome o = Plan(backend, cfg, devices);
      EXPECT_EQ(o.exit_code, 2) << devices << ": " << o.out << o.err;
      EXPECT_TRUE(Has(o.err, "--devices: ") && Has(o.err, "'" + devices + "'")) << o.err;
      EXPECT_FALSE(Has(o.out, "FITS")) << o.out;
    }
  }
  // The one-node forms keep working: 4xA40 is one node of four.
  const Outcome o = Plan("paged_tp", cfg, "4xA40");
  EXPECT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_FALSE(Has(o.out, "Cluster plan")) << o.out;
}

}  // namespace
