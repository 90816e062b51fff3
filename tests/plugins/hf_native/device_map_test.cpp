// Plans for real model configs on simulated devices, from config.json alone.
// Each test prints its plan (as `compass plan` would) and checks it.
#include "device_map.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "util/strings.h"

namespace compass::hf_native {
namespace {

model::ModelConfig Config(const std::string& name) {
  auto c = model::LoadModelConfig(std::string(COMPASS_SOURCE_DIR) + "/tests/fixtures/configs/" +
                                  name + "/config.json");
  EXPECT_TRUE(c.ok()) << c.status().message();
  return *c;
}

std::vector<PlanDevice> Gpus(int n, double gb, bool bf16, const std::string& model) {
  std::vector<PlanDevice> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(
        {"cuda:" + std::to_string(i), model, static_cast<uint64_t>(gb * 1e9), bf16, true});
  }
  return out;
}

void Print(const std::string& title, const DevicePlan& p) {
  std::printf("== %s: %s, batch %u x %lld tokens, dtype %s\n", title.c_str(),
              p.fits ? "FITS" : "DOES NOT FIT", p.batch_size, static_cast<long long>(p.max_length),
              model::DTypeName(p.dtype));
  for (const auto& u : p.devices) {
    std::printf("   %-7s capacity %10s  weights %10s  cache %10s  act %10s  layers %zu%s\n",
                u.device.c_str(), FormatBytes(u.capacity).c_str(), FormatBytes(u.weights).c_str(),
                FormatBytes(u.cache).c_str(), FormatBytes(u.activations).c_str(), u.layers.size(),
                u.head ? " (+embed/norm/head)" : "");
  }
  if (!p.message.empty()) std::printf("   %s\n", p.message.c_str());
}

size_t TotalLayers(const DevicePlan& p) {
  size_t n = 0;
  for (const auto& u : p.devices) n += u.layers.size();
  return n;
}

TEST(HfNativePlan, Llama2_70B_On4x48GB) {
  PlanRequest r;
  r.config = Config("llama2-70b");
  r.dtype = model::DType::kBF16;
  r.devices = Gpus(4, 48, true, "A40");
  auto p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok()) << p.status().message();
  Print("Llama-2-70B bf16 on 4 x 48 GB", *p);
  ASSERT_TRUE(p->fits) << p->message;
  EXPECT_EQ(TotalLayers(*p), 80u);
  EXPECT_EQ(p->head_device, "cuda:0");
  for (const auto& u : p->devices) {
    EXPECT_GE(u.layers.size(), 15u) << u.device;  // balanced, not all on one
    EXPECT_LE(u.used(), u.capacity);
  }
  // Layers are contiguous per device: activations move at layer boundaries.
  for (size_t i = 1; i < p->layer_device.size(); ++i) {
    EXPECT_GE(p->layer_device[i], p->layer_device[i - 1]);
  }
  EXPECT_GE(p->batch_size, 1u);
}

TEST(HfNativePlan, Llama2_13B_On8x40GB) {
  PlanRequest r;
  r.config = Config("llama2-13b");
  r.dtype = model::DType::kF16;
  r.devices = Gpus(8, 40, true, "A100-40GB");
  auto p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok());
  Print("Llama-2-13B fp16 on 8 x 40 GB", *p);
  ASSERT_TRUE(p->fits);
  EXPECT_EQ(TotalLayers(*p), 40u);
  for (const auto& u : p->devices) {
    EXPECT_GE(u.layers.size(), 4u) << u.device;
    EXPECT_LE(u.layers.size(), 6u) << u.device;
  }
}

