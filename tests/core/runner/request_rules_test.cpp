// The request rules live in the core: two different backends of one run
// receive byte-identical token ids, already truncated to the context window
// (model.max_length), whatever they would do themselves. Each test backend
// logs every request it computed as "context ids|continuation ids".
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/runner/run_compass.h"
#include "test_files.h"

namespace compass {
namespace {

namespace fs = std::filesystem;

int RunCompass(const std::vector<std::string>& args) {
  return compass::testing::WaitFor(compass::testing::SpawnCompass(args));
}

std::vector<std::vector<int>> Parse(const std::string& ids) {
  std::vector<std::vector<int>> out(1);
  std::istringstream in(ids);
  for (int x; in >> x;) out[0].push_back(x);
  return out;
}

TEST(RequestRules, TwoBackendsReceiveIdenticalTruncatedTokenIds) {
  const fs::path dir = compass::testing::TempDir("rules", "twins");
  fs::create_directories(dir / "model");
  const fs::path cfg = dir / "eval.toml";
  std::vector<std::string> logs;
  for (const std::string backend : {"slow", "twin"}) {
    const fs::path log = dir / (backend + ".log");
    std::ofstream(cfg) << "[model]\npath = \"model\"\ntokenizer = \"bytes\"\nmax_length = 64\n\n"
                       << "[backend." << backend << "]\nlog_file = \"" << log.string() << "\"\n\n"
                       << "[[task]]\ndataset = \"mmlu\"\npath = \"" << COMPASS_SOURCE_DIR
                       << "/tests/fixtures/mmlu\"\nshots = 1\n";
    ASSERT_EQ(RunCompass({"--plugin-dir", COMPASS_SLOW_PLUGIN_DIR, "--backend", backend, "--config",
                          cfg.string(), "--output", (dir / backend).string(), "-q"}),
              0)
        << backend;
    logs.push_back(compass::testing::Slurp(log));
  }
  ASSERT_FALSE(logs[0].empty());
  EXPECT_EQ(logs[0], logs[1]) << "the two backends were asked different things";

  // Every request fits the window: context + continuation <= max_length + 1,
  // and the long 1-shot MMLU prompts were cut from the left (no BOS, 256).
  std::istringstream lines(logs[0]);
  size_t requests = 0, cut = 0;
  for (std::string line; std::getline(lines, line);) {
    const auto bar = line.find('|');
    ASSERT_NE(bar, std::string::npos);
    const auto ctx = Parse(line.substr(0, bar))[0], cont = Parse(line.substr(bar + 1))[0];
    EXPECT_LE(ctx.size() + cont.size(), 65u) << line;
    EXPECT_FALSE(cont.empty());
    cut += !ctx.empty() && ctx[0] != 256;
    ++requests;
  }
  // 20 items x 4 choices; cut to 64 tokens some become identical and are
  // computed once.
  EXPECT_GT(requests, 40u);
  EXPECT_LE(requests, 80u);
  EXPECT_EQ(cut, requests);
  EXPECT_EQ(compass::testing::Slurp(dir / "slow" / "samples.jsonl"),
            compass::testing::Slurp(dir / "twin" / "samples.jsonl"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace compass
