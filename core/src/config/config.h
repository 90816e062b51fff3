// The eval.toml schema: parsed, validated up front, with errors that name
// file, line, column, key and what is allowed.
//
// Paths in the file (model.path, task.path, run.output) are resolved against
// the folder of the config file; overrides given with --set are resolved the
// same way. Plugin-specific tables ([backend.<name>], extra [[task]] keys,
// task.scorer_options) are kept as TOML (with their source positions) and
// validated later against the option specs the plugin declares.
#ifndef COMPASS_CONFIG_CONFIG_H_
#define COMPASS_CONFIG_CONFIG_H_

#include <compass/plugin.h>

#include <toml++/toml.h>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace compass {

// Where a value came from, for error messages ("eval.toml:12:5").
struct SourcePos {
  std::string file;
  int line = 0;
  int column = 0;
  std::string ToString() const;  // "file:line:column", or "file" when line == 0
};

// The [model] table (the checkpoint itself is described by
// compass::model::ModelConfig, read from its config.json).
struct ModelSettings {
  std::string path;                   // absolute; an existing directory
  std::string dtype = "float32";      // "float32" | "float16" | "bfloat16"
  bool allow_dtype_fallback = false;  // bf16 -> fp16 on devices without bf16
  std::string tokenizer = "auto";     // "auto" (model folder) or "bytes"
  // Whether prompts start with BOS; unset: as tokenizer_config.json says
  // (add_bos_token). lm-evaluation-harness adds none unless asked.
  std::optional<bool> add_bos;
  // The context window every backend is held to; 0 = from config.json
  // (max_position_embeddings, n_positions or n_ctx), else 2048.
  int64_t max_length = 0;
  SourcePos where;  // of the [model] table
};

struct BackendConfig {
  std::vector<std::string> devices = {"cpu"};
  uint32_t batch_size = 0;  // 0 = "auto"
  // [backend.<name>] tables, by backend name, with source positions kept.
  std::map<std::string, toml::table> plugin_tables;
};

struct TaskConfig {
  std::string name;     // defaults to `dataset`; unique across tasks
  std::string dataset;  // dataset plugin name
  std::string path;     // absolute; must exist (file or folder)
  uint32_t shots = 0;
  bool shots_set = false;  // `shots` was given (else the dataset may set it)
  std::string scorer;      // "" = the scorer the dataset chooses
  uint64_t limit = 0;      // 0 = all items (run.limit applies when 0)
  uint64_t seed = 1234;    // run.seed when the task sets none
  uint32_t max_new_tokens = 256;
  // Sampling for generate items: temperature 0 is greedy.
  struct Generation {
    float temperature = 0;
    float top_p = 1;
    int32_t top_k = 0;
    uint32_t num_samples = 1;
  } generation;
  toml::table scorer_options;   // task.scorer_options
  toml::table dataset_options;  // every other key of the [[task]] table
  SourcePos where;              // of this [[task]] table
  SourcePos scorer_where;       // of its `scorer` value (line 0: none given)
};

struct RunConfig {
  std::string output;  // absolute, or "" = a new folder under runs/
  uint64_t seed = 1234;
  uint64_t limit = 0;  // default item limit for every task
};

struct EvalConfig {
  std::string file;          // the config file; absolute when read by LoadConfig
  std::string display_file;  // the file as named in messages ("eval.toml")
  std::string base_dir;      // absolute: the folder relative paths are resolved against
  ModelSettings model;
  BackendConfig backend;
  std::vector<TaskConfig> tasks;
  RunConfig run;
  toml::table root;  // the whole document after overrides
};

// Parses and validates `text` (named `file` in messages; relative paths are
// resolved against `base_dir`). `overrides` are "a.b=value" assignments
// applied before validation; the value is read as a TOML value and, when
// that fails, as a string. Arrays of tables are indexed: "task.0.shots=3".
StatusOr<EvalConfig> ParseConfig(std::string_view text, const std::string& file,
                                 const std::string& base_dir,
                                 const std::vector<std::string>& overrides = {});

// A run needs at least one [[task]] (planning needs none): an error naming
// the file and what to add otherwise.
Status RequireTasks(const EvalConfig& config);

// Reads `path` and calls ParseConfig. A missing or unreadable file is an error
// naming it.
StatusOr<EvalConfig> LoadConfig(const std::string& path,
                                const std::vector<std::string>& overrides = {});

// Applies one "a.b.c=value" override to `root`, creating tables as needed.
Status ApplyOverride(toml::table& root, std::string_view assignment);

// Validates a plugin table against the option specs the plugin declared:
// unknown keys (with a "did you mean" hint and the list of allowed keys),
// wrong types, and string values outside `choices` are errors naming
// file:line:column and `table_path` (e.g. "backend.hf_native"). A
// COMPASS_OPT_PATH value that is relative is resolved against `base_dir`
// (when not empty), as the task's path is. Returns the table as a JSON
// object text.
StatusOr<std::string> PluginOptionsToJson(const toml::table& table,
                                          const compass_option_list& specs, const std::string& file,
                                          const std::string& table_path,
                                          const std::string& base_dir = "");

// Checks that every [backend.<name>] table names a known backend.
Status CheckBackendTables(const EvalConfig& config, const std::vector<std::string>& known_backends);

// A TOML value as compact JSON text (dates and times as strings).
std::string TomlToJson(const toml::node& node);

}  // namespace compass

#endif  // COMPASS_CONFIG_CONFIG_H_
