#include "runner/run_rules.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_files.h"

namespace compass {
namespace {

namespace fs = std::filesystem;

TEST(DecideDtype, Bf16OnDevicesWithoutItIsRefusedOrFallsBack) {
  // Yi-9B on four T4-class GPUs, as `compass plan --devices 4xT4-16GB-nobf16`.
  auto devices = ParseSimulatedDevices("4xT4-16GB-nobf16");
  ASSERT_TRUE(devices.ok()) << devices.status().message();
  auto refused = DecideDtype("bfloat16", false, *devices);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), COMPASS_UNSUPPORTED);
  // The catalogue names the model as a probe of the card would.
  EXPECT_NE(refused.status().message().find("cuda:0 (Tesla T4 (simulated))"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("allow_dtype_fallback"), std::string::npos);

  auto fallback = DecideDtype("bfloat16", true, *devices);
  ASSERT_TRUE(fallback.ok());
  EXPECT_EQ(fallback->dtype, "float16");
  EXPECT_NE(fallback->note.find("float16"), std::string::npos);
  EXPECT_NE(fallback->note.find("cuda:3"), std::string::npos) << fallback->note;

  // Devices with bf16, and other dtypes, keep what was asked.
  auto ok = ParseSimulatedDevices("2xA100-80GB");
  ASSERT_TRUE(ok.ok());
  auto kept = DecideDtype("bfloat16", false, *ok);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->dtype, "bfloat16");
  EXPECT_TRUE(kept->note.empty());
  auto fp16 = DecideDtype("float16", false, *devices);
  ASSERT_TRUE(fp16.ok());
  EXPECT_EQ(fp16->dtype, "float16");
}

TEST(ContextWindow, FromConfigJsonOrTheUser) {
  const fs::path dir = compass::testing::TempDir("rules", "window");
  // No config.json (a byte-tokenizer folder): 2048.
  auto none = ContextWindow(0, dir.string());
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 2048);
  std::ofstream(dir / "config.json") << R"({"max_position_embeddings": 8192})";
  EXPECT_EQ(ContextWindow(0, dir.string()).value(), 8192);
  // GPT-2 style names, in lm-evaluation-harness's order.
  std::ofstream(dir / "config.json") << R"({"n_positions": 1024, "n_ctx": 2048})";
  EXPECT_EQ(ContextWindow(0, dir.string()).value(), 1024);
  // The user's model.max_length wins.
  EXPECT_EQ(ContextWindow(512, dir.string()).value(), 512);
  std::ofstream(dir / "config.json") << "{not json";
  auto bad = ContextWindow(0, dir.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("config.json"), std::string::npos);
  EXPECT_NE(bad.status().message().find("model.max_length"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace compass
