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

compass_request Loglikelihood(uint64_t index, compass_tokens context, compass_tokens continuation) {
  compass_request r{};
  r.struct_size = sizeof r;
  r.index = index;
  r.kind = COMPASS_REQUEST_LOGLIKELIHOOD;
  r.context = context;
  r.continuation = continuation;
  return r;
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
  // Only overridden optional slots are set; capabilities as declared.
  EXPECT_NE(p.backend.execute, nullptr);
  EXPECT_NE(p.backend.figures, nullptr);
  EXPECT_EQ(p.backend.plan, nullptr);
  EXPECT_EQ(p.backend.capabilities, static_cast<uint64_t>(COMPASS_CAN_LOGLIKELIHOOD));
}

TEST(PluginRegistry, RefusesAbiV1PluginNamingBothVersions) {
  const auto reg = PluginRegistry::Discover({Fixture("abi_v1")});
  EXPECT_TRUE(reg.plugins().empty());
  ASSERT_EQ(reg.refused().size(), 1u);
  const std::string& reason = reg.refused()[0].reason;
  EXPECT_NE(reason.find("built for plugin ABI 1."), std::string::npos) << reason;
  EXPECT_NE(reason.find("this compass speaks ABI 2."), std::string::npos) << reason;
  EXPECT_NE(reason.find("rebuild the plugin"), std::string::npos) << reason;
}

