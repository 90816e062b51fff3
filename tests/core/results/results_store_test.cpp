#include "results/results_store.h"

#include <gtest/gtest.h>

#include <sqlite3.h>
#include "test_files.h"

#include <cmath>
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

void Sql(const fs::path& dir, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / ResultsStore::kFileName).c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(db);
}

StoredResponse Response(const std::string& hash, double logprob) {
  StoredResponse r;
  r.hash = hash;
  r.kind = "loglikelihood";
  r.logprob = logprob;
  r.num_tokens = 1;
  return r;
}

TEST(ResultsStore, RunsUnderDifferentLabelsShareOneDatabaseIndependently) {
  const auto dir = TempDir("labels");
  {
    auto a = ResultsStore::Open(dir.string(), "hf_native");
    auto b = ResultsStore::Open(dir.string(), "paged_tp");
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_TRUE((*a)->BeginRun(Meta("h"), false).ok());
    RunMetadata mb = Meta("h");
    mb.backend = "paged_tp";
    ASSERT_TRUE((*b)->BeginRun(mb, false).ok());
    ASSERT_TRUE((*a)->PutResponse(Response("x", -1.0)).ok());
    ASSERT_TRUE((*b)->PutResponse(Response("x", -2.0)).ok());
    ASSERT_TRUE((*b)->PutResponse(Response("y", -3.0)).ok());
    ASSERT_TRUE((*a)->PutFigures({{"f", "host", 1, 0}}).ok());
    ASSERT_TRUE((*b)->PutFigures({{"f", "host", 2, 0}}).ok());
    // Restarting one label leaves the other as it was.
    ASSERT_TRUE((*b)->BeginRun(mb, true).ok());
    ASSERT_TRUE((*b)->PutResponse(Response("x", -4.0)).ok());
  }
  auto a = ResultsStore::OpenExisting(dir.string(), "hf_native");
  auto b = ResultsStore::OpenExisting(dir.string(), "paged_tp");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ((*a)->Labels().value(), (std::vector<std::string>{"hf_native", "paged_tp"}));
  EXPECT_EQ((*a)->Responses({"x"})->at("x").logprob, -1.0);
  EXPECT_EQ((*b)->Responses({"x"})->at("x").logprob, -4.0);
  EXPECT_EQ(*(*a)->CountResponses(), 1u);
  EXPECT_EQ(*(*b)->CountResponses(), 1u);  // "y" went with the restart
  EXPECT_EQ((*a)->Figures()->at(0).value, 1.0);
  EXPECT_TRUE((*b)->Figures()->empty());
  EXPECT_EQ((*b)->Run()->backend, "paged_tp");
  auto none = ResultsStore::OpenExisting(dir.string(), "pipeline");
  ASSERT_TRUE(none.ok());
  EXPECT_NE(none->get()->Run().status().message().find("holds no run under 'pipeline'"),
            std::string::npos);
}

TEST(ResultsStore, AVersion1DatabaseIsUpgradedKeepingItsRun) {
  const auto dir = TempDir("version1");
  // The schema of the first release, as it wrote it.
  Sql(dir, R"sql(
PRAGMA application_id=1129136979; PRAGMA user_version=1;
CREATE TABLE run (id INTEGER PRIMARY KEY CHECK (id = 1), config_text TEXT, config_hash TEXT,
  compass_version TEXT, git_hash TEXT, backend TEXT, backend_version TEXT, model_path TEXT,
  dtype TEXT, devices_json TEXT, backend_options_json TEXT, started_at TEXT, finished_at TEXT,
  seconds REAL, notes_json TEXT);
CREATE TABLE responses (hash TEXT PRIMARY KEY, kind TEXT NOT NULL, logprob REAL,
  is_greedy INTEGER, num_tokens INTEGER, tokens_json TEXT, finish_reason INTEGER,
  created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
CREATE TABLE tasks (name TEXT PRIMARY KEY, dataset TEXT, scorer TEXT, items INTEGER,
  requests INTEGER, computed INTEGER, seconds REAL, ordinal INTEGER);
CREATE TABLE samples (task TEXT, item_id TEXT, grp TEXT, ordinal INTEGER, sample_json TEXT,
  metrics_json TEXT, PRIMARY KEY (task, item_id));
CREATE TABLE aggregates (task TEXT, grp TEXT, metric TEXT, value REAL, stderr REAL,
  stderr_method TEXT, count INTEGER, higher_is_better INTEGER, PRIMARY KEY (task, grp, metric));
CREATE TABLE figures (name TEXT, scope TEXT, value REAL, unit INTEGER, PRIMARY KEY (name, scope));
INSERT INTO run (id, config_hash, backend, notes_json) VALUES (1, 'h', 'good', '[]');
INSERT INTO responses (hash, kind, logprob, is_greedy, num_tokens, finish_reason)
  VALUES ('abc', 'loglikelihood', -1.5, 1, 2, 0);
INSERT INTO tasks VALUES ('mmlu', 'mmlu', 'mcq_accuracy', 1, 1, 1, 0.5, 0);
INSERT INTO samples VALUES ('mmlu', 'a/0', 'a', 0, '{}', '{"acc": 1}');
INSERT INTO aggregates VALUES ('mmlu', '', 'acc', 1.0, 0.0, 'analytic', 1, 1);
INSERT INTO figures VALUES ('load_seconds', '', 2.5, 0);
)sql");
  // Reading (as `compass report` does) upgrades it once.
  auto store = ResultsStore::OpenExisting(dir.string());
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->Run()->config_hash, "h");
  EXPECT_EQ((*store)->Responses({"abc"})->at("abc").logprob, -1.5);
  EXPECT_EQ((*store)->Samples("mmlu")->at(0).metrics.at("acc"), 1.0);
  EXPECT_EQ((*store)->Aggregates("mmlu")->at(0).value, 1.0);
  EXPECT_EQ((*store)->Figures()->at(0).value, 2.5);
  store->reset();
  // And a resume of the same run finds its response.
  auto resumed = ResultsStore::Open(dir.string());
  ASSERT_TRUE(resumed.ok()) << resumed.status().message();
  ASSERT_TRUE((*resumed)->BeginRun(Meta("h"), false).ok());
  EXPECT_EQ(*(*resumed)->CountResponses(), 1u);
}

