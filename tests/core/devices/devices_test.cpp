#include "devices/devices.h"

#include "devices/gpu_catalogue.h"

#include <gtest/gtest.h>

#include <algorithm>

#include <cctype>
#include <string>

namespace compass {
namespace {

TEST(Devices, ParsesNames) {
  EXPECT_EQ(ParseDeviceName("cpu")->name, "cpu");
  auto d = ParseDeviceName("cpu:2");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->type, DeviceType::kCpu);
  EXPECT_EQ(d->index, 2);
  EXPECT_EQ(ParseDeviceName("cuda:7")->type, DeviceType::kCuda);
  for (const char* bad : {"gpu:0", "cuda", "cuda:", "cuda:x", "cpu:-1", "cuda:1a"}) {
    auto s = ParseDeviceName(bad);
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_NE(s.status().message().find(bad), std::string::npos);
  }
}

TEST(Devices, VirtualCpuDevicesShareHostMemory) {
  // Available memory moves while other processes run: the share is checked
  // against the larger of the readings around the one ResolveDevices takes.
  const uint64_t before = AvailableHostMemory();
  auto devs = ResolveDevices({"cpu:0", "cpu:1", "cpu:2"});
  const uint64_t after = AvailableHostMemory();
  ASSERT_TRUE(devs.ok()) << devs.status().message();
  ASSERT_EQ(devs->size(), 3u);
  EXPECT_EQ((*devs)[1].name, "cpu:1");
  EXPECT_GT((*devs)[0].memory_bytes, 0u);
  EXPECT_LE((*devs)[0].memory_bytes * 3, std::max(before, after) + 3);
  EXPECT_TRUE((*devs)[0].bf16);
}

TEST(Devices, DuplicatesAndMixesAreRefused) {
  EXPECT_FALSE(ResolveDevices({"cpu:0", "cpu:0"}).ok());
  EXPECT_FALSE(ResolveDevices({"cpu", "cpu:1"}).ok());
  EXPECT_FALSE(ResolveDevices({}).ok());
}

TEST(Devices, MissingCudaDeviceIsNotFound) {
  const size_t visible = ProbeCudaDevices().size();
  auto devs = ResolveDevices({"cuda:" + std::to_string(visible)});
  ASSERT_FALSE(devs.ok());
  EXPECT_EQ(devs.status().code(), COMPASS_NOT_FOUND);
  EXPECT_NE(devs.status().message().find("does not exist"), std::string::npos);
}

TEST(Devices, SimulatedGroups) {
  auto devs = ParseSimulatedDevices("4xA40-48GB");
  ASSERT_TRUE(devs.ok()) << devs.status().message();
  ASSERT_EQ(devs->size(), 4u);
  EXPECT_EQ((*devs)[3].name, "cuda:3");
  EXPECT_EQ((*devs)[0].memory_bytes, 48'000'000'000ull);
  EXPECT_TRUE((*devs)[0].bf16);
  EXPECT_TRUE((*devs)[0].simulated);
  EXPECT_NE((*devs)[0].model.find("A40"), std::string::npos);

  devs = ParseSimulatedDevices("2xT4-16GiB-nobf16, 1x80GB");
  ASSERT_TRUE(devs.ok()) << devs.status().message();
  ASSERT_EQ(devs->size(), 3u);
  EXPECT_FALSE((*devs)[0].bf16);
  EXPECT_EQ((*devs)[1].memory_bytes, 16ull << 30);
  EXPECT_TRUE((*devs)[2].bf16);
  EXPECT_EQ((*devs)[2].name, "cuda:2");

  auto bad = ParseSimulatedDevices("four gpus");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("COUNTx"), std::string::npos);
}

// Numbers too large for their type are usage errors naming the input,
// never an exception or a size that wrapped around.
TEST(Devices, HugeNumbersAreRefusedNamingTheInput) {
  for (const std::string spec : {"99999999999999999999xA100-80GB", "2x99999999999999999999999GB",
                                 "1xA40-99999999999999999999999TB", "0xA40", "1025xA40"}) {
    auto devs = ParseSimulatedDevices(spec);
    ASSERT_FALSE(devs.ok()) << spec;
    EXPECT_EQ(devs.status().code(), COMPASS_INVALID_ARGUMENT) << spec;
    EXPECT_NE(devs.status().message().find("--devices: "), std::string::npos)
        << devs.status().message();
    EXPECT_NE(devs.status().message().find("'" + spec + "'"), std::string::npos)
        << devs.status().message();
  }
  auto name = ParseDeviceName("cuda:99999999999999999999");
  ASSERT_FALSE(name.ok());
  EXPECT_NE(name.status().message().find("is not a device index"), std::string::npos);
}

TEST(Devices, EveryCatalogueGpuParses) {
  for (const GpuSpec& g : GpuCatalogue()) {
    auto devs = ParseSimulatedDevices("2x" + g.name);
    ASSERT_TRUE(devs.ok()) << g.name << ": " << devs.status().message();
    ASSERT_EQ(devs->size(), 2u);
    const Device& d = (*devs)[1];
    EXPECT_EQ(d.name, "cuda:1");
    EXPECT_EQ(d.memory_bytes, g.memory_bytes) << g.name;
    EXPECT_EQ(d.model, g.model + " (simulated)");
    EXPECT_EQ(d.bf16, g.bf16) << g.name;
    EXPECT_EQ(d.fp16, g.fp16) << g.name;
    EXPECT_TRUE(d.simulated);
    // bf16 from Ampere (8.0) on, as a probe of the card decides.
    EXPECT_EQ(g.bf16, g.cc_major >= 8) << g.name;
    EXPECT_TRUE(g.fp16) << g.name;
    // Case and separators do not matter.
    std::string lower = g.name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_TRUE(ParseSimulatedDevices("1x" + lower).ok()) << lower;
    // -nobf16 still takes bf16 away.
    EXPECT_FALSE((*ParseSimulatedDevices("1x" + g.name + "-nobf16"))[0].bf16) << g.name;
  }
  EXPECT_EQ(GpuCatalogue().size(), 17u);
}

TEST(Devices, CatalogueBf16Flags) {
  const auto bf16 = [](const std::string& name) {
    auto devs = ParseSimulatedDevices("1x" + name);
    EXPECT_TRUE(devs.ok()) << name << ": " << devs.status().message();
    return devs.ok() && (*devs)[0].bf16;
  };
  for (const char* without : {"P4", "P40", "P100", "T4", "V100-16GB", "V100-32GB"}) {
    EXPECT_FALSE(bf16(without)) << without;
  }
  for (const char* with : {"A10", "A30", "A40", "A100-40GB", "A100-80GB", "L4", "L40S", "H100",
                           "H200", "RTX3090", "RTX4090"}) {
    EXPECT_TRUE(bf16(with)) << with;
  }
}

TEST(Devices, CatalogueSpellings) {
  auto devs = ParseSimulatedDevices("4xA40");
  ASSERT_TRUE(devs.ok()) << devs.status().message();
  ASSERT_EQ(devs->size(), 4u);
  EXPECT_EQ((*devs)[0].model, "NVIDIA A40 (simulated)");
  EXPECT_EQ((*devs)[0].memory_bytes, 48'000'000'000ull);  // as 4xA40-48GB
  EXPECT_TRUE((*devs)[0].bf16);

  // The memory variants: A100-80GB, A100-80, a100_80gb; MODEL-SIZE takes
  // the size from the text and the rest from the catalogue.
  for (const char* spelling : {"A100-80GB", "A100-80", "a100_80gb", "A100-80GiB"}) {
    devs = ParseSimulatedDevices(std::string("8x") + spelling);
    ASSERT_TRUE(devs.ok()) << spelling << ": " << devs.status().message();
    EXPECT_EQ((*devs)[7].model, "NVIDIA A100 80GB (simulated)") << spelling;
    EXPECT_TRUE((*devs)[7].bf16);
  }
  EXPECT_EQ((*ParseSimulatedDevices("1xA100-80GiB"))[0].memory_bytes, 80ull << 30);
  devs = ParseSimulatedDevices("2xV100-32GB");
  ASSERT_TRUE(devs.ok());
  EXPECT_EQ((*devs)[0].model, "Tesla V100 32GB (simulated)");
  EXPECT_FALSE((*devs)[0].bf16);  // the catalogue knows V100 has none, without -nobf16
  EXPECT_EQ((*devs)[0].memory_bytes, 32'000'000'000ull);
  devs = ParseSimulatedDevices("1xT4-16GB");
  ASSERT_TRUE(devs.ok());
  EXPECT_FALSE((*devs)[0].bf16);
  devs = ParseSimulatedDevices("1xRTX 4090, 1xH200");
  ASSERT_TRUE(devs.ok()) << devs.status().message();
  EXPECT_EQ((*devs)[0].model, "NVIDIA GeForce RTX 4090 (simulated)");
  EXPECT_EQ((*devs)[1].memory_bytes, 141'000'000'000ull);
  // A family size the catalogue does not list: the family's flags.
  devs = ParseSimulatedDevices("1xA100-64GB");
  ASSERT_TRUE(devs.ok());
  EXPECT_EQ((*devs)[0].model, "NVIDIA A100 (simulated)");
  EXPECT_TRUE((*devs)[0].bf16);
  // A model the catalogue does not know keeps today's rule: named, with
  // the size given, bf16 unless -nobf16.
  devs = ParseSimulatedDevices("2xMI300X-192GB");
  ASSERT_TRUE(devs.ok()) << devs.status().message();
  EXPECT_EQ((*devs)[0].model, "MI300X (simulated)");
  EXPECT_TRUE((*devs)[0].bf16);
}

TEST(Devices, UnknownOrAmbiguousCatalogueNames) {
  auto bad = ParseSimulatedDevices("4xA50");
  ASSERT_FALSE(bad.ok());
  const std::string& m = bad.status().message();
  EXPECT_NE(m.find("'A50'"), std::string::npos) << m;
  for (const GpuSpec& g : GpuCatalogue()) EXPECT_NE(m.find(g.name), std::string::npos) << m;
  EXPECT_NE(m.find("A50-48GB"), std::string::npos) << m;  // the way out: give the memory

  bad = ParseSimulatedDevices("8xA100");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("A100-40GB or A100-80GB"), std::string::npos)
      << bad.status().message();
  bad = ParseSimulatedDevices("2xV100-nobf16");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("V100-16GB or V100-32GB"), std::string::npos);

  for (const char* text : {"0xA40", "99999999999xA40", "4x", "A40", "4xA40,", "x4"}) {
    EXPECT_FALSE(ParseSimulatedDevices(text).ok()) << text;
  }
}

// NODESxGPUSxGPU: a cluster of equal nodes, devices numbered across them.
TEST(Devices, SimulatedClusters) {
  auto devs = ParseSimulatedDevices("2x8xH100");
  ASSERT_TRUE(devs.ok()) << devs.status().message();
  ASSERT_EQ(devs->size(), 16u);
  EXPECT_EQ(NodeCount(*devs), 2);
  for (size_t i = 0; i < devs->size(); ++i) {
    EXPECT_EQ((*devs)[i].name, "cuda:" + std::to_string(i));
    EXPECT_EQ((*devs)[i].node, static_cast<int>(i / 8)) << i;
    EXPECT_EQ((*devs)[i].model, "NVIDIA H100 80GB (simulated)");
    EXPECT_EQ((*devs)[i].memory_bytes, 80'000'000'000ull);
    EXPECT_TRUE((*devs)[i].bf16);
  }
  EXPECT_TRUE(IsClusterSpec("2x8xH100"));
  EXPECT_TRUE(IsClusterSpec("1x8xA100-80GB"));
  // Every form of a group after the node count.
  devs = ParseSimulatedDevices("3x2xV100-32GB-nobf16");
  ASSERT_TRUE(devs.ok()) << devs.status().message();
  ASSERT_EQ(devs->size(), 6u);
  EXPECT_EQ(devs->back().node, 2);
  EXPECT_FALSE(devs->back().bf16);
  devs = ParseSimulatedDevices("1x4x80GiB");
  ASSERT_TRUE(devs.ok()) << devs.status().message();
  EXPECT_EQ(NodeCount(*devs), 1);

  // The single-machine forms keep meaning one node.
  EXPECT_FALSE(IsClusterSpec("4xA40"));
  EXPECT_FALSE(IsClusterSpec("2x80GiB"));
  devs = ParseSimulatedDevices("4xA40");
  ASSERT_TRUE(devs.ok());
  EXPECT_EQ(NodeCount(*devs), 1);
  for (const Device& d : *devs) EXPECT_EQ(d.node, 0);
  devs = ParseSimulatedDevices("1x80GB,1x40GB");
  ASSERT_TRUE(devs.ok());
  EXPECT_EQ(NodeCount(*devs), 1);
}

TEST(Devices, MalformedClustersAreUsageErrorsNamingTheFlag) {
  const struct {
    const char* spec;
    const char* expected;
  } cases[] = {
      {"0x8xH100", "has 0 nodes"},
      {"2x0xH100", "has 0 GPUs per node"},
      {"2x8x", "names no GPU"},
      {"99999999999x8xH100", "has 99999999999 nodes"},
      {"2x99999999999xH100", "has 99999999999 GPUs per node"},
      {"64x64xH100", "at most 1024 GPUs in all"},
      {"2x8xH900", "'H900' is not in the GPU catalogue"},
      {"2x8xA100", "A100-40GB or A100-80GB"},
      {"2x8xH100,1x4xA40", "mixes a cluster"},
  };
  for (const auto& c : cases) {
    auto devs = ParseSimulatedDevices(c.spec);
    ASSERT_FALSE(devs.ok()) << c.spec;
    const std::string& m = devs.status().message();
    EXPECT_EQ(devs.status().code(), COMPASS_INVALID_ARGUMENT) << m;
    EXPECT_EQ(m.rfind("--devices: ", 0), 0u) << m;
    EXPECT_NE(m.find(c.spec), std::string::npos) << m;
    EXPECT_NE(m.find(c.expected), std::string::npos) << c.spec << ": " << m;
  }
}

}  // namespace
}  // namespace compass
