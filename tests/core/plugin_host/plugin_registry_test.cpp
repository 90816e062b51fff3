#include "plugin_host/plugin_registry.h"

#include <gtest/gtest.h>

#include "test_files.h"

#include <compass/plugin.hpp>
#include <filesystem>
#include <fstream>

#include "plugin_host/host_services.h"
#include "plugin_host/plugin_instances.h"

namespace compass {
namespace {

namespace fs = std::filesystem;
using compass::testing::Slurp;
fs::path TempDir(const std::string& name) {
  return compass::testing::TempDir("registry", name);
}

std::string Fixture(const std::string& folder) {
  return std::string(COMPASS_TEST_PLUGIN_ROOT) + "/" + folder;
}

compass_backend_config BackendConfig() {
  compass_backend_config c{};
  c.struct_size = sizeof c;
  c.options_json = sdk::str("{}");
  return c;
}

TEST(PluginRegistry, LoadsWellFormedBackend) {
  const auto reg = PluginRegistry::Discover({Fixture("good")});
  ASSERT_TRUE(reg.refused().empty()) << reg.refused()[0].reason;
  ASSERT_EQ(reg.plugins().size(), 1u);
  const auto& p = reg.plugins()[0];
  EXPECT_EQ(p.kind, PluginKind::kBackend);
  EXPECT_EQ(p.name, "good");
  EXPECT_EQ(p.version, "1.0.0");
  EXPECT_EQ(p.abi_major, static_cast<uint32_t>(COMPASS_ABI_MAJOR));
  // Only overridden optional slots are set.
  EXPECT_NE(p.backend.loglikelihood, nullptr);
  EXPECT_NE(p.backend.figures, nullptr);
  EXPECT_EQ(p.backend.plan, nullptr);
  EXPECT_EQ(p.backend.generate_until, nullptr);
}

TEST(PluginRegistry, RefusesNextMajorNamingBothVersionsAndFile) {
  const auto reg = PluginRegistry::Discover({Fixture("major_next")});
  EXPECT_TRUE(reg.plugins().empty());
  ASSERT_EQ(reg.refused().size(), 1u);
  const auto& r = reg.refused()[0];
  EXPECT_NE(r.path.find("libtest_next_major.so"), std::string::npos);
  const std::string next =
      std::to_string(COMPASS_ABI_MAJOR + 1) + "." + std::to_string(COMPASS_ABI_MINOR);
  const std::string ours =
      std::to_string(COMPASS_ABI_MAJOR) + "." + std::to_string(COMPASS_ABI_MINOR);
  EXPECT_NE(r.reason.find("ABI " + next), std::string::npos) << r.reason;
  EXPECT_NE(r.reason.find("ABI " + ours), std::string::npos) << r.reason;
}

TEST(PluginRegistry, AcceptsNewerMinorAndIgnoresUnknownSlots) {
  const auto reg = PluginRegistry::Discover({Fixture("minor_newer")});
  ASSERT_EQ(reg.plugins().size(), 1u) << (reg.refused().empty() ? "" : reg.refused()[0].reason);
  EXPECT_EQ(reg.plugins()[0].abi_minor, static_cast<uint32_t>(COMPASS_ABI_MINOR + 1));
  PluginHost host;
  const auto cfg = BackendConfig();
  auto backend = BackendInstance::Create(reg.plugins()[0], host, cfg);
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  auto figures = (*backend)->Figures();
  ASSERT_TRUE(figures.ok());
  ASSERT_EQ(figures->size(), 1u);
  EXPECT_EQ((*figures)[0].value, 42);
}

TEST(PluginRegistry, OlderMinorLacksLaterSlots) {
  const auto reg = PluginRegistry::Discover({Fixture("minor_older")});
  ASSERT_EQ(reg.plugins().size(), 1u);
  // The plugin set `figures`, but its table ends before it: read as NULL.
  EXPECT_EQ(reg.plugins()[0].backend.figures, nullptr);
  EXPECT_NE(reg.plugins()[0].backend.loglikelihood, nullptr);
  PluginHost host;
  const auto cfg = BackendConfig();
  auto backend = BackendInstance::Create(reg.plugins()[0], host, cfg);
  ASSERT_TRUE(backend.ok());
  auto figures = (*backend)->Figures();
  ASSERT_TRUE(figures.ok());
  EXPECT_TRUE(figures->empty());
}

TEST(PluginRegistry, RefusesLibraryWithoutEntrySymbol) {
  const auto reg = PluginRegistry::Discover({Fixture("no_entry")});
  EXPECT_TRUE(reg.plugins().empty());
  ASSERT_EQ(reg.refused().size(), 1u);
  EXPECT_NE(reg.refused()[0].reason.find("no Compass entry symbol"), std::string::npos);
}

TEST(PluginRegistry, TextFileNamedSoIsRefusedAndOthersStillLoad) {
  const fs::path dir = TempDir("text");
  std::ofstream(dir / "libfoo.so") << "this is not a shared library\n";
  fs::copy_file(Fixture("good") + "/libtest_good_backend.so", dir / "libzz_good.so");
  const auto reg = PluginRegistry::Discover({dir.string()});
  ASSERT_EQ(reg.refused().size(), 1u);
  EXPECT_NE(reg.refused()[0].path.find("libfoo.so"), std::string::npos);
  EXPECT_NE(reg.refused()[0].reason.find("not a loadable shared library"), std::string::npos);
  ASSERT_EQ(reg.plugins().size(), 1u);
  EXPECT_EQ(reg.plugins()[0].name, "good");
  fs::remove_all(dir);
}

TEST(PluginRegistry, EarlierFolderShadowsLaterOne) {
  const fs::path dir = TempDir("shadow");
  fs::copy_file(Fixture("good") + "/libtest_good_backend.so", dir / "libcopy.so");
  const auto reg = PluginRegistry::Discover({Fixture("good"), dir.string()});
  ASSERT_EQ(reg.plugins().size(), 1u);
  EXPECT_NE(reg.plugins()[0].path.find(Fixture("good")), std::string::npos);
  ASSERT_EQ(reg.refused().size(), 1u);
  EXPECT_NE(reg.refused()[0].reason.find("shadowed"), std::string::npos);
  fs::remove_all(dir);
}

TEST(PluginRegistry, FindSuggestsCloseNames) {
  const auto reg = PluginRegistry::Discover({Fixture("good")});
  auto found = reg.Find(PluginKind::kBackend, "god");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.status().code(), COMPASS_NOT_FOUND);
  EXPECT_NE(found.status().message().find("did you mean 'good'"), std::string::npos);
  EXPECT_TRUE(reg.Find(PluginKind::kBackend, "good").ok());
  EXPECT_FALSE(reg.Find(PluginKind::kDataset, "good").ok());
}

TEST(PluginRegistry, LibraryStaysLoadedWhileAnInstanceLives) {
  PluginHost host;
  std::unique_ptr<BackendInstance> backend;
  {
    const auto reg = PluginRegistry::Discover({Fixture("good")});
    ASSERT_EQ(reg.plugins().size(), 1u);
    const auto cfg = BackendConfig();
    auto created = BackendInstance::Create(reg.plugins()[0], host, cfg);
    ASSERT_TRUE(created.ok());
    backend = std::move(*created);
  }  // registry gone: only the instance holds the library now
  const int32_t ctx[] = {1, 2}, cont[] = {3, 4, 5};
  std::vector<compass_loglikelihood_request> reqs = {{0, {ctx, 2}, {cont, 3}}};
  double got = 0;
  ASSERT_TRUE(
      backend->Loglikelihood(reqs, [&](const compass_loglikelihood_result& r) { got = r.logprob; })
          .ok());
  EXPECT_EQ(got, -3.0);
}

TEST(PluginRegistry, ExceptionsInPluginsBecomeStatuses) {
  const auto reg = PluginRegistry::Discover({Fixture("throwing"), Fixture("good")});
  PluginHost host;

  // std::runtime_error from a backend batch call.
  const auto cfg = BackendConfig();
  auto backend =
      BackendInstance::Create(*reg.Find(PluginKind::kBackend, "good").value(), host, cfg);
  ASSERT_TRUE(backend.ok());
  const int32_t ctx[] = {1};
  std::vector<compass_loglikelihood_request> reqs = {{0, {ctx, 1}, {nullptr, 0}}};
  Status s = (*backend)->Loglikelihood(reqs, [](const compass_loglikelihood_result&) {});
  EXPECT_EQ(s.code(), COMPASS_INTERNAL);
  EXPECT_NE(s.message().find("boom: empty continuation"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("backend 'good' loglikelihood"), std::string::npos) << s.message();

  // sdk::Error keeps its code; the item delivered before the throw arrived.
  const PluginRecord* ds = reg.Find(PluginKind::kDataset, "throwing").value();
  compass_dataset_config dc{};
  dc.struct_size = sizeof dc;
  dc.options_json = sdk::str("{}");
  auto dataset = DatasetInstance::Create(*ds, host, dc);
  ASSERT_TRUE(dataset.ok());
  int seen = 0;
  s = (*dataset)->Items([&](const compass_item&) { return ++seen > 0; });
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(s.code(), COMPASS_DATA_LOSS);
  EXPECT_NE(s.message().find("corrupt.csv:7"), std::string::npos);

  // An exception in a constructor: create fails cleanly.
  dc.num_shots = 99;
  auto failed = DatasetInstance::Create(*ds, host, dc);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("constructor exploded"), std::string::npos);

  // A thrown non-std::exception value.
  auto scorer =
      ScorerInstance::Create(*reg.Find(PluginKind::kScorer, "throwing").value(), host, "{}");
  ASSERT_TRUE(scorer.ok());
  sdk::Item item;
  item.choices = {" a"};
  const sdk::ItemView view(item);
  compass_model_output out{};
  out.struct_size = sizeof out;
  auto metrics = (*scorer)->Score(view.item, out);
  ASSERT_FALSE(metrics.ok());
  EXPECT_EQ(metrics.status().code(), COMPASS_INTERNAL);
  EXPECT_NE(metrics.status().message().find("unknown exception"), std::string::npos);
}

TEST(PluginSearchPath, OrderIsCliThenEnvThenInstall) {
  ::setenv("COMPASS_PLUGIN_PATH", "/env/a:/env/b", 1);
  const auto dirs = PluginSearchPath({"/cli"});
  ::unsetenv("COMPASS_PLUGIN_PATH");
  ASSERT_GE(dirs.size(), 4u);
  EXPECT_EQ(dirs[0], "/cli");
  EXPECT_EQ(dirs[1], "/env/a");
  EXPECT_EQ(dirs[2], "/env/b");
  EXPECT_NE(dirs[3].find("lib/compass/plugins"), std::string::npos);
}

}  // namespace
}  // namespace compass