TEST(HfNativePlan, Qwen2_72B_On2x80GBFitsAndOn2x40GBIsRefused) {
  PlanRequest r;
  r.config = Config("qwen2-72b");
  r.dtype = model::DType::kBF16;
  r.devices = Gpus(2, 80, true, "H100-80GB");
  auto p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok());
  Print("Qwen2-72B bf16 on 2 x 80 GB", *p);
  EXPECT_TRUE(p->fits) << p->message;
  EXPECT_EQ(p->max_length, 2048);

  r.devices = Gpus(2, 40, true, "A100-40GB");
  p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok());
  Print("Qwen2-72B bf16 on 2 x 40 GB", *p);
  EXPECT_FALSE(p->fits);
  EXPECT_NE(p->message.find("decoder layers could not be placed"), std::string::npos);
  EXPECT_NE(p->message.find("GiB"), std::string::npos);             // with the numbers
  EXPECT_NE(p->message.find("offload = true"), std::string::npos);  // and suggestions
}

TEST(HfNativePlan, SequentialFillsTheFirstDeviceFirst) {
  PlanRequest r;
  r.config = Config("llama2-13b");
  r.dtype = model::DType::kF16;
  r.devices = Gpus(4, 80, true, "H100");
  r.strategy = Strategy::kSequential;
  auto p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok());
  Print("Llama-2-13B sequential on 4 x 80 GB", *p);
  EXPECT_EQ(p->devices[0].layers.size(), 40u);
  EXPECT_TRUE(p->devices[1].layers.empty());

  r.strategy = Strategy::kBalancedLow0;
  p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok());
  EXPECT_LT(p->devices[0].layers.size(), p->devices[1].layers.size());
}

TEST(HfNativePlan, MaxMemoryAndOffload) {
  PlanRequest r;
  r.config = Config("llama2-13b");
  r.dtype = model::DType::kF16;
  r.devices = Gpus(2, 80, true, "H100");
  r.max_memory = {{"cuda:0", 10ull << 30}, {"cuda:1", 10ull << 30}};
  auto p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->fits);
  r.offload = true;
  r.host_memory = 200ull << 30;
  p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok());
  Print("Llama-2-13B with max_memory 10 GiB x 2 and offload", *p);
  EXPECT_TRUE(p->fits) << p->message;
  ASSERT_EQ(p->devices.size(), 3u);
  EXPECT_EQ(p->devices[2].device, "cpu");
  EXPECT_FALSE(p->devices[2].layers.empty());
  EXPECT_EQ(TotalLayers(*p), 40u);
}

TEST(HfNativePlan, MaxMemoryTooSmallForOneLayer) {
  PlanRequest r;
  r.config = Config("llama2-70b");
  r.dtype = model::DType::kBF16;
  r.devices = Gpus(2, 80, true, "H100");
  r.max_memory = {{"cuda:0", 1536ull << 20}, {"cuda:1", 1536ull << 20}};
  auto p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok());
  EXPECT_FALSE(p->fits);
  EXPECT_NE(p->message.find("one decoder layer needs"), std::string::npos) << p->message;
  EXPECT_NE(p->message.find("max_memory"), std::string::npos) << p->message;
}

