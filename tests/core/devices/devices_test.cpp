#include "devices/devices.h"

#include <gtest/gtest.h>

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
  auto devs = ResolveDevices({"cpu:0", "cpu:1", "cpu:2"});
  ASSERT_TRUE(devs.ok()) << devs.status().message();
  ASSERT_EQ(devs->size(), 3u);
  EXPECT_EQ((*devs)[1].name, "cpu:1");
  EXPECT_GT((*devs)[0].memory_bytes, 0u);
  EXPECT_LE((*devs)[0].memory_bytes * 3, AvailableHostMemory() + 3);
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

}  // namespace
}  // namespace compass
