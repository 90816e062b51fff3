#include "report/report.h"

#include <gtest/gtest.h>

#include "test_files.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace compass {
namespace {

namespace fs = std::filesystem;
using compass::testing::Slurp;

TEST(Report, AllFilesFromTheStoreAlone) {
  const fs::path dir = fs::temp_directory_path() / ("compass_report_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  {
    auto store = ResultsStore::Open(dir.string());
    ASSERT_TRUE(store.ok());
    RunMetadata m;
    m.config_hash = "h";
    m.backend = "hf_native";
    m.backend_version = "1.2.3";
    m.model_path = "/models/<tiny>";
    m.dtype = "float32";
    m.devices_json = "[{\"name\":\"cpu\"}]";
    m.backend_options_json = "{}";
    ASSERT_TRUE((*store)->BeginRun(m, false).ok());
    StoredTask t{"arc_easy", "arc", "mcq_accuracy", 3, 12, 12, 0.5, 0};
    std::vector<StoredSample> samples;
    for (int i = 0; i < 3; ++i) {
      nlohmann::json s = {{"id", "q" + std::to_string(i)},
                          {"prompt", "Question: <b>?\nAnswer:"},
                          {"choices", {" x", " y"}},
                          {"logprobs", {-1.0, -2.0}},
                          {"prediction", "x"},
                          {"correct", i != 1}};
      // A partial evaluation: each choice after its own context.
      if (i == 2)
        s["contexts"] = {"Question: <b>?\nAnswer:so Sarah", "Question: <b>?\nAnswer:so Maria"};
      samples.push_back({"arc_easy",
                         "q" + std::to_string(i),
                         "",
                         static_cast<uint64_t>(i),
                         s.dump(),
                         {{"acc", i != 1 ? 1.0 : 0.0}}});
    }
    std::vector<StoredAggregate> aggs = {
        {"arc_easy", "", "acc", "analytic", 2.0 / 3, 0.3333, 3, true},
        {"arc_easy", "", "word_perplexity", "bootstrap", 12.5, std::nan(""), 3, false}};
    ASSERT_TRUE((*store)->PutTask(t, samples, aggs).ok());
    ASSERT_TRUE((*store)->PutFigures({{"tokens_per_s", "", 1234.5, COMPASS_UNIT_PER_SECOND}}).ok());
    ASSERT_TRUE((*store)->FinishRun("2026-01-01T00:00:00Z", 3.0, "[\"fp16 fallback\"]").ok());
  }
  auto store = ResultsStore::OpenExisting(dir.string());
  ASSERT_TRUE(store.ok());
  auto files = WriteReports(**store, dir.string());
  ASSERT_TRUE(files.ok()) << files.status().message();

  const auto results = nlohmann::json::parse(Slurp(files->results_json));
  EXPECT_EQ(results["backend"]["name"], "hf_native");
  EXPECT_NEAR(results["tasks"][0]["metrics"]["acc"]["value"].get<double>(), 2.0 / 3, 1e-12);
  EXPECT_TRUE(results["tasks"][0]["metrics"]["word_perplexity"]["stderr"].is_null());
  EXPECT_EQ(results["tasks"][0]["metrics"]["word_perplexity"]["higher_is_better"], false);
  EXPECT_EQ(results["notes"][0], "fp16 fallback");

  const std::string html = Slurp(files->report_html);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("arc_easy · acc"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);  // self-contained, static
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_NE(html.find("/models/&lt;tiny&gt;"), std::string::npos);  // escaped
  EXPECT_NE(html.find("Question: &lt;b&gt;?"), std::string::npos);
  EXPECT_NE(html.find("<th>context</th>"), std::string::npos);
  EXPECT_NE(html.find("<td>&quot;so Maria&quot;</td>"), std::string::npos) << html;

  const std::string md = Slurp(files->report_md);
  EXPECT_NE(md.find("| arc_easy | (all) | acc ↑ | 0.6667 |"), std::string::npos) << md;
  EXPECT_NE(md.find("word_perplexity ↓"), std::string::npos);

  std::istringstream lines(Slurp(files->samples_jsonl));
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    EXPECT_EQ(nlohmann::json::parse(line)["id"], "q" + std::to_string(n));
  }
  EXPECT_EQ(n, 3);

  auto table = SummaryTable(**store);
  ASSERT_TRUE(table.ok());
  EXPECT_NE(table->find("arc_easy"), std::string::npos);
  EXPECT_NE(table->find("1234.5 /s"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace compass