TEST(ResultsStore, ANonFiniteLogProbIsRefusedNotStoredAsNothing) {
  const auto dir = TempDir("nan");
  auto store = ResultsStore::Open(dir.string());
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE((*store)->BeginRun(Meta("h"), false).ok());
  for (double bad : {std::nan(""), -double(INFINITY)}) {
    const Status s = (*store)->PutResponse(Response("n", bad));
    EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
    EXPECT_NE(s.message().find("non-finite"), std::string::npos);
  }
  StoredResponse r = Response("t", -1.0);
  r.token_logprobs = {-0.5f, NAN};
  EXPECT_FALSE((*store)->PutResponse(r).ok());
  EXPECT_EQ(*(*store)->CountResponses(), 0u);
}

TEST(ResultsStore, AMissingOrWronglyTypedNumberIsCorruptionNotZero) {
  const auto dir = TempDir("types");
  {
    auto store = ResultsStore::Open(dir.string());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE((*store)->BeginRun(Meta("h"), false).ok());
    ASSERT_TRUE((*store)->PutResponse(Response("null", -1.0)).ok());
    ASSERT_TRUE((*store)->PutResponse(Response("text", -1.0)).ok());
    ASSERT_TRUE((*store)->PutResponse(Response("big_token", -1.0)).ok());
    ASSERT_TRUE((*store)->PutResponse(Response("big_logprob", -1.0)).ok());
    StoredTask t{"mmlu", "mmlu", "mcq_accuracy", 1, 1, 1, 0, 0};
    ASSERT_TRUE((*store)
                    ->PutTask(t, {{"mmlu", "a/0", "a", 0, "{}", {{"acc", 1}}}},
                              {{"mmlu", "", "acc", "analytic", 1, 0, 1, true}})
                    .ok());
  }
  // Edited behind Compass's back.
  Sql(dir,
      "UPDATE responses SET logprob = NULL WHERE hash = 'null';"
      "UPDATE responses SET logprob = 'oops' WHERE hash = 'text';"
      "UPDATE responses SET tokens_json = '[1, 4294967297]' WHERE hash = 'big_token';"
      "UPDATE responses SET token_logprobs_json = '[-1e300]' WHERE hash = 'big_logprob';"
      "UPDATE samples SET metrics_json = '{\"acc\": \"yes\"}';"
      "UPDATE aggregates SET value = 'high';");
  auto store = ResultsStore::OpenExisting(dir.string());
  ASSERT_TRUE(store.ok());
  for (const char* hash : {"null", "text", "big_token", "big_logprob"}) {
    auto got = (*store)->Responses({hash});
    ASSERT_FALSE(got.ok()) << hash;
    EXPECT_EQ(got.status().code(), COMPASS_DATA_LOSS);
    EXPECT_NE(got.status().message().find(std::string("response ") + hash), std::string::npos);
  }
  EXPECT_EQ((*store)->Samples("mmlu").status().code(), COMPASS_DATA_LOSS);
  EXPECT_EQ((*store)->Aggregates("mmlu").status().code(), COMPASS_DATA_LOSS);
}

}  // namespace
}  // namespace compass
