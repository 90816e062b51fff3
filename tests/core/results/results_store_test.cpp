#include "results/results_store.h"

#include <gtest/gtest.h>

#include <sqlite3.h>
#include "test_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace compass {
namespace {

namespace fs = std::filesystem;
using compass::testing::Slurp;
fs::path TempDir(const std::string& name) {
  return compass::testing::TempDir("store", name);
}

RunMetadata Meta(const std::string& hash) {
  RunMetadata m;
  m.config_text = "[model]\n";
  m.config_hash = hash;
  m.backend = "good";
  m.devices_json = "[]";
  m.backend_options_json = "{}";
  return m;
}

TEST(ResultsStore, ResponsesRoundTripAndSurviveReopening) {
  const auto dir = TempDir("roundtrip");
  {
    auto store = ResultsStore::Open(dir.string());
    ASSERT_TRUE(store.ok()) << store.status().message();
    ASSERT_TRUE((*store)->BeginRun(Meta("h1"), false).ok());
    StoredResponse r;
    r.hash = "abc";
    r.kind = "generate";
    r.tokens = {5, 6, 7};
    r.num_tokens = 3;
    r.finish_reason = 2;
    ASSERT_TRUE((*store)->PutResponse(r).ok());
  }
  auto store = ResultsStore::Open(dir.string());
  ASSERT_TRUE(store.ok());
  auto got = (*store)->Responses({"abc", "missing"});
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->at("abc").tokens, (std::vector<int32_t>{5, 6, 7}));
  EXPECT_EQ(got->at("abc").finish_reason, 2u);
  EXPECT_EQ((*store)->Run()->config_hash, "h1");
}

TEST(ResultsStore, DifferentRunIsRefusedUnlessRestarted) {
  const auto dir = TempDir("different");
  auto store = ResultsStore::Open(dir.string());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->BeginRun(Meta("h1"), false).ok());
  StoredResponse r;
  r.hash = "x";
  r.kind = "loglikelihood";
  ASSERT_TRUE((*store)->PutResponse(r).ok());
  EXPECT_TRUE((*store)->BeginRun(Meta("h1"), false).ok());  // a resume
  Status s = (*store)->BeginRun(Meta("h2"), false);
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(s.message().find("--restart"), std::string::npos);
  EXPECT_EQ(*(*store)->CountResponses(), 1u);
  ASSERT_TRUE((*store)->BeginRun(Meta("h2"), true).ok());
  EXPECT_EQ(*(*store)->CountResponses(), 0u);
  EXPECT_EQ((*store)->Run()->config_hash, "h2");
}

TEST(ResultsStore, CorruptedFileIsRefusedAndLeftUntouched) {
  const auto dir = TempDir("corrupt");
  const auto file = dir / ResultsStore::kFileName;
  const std::string garbage(4096, 'x');
  std::ofstream(file, std::ios::binary) << garbage;
  auto store = ResultsStore::Open(dir.string());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), COMPASS_DATA_LOSS);
  EXPECT_NE(store.status().message().find(file.string()), std::string::npos);
  std::stringstream ss;
  ss << std::ifstream(file, std::ios::binary).rdbuf();
  EXPECT_EQ(ss.str(), garbage);
}

TEST(ResultsStore, TruncatedDatabaseIsRefused) {
  const auto dir = TempDir("truncated");
  {
    auto store = ResultsStore::Open(dir.string());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->BeginRun(Meta("h"), false).ok());
    for (int i = 0; i < 200; ++i) {
      StoredResponse r;
      r.hash = "h" + std::to_string(i);
      r.kind = "loglikelihood";
      ASSERT_TRUE((*store)->PutResponse(r).ok());
    }
  }
  // Checkpointed into the main file on close; cut it in the middle.
  const auto file = dir / ResultsStore::kFileName;
  fs::remove(dir / "results.sqlite-wal");
  fs::resize_file(file, fs::file_size(file) / 2 + 100);
  auto store = ResultsStore::Open(dir.string());
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), COMPASS_DATA_LOSS);
}

TEST(ResultsStore, ForeignSqliteDatabaseIsRefused) {
  const auto dir = TempDir("foreign");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / ResultsStore::kFileName).c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE mine (x); INSERT INTO mine VALUES (42);", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  auto store = ResultsStore::Open(dir.string());
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("not a Compass results database"), std::string::npos);
}

TEST(ResultsStore, UnwritableOutputFolderIsAClearError) {
  auto store = ResultsStore::Open("/proc/compass-cannot-write-here/run");
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("--output"), std::string::npos);
  auto missing = ResultsStore::OpenExisting("/nonexistent/run");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("not a Compass run folder"), std::string::npos);
}

TEST(ResultsStore, TasksSamplesAggregatesFigures) {
  const auto dir = TempDir("tasks");
  auto store = ResultsStore::Open(dir.string());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->BeginRun(Meta("h"), false).ok());
  StoredTask t{"mmlu", "mmlu", "mcq_accuracy", 2, 8, 8, 1.5, 0};
  std::vector<StoredSample> samples = {{"mmlu", "b/1", "b", 1, "{\"id\":\"b/1\"}", {{"acc", 0}}},
                                       {"mmlu", "a/0", "a", 0, "{\"id\":\"a/0\"}", {{"acc", 1}}}};
  std::vector<StoredAggregate> aggs = {{"mmlu", "", "acc", "analytic", 0.5, 0.5, 2, true}};
  ASSERT_TRUE((*store)->PutTask(t, samples, aggs).ok());
  ASSERT_TRUE((*store)->PutTask(t, samples, aggs).ok());  // replacing is fine
  auto got = (*store)->Samples("mmlu");
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].item_id, "a/0");  // by ordinal
  EXPECT_EQ((*got)[1].metrics.at("acc"), 0.0);
  EXPECT_EQ((*store)->Aggregates("mmlu")->at(0).value, 0.5);
  EXPECT_EQ((*store)->Tasks()->at(0).requests, 8u);
  ASSERT_TRUE((*store)->PutFigures({{"peak_memory", "cuda:0", 1024, COMPASS_UNIT_BYTES}}).ok());
  EXPECT_EQ((*store)->Figures()->at(0).scope, "cuda:0");
}

}  // namespace
}  // namespace compass