TEST(HfNativePlan, ExplicitMaps) {
  PlanRequest r;
  r.config = Config("llama2-13b");
  r.dtype = model::DType::kF16;
  r.devices = Gpus(2, 80, true, "H100");
  r.strategy = Strategy::kExplicit;
  r.explicit_map = {{"model.embed_tokens", "cuda:1"},
                    {"model.norm", "cuda:1"},
                    {"lm_head", "cuda:1"},
                    {"model.layers.0-19", "cuda:0"},
                    {"model.layers.20-39", "cuda:1"}};
  auto p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_TRUE(p->fits);
  EXPECT_EQ(p->head_device, "cuda:1");
  EXPECT_EQ(p->layer_device[19], "cuda:0");
  EXPECT_EQ(p->layer_device[20], "cuda:1");

  auto bad = r;
  bad.explicit_map["model.layers.40"] = "cuda:0";
  EXPECT_NE(PlanDeviceMap(bad).status().message().find("outside the model's layers"),
            std::string::npos);
  bad = r;
  bad.explicit_map.erase("model.layers.20-39");
  bad.explicit_map["model.layers.20-38"] = "cuda:1";
  auto s = PlanDeviceMap(bad);
  EXPECT_NE(s.status().message().find("leaves decoder layer(s) 39 unplaced"), std::string::npos)
      << s.status().message();
  bad = r;
  bad.explicit_map["model.embed_tokns"] = "cuda:0";
  s = PlanDeviceMap(bad);
  EXPECT_NE(s.status().message().find("unknown module 'model.embed_tokns'"), std::string::npos);
  EXPECT_NE(s.status().message().find("did you mean 'model.embed_tokens'"), std::string::npos);
  bad = r;
  bad.explicit_map["lm_head"] = "cuda:0";
  s = PlanDeviceMap(bad);
  EXPECT_NE(s.status().message().find("must be on the same device"), std::string::npos);
  bad = r;
  bad.explicit_map["model.layers.0-19"] = "cuda:7";
  s = PlanDeviceMap(bad);
  EXPECT_NE(s.status().message().find("'cuda:7', which is not one of the run's devices"),
            std::string::npos);
}

// What a device budgets for activations: one layer at a time through SDPA
// (no [B, heads, T, T] scores), and the logits on the head device; the
// formula is in docs/backends/hf_native.md.
TEST(HfNativePlan, ActivationsAreBudgetedForSdpa) {
  const model::ModelConfig c = Config("llama2-13b");
  // 2048 * 2 * (4*5120 + 2*(5120 + 2*5120) + 2*5120 + 4*13824)
  //   + 2048 * 5120 * 4 + 2048 * 2048 * 2
  EXPECT_EQ(ActivationBytes(c, model::DType::kF16, 1, 2048, false, true), 528482304u);
  EXPECT_EQ(ActivationBytes(c, model::DType::kF16, 4, 2048, false, true), 4u * 528482304u);
  // Eager float32 scores and probabilities would have added 40 heads * T^2 * 8.
  EXPECT_LT(ActivationBytes(c, model::DType::kF16, 1, 2048, false, true), 40ull * 2048 * 2048 * 8);
  EXPECT_EQ(ActivationBytes(c, model::DType::kF16, 1, 2048, true, false),
            2048ull * 32000 * (8 + 2));
}

// "auto": the largest batch that fits on GPUs, and on CPU devices the batch
// measured fastest there (capped by what fits).
TEST(HfNativePlan, AutoBatchIsTheLargestThatFitsOnGpusAndTheFastestOnCpus) {
  PlanRequest r;
  r.config = Config("llama2-13b");
  r.dtype = model::DType::kF16;
  r.devices = Gpus(1, 80, true, "H100");
  auto p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok());
  Print("Llama-2-13B fp16 on 1 x 80 GB, batch auto", *p);
  ASSERT_TRUE(p->fits);
  EXPECT_GT(p->batch_size, 1u);
  r.batch_size = p->batch_size + 1;
  auto bigger = PlanDeviceMap(r);
  ASSERT_TRUE(bigger.ok());
  EXPECT_FALSE(bigger->fits) << "batch " << r.batch_size << " fits too";

  r.batch_size = 0;
  r.devices = {{"cpu", "cpu", 1ull << 40, true, true}};
  p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->batch_size, kCpuAutoBatch);
  r.devices[0].memory_bytes = 30ull << 30;  // room for the weights and one row
  p = PlanDeviceMap(r);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->fits);
  EXPECT_LE(p->batch_size, kCpuAutoBatch);
}

TEST(HfNativePlan, StrategyNames) {
  EXPECT_EQ(*ParseStrategy("balanced_low_0"), Strategy::kBalancedLow0);
  auto bad = ParseStrategy("balanced_low0");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("did you mean 'balanced_low_0'"), std::string::npos);
}

}  // namespace
}  // namespace compass::hf_native
