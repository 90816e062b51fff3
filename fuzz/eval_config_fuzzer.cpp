// The eval.toml run config: the input is the TOML text, optionally followed
// by a NUL byte and --set overrides, one per line. Relative paths resolve
// against a scratch folder holding a model folder (model/), a GGUF file
// (model.gguf), a data folder (data/) and a data file (data.jsonl). After
// validation, each plugin table is checked against a set of option specs of
// every type, as the run does against a plugin's own.
#include <compass/plugin.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "fuzz_support.h"
#include "status_check.h"

using namespace compass;

namespace {

constexpr compass_option_spec kSpecs[] = {
    sdk::option("flag", COMPASS_OPT_BOOL, "a bool"),
    sdk::option("count", COMPASS_OPT_INT, "an int"),
    sdk::option("ratio", COMPASS_OPT_FLOAT, "a float"),
    sdk::option("subset", COMPASS_OPT_STRING, "a choice", "Easy|Challenge"),
    sdk::option("name", COMPASS_OPT_STRING, "a string"),
    sdk::option("stop", COMPASS_OPT_STRING_LIST, "strings"),
    sdk::option("table", COMPASS_OPT_TABLE, "a table"),
    sdk::option("choices", COMPASS_OPT_ANY, "anything"),
};
const compass_option_list kSpecList{kSpecs, sizeof(kSpecs) / sizeof(kSpecs[0])};

const std::string& BaseDir() {
  static const std::string dir = [] {
    fuzz::WriteScratch("model/config.json", "{}");
    fuzz::WriteScratch("model.gguf", "");
    fuzz::WriteScratch("data/x", "");
    fuzz::WriteScratch("data.jsonl", "{}\n");
    return fuzz::ScratchDir().string();
  }();
  return dir;
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    lines.emplace_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto parts = fuzz::SplitAtNul(data, size, 2);
  auto config = ParseConfig(parts[0], "eval.toml", BaseDir(), Lines(parts[1]));
  if (!config.ok()) {
    fuzz::CheckNotInternal(config.status());
    return 0;
  }
  (void)RequireTasks(*config);
  (void)TomlToJson(config->root);
  for (size_t i = 0; i < config->tasks.size(); ++i) {
    const TaskConfig& task = config->tasks[i];
    const std::string where = "task." + std::to_string(i);
    for (const toml::table* table : {&task.dataset_options, &task.scorer_options}) {
      auto json = PluginOptionsToJson(*table, kSpecList, config->display_file, where);
      if (!json.ok()) fuzz::CheckNotInternal(json.status());
    }
  }
  for (const auto& [name, table] : config->backend.plugin_tables) {
    auto json = PluginOptionsToJson(table, kSpecList, config->display_file, "backend." + name);
    if (!json.ok()) fuzz::CheckNotInternal(json.status());
  }
  (void)CheckBackendTables(*config, {"hf_native", "paged_tp", "pipeline"});
  return 0;
}