TEST(PluginRegistry, PluginBuiltWithAppendedFieldsLoadsAndWorks) {
  const auto reg = PluginRegistry::Discover({Fixture("appended")});
  ASSERT_EQ(reg.plugins().size(), 1u) << (reg.refused().empty() ? "" : reg.refused()[0].reason);
  const auto& p = reg.plugins()[0];
  EXPECT_EQ(p.abi_minor, static_cast<uint32_t>(COMPASS_ABI_MINOR + 1));
  EXPECT_GT(p.backend.header.struct_size, sizeof(compass_backend_api));
  PluginHost host;
  const auto cfg = BackendConfig();
  auto backend = BackendInstance::Create(p, host, cfg);
  ASSERT_TRUE(backend.ok()) << backend.status().ToString();
  // Several requests: the plugin must step through them by the host's
  // struct_size, and its larger results must be read by the host's.
  const int32_t ctx[] = {1, 2}, c1[] = {3}, c2[] = {4, 5}, c3[] = {6, 7, 8};
  std::vector<compass_request> reqs = {Loglikelihood(0, {ctx, 2}, {c1, 1}),
                                       Loglikelihood(1, {ctx, 2}, {c2, 2}),
                                       Loglikelihood(2, {ctx, 2}, {c3, 3})};
  std::vector<double> got(3, 0);
  Status s = (*backend)->Execute(reqs, [&](const compass_result& r) {
    EXPECT_EQ(r.struct_size, sizeof(compass_result));
    EXPECT_EQ(r.num_tokens, reqs[r.index].continuation.size);
    EXPECT_EQ(r.token_logprobs[r.num_tokens - 1], -1.0f);
    got[r.index] = r.logprob;
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(got, (std::vector<double>{-1, -2, -3}));
}

TEST(PluginRegistry, PerRequestErrorsAndAStoppingSink) {
  const auto reg = PluginRegistry::Discover({Fixture("good")});
  PluginHost host;
  const auto cfg = BackendConfig();
  auto backend = BackendInstance::Create(reg.plugins()[0], host, cfg);
  ASSERT_TRUE(backend.ok());
  const int32_t ok_ctx[] = {1}, bad_ctx[] = {666}, cont[] = {2};
  std::vector<compass_request> reqs = {Loglikelihood(0, {ok_ctx, 1}, {cont, 1}),
                                       Loglikelihood(1, {bad_ctx, 1}, {cont, 1}),
                                       Loglikelihood(2, {ok_ctx, 1}, {cont, 1})};
  std::vector<int32_t> codes;
  Status s = (*backend)->Execute(reqs, [&](const compass_result& r) {
    codes.push_back(r.error_code);
    if (r.error_code != COMPASS_OK) {
      EXPECT_EQ(sdk::view(r.error_message), "token 666 is not allowed");
    }
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  // One bad request is answered with its error; the call goes on.
  EXPECT_EQ(codes, (std::vector<int32_t>{COMPASS_OK, COMPASS_INVALID_ARGUMENT, COMPASS_OK}));

  // The host's own failure stops the backend at once and is what Execute
  // returns.
  int seen = 0;
  s = (*backend)->Execute(reqs, [&](const compass_result&) {
    ++seen;
    return IoError("disk full");
  });
  EXPECT_EQ(seen, 1);
  EXPECT_EQ(s.code(), COMPASS_IO);
  EXPECT_NE(s.message().find("disk full"), std::string::npos) << s.message();
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
  EXPECT_NE(reg.plugins()[0].backend.execute, nullptr);
  PluginHost host;
  const auto cfg = BackendConfig();
  auto backend = BackendInstance::Create(reg.plugins()[0], host, cfg);
  ASSERT_TRUE(backend.ok());
  auto figures = (*backend)->Figures();
  ASSERT_TRUE(figures.ok());
  EXPECT_TRUE(figures->empty());
  // Nor has it the 2.2 slots: one process per model copy, and no serve.
  EXPECT_EQ((*backend)->ProcessesPerModel(), 1u);
  const Status served = (*backend)->Serve();
  EXPECT_EQ(served.code(), COMPASS_UNSUPPORTED) << served.ToString();
  EXPECT_NE(served.message().find("does not support serve"), std::string::npos);
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

// A truncated plugin (an interrupted copy or build) used to be mapped by
// dlopen and kill discovery with SIGBUS, or worse, load and shadow the
// real plugin. Every prefix of a real plugin file is refused, in process,
// and the intact plugin beside it still loads.
TEST(PluginRegistry, TruncatedLibrariesAreRefusedWithoutCrashingDiscovery) {
  const fs::path dir = TempDir("truncated");
  const std::string good = Fixture("good") + "/libtest_good_backend.so";
  const std::string bytes = Slurp(good);
  const uint64_t n = bytes.size();
  fs::copy_file(good, dir / "libzz_good.so");
  const std::vector<uint64_t> lengths = {0,         1,        16,      63,    64,    1000,
                                         4096,      8192,     16384,   30000, n / 4, n / 2,
                                         n * 3 / 4, n - 4096, n - 100, n - 1};
  for (uint64_t len : lengths) {
    std::ofstream(dir / "liba_cut.so", std::ios::binary | std::ios::trunc)
        .write(bytes.data(), static_cast<std::streamsize>(len));
    const auto reg = PluginRegistry::Discover({dir.string()});
    ASSERT_EQ(reg.refused().size(), 1u) << len;
    EXPECT_NE(reg.refused()[0].path.find("liba_cut.so"), std::string::npos) << len;
    const std::string& why = reg.refused()[0].reason;
    EXPECT_TRUE(why.find("truncated") != std::string::npos ||
                why.find("not an ELF") != std::string::npos)
        << len << ": " << why;
    ASSERT_EQ(reg.plugins().size(), 1u) << len;
    EXPECT_EQ(reg.plugins()[0].path, (dir / "libzz_good.so").string());
  }
  fs::remove_all(dir);
}

TEST(PluginRegistry, LibrariesForAnotherMachineAreRefusedByName) {
  const fs::path dir = TempDir("machine");
  std::string bytes = Slurp(Fixture("good") + "/libtest_good_backend.so");
  // e_machine (offset 18): RISC-V.
  bytes[18] = static_cast<char>(243);
  bytes[19] = 0;
  std::ofstream(dir / "libother.so", std::ios::binary) << bytes;
  const auto reg = PluginRegistry::Discover({dir.string()});
  ASSERT_EQ(reg.refused().size(), 1u);
  EXPECT_NE(reg.refused()[0].reason.find("built for riscv"), std::string::npos)
      << reg.refused()[0].reason;
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
  std::vector<compass_request> reqs = {Loglikelihood(0, {ctx, 2}, {cont, 3})};
  double got = 0;
  ASSERT_TRUE(backend
                  ->Execute(reqs,
                            [&](const compass_result& r) {
                              got = r.logprob;
                              return Status::Ok();
                            })
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
  std::vector<compass_request> reqs = {Loglikelihood(0, {ctx, 1}, {nullptr, 0})};
  Status s = (*backend)->Execute(reqs, [](const compass_result&) { return Status::Ok(); });
  EXPECT_EQ(s.code(), COMPASS_INTERNAL);
  EXPECT_NE(s.message().find("boom: empty continuation"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("backend 'good' execute"), std::string::npos) << s.message();

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

  // describe (ABI 2.1): what the task delivers, before any data.
  auto info = DatasetInstance::Describe(*ds, host, dc);
  ASSERT_TRUE(info.ok()) << info.status().message();
  ASSERT_TRUE(info->has_value());
  EXPECT_EQ((*info)->item_kinds, COMPASS_ITEM_KIND_BIT(COMPASS_ITEM_MULTIPLE_CHOICE));
  EXPECT_EQ((*info)->scorer, "mcq_accuracy");
  EXPECT_EQ((*info)->scorer_options_json, R"({"x":1})");
  EXPECT_EQ((*info)->num_shots, 5);
  // A table without the slot (an older minor) describes nothing.
  PluginRecord older = *ds;
  older.dataset.describe = nullptr;
  auto none = DatasetInstance::Describe(older, host, dc);
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());

  // An exception in a constructor: create fails cleanly.
  dc.num_shots = 99;
  auto bad_info = DatasetInstance::Describe(*ds, host, dc);
  ASSERT_FALSE(bad_info.ok());
  EXPECT_EQ(bad_info.status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(bad_info.status().message(),
            "dataset 'throwing' describe: task.yaml:3: doc_to_text: bad");
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
