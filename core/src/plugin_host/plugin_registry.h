// Finds, loads and checks plugin libraries, and keeps each library loaded
// for as long as anything made from it is alive.
//
// Search order (first match of a name wins; later ones are listed as
// shadowed): --plugin-dir folders in the order given, then the folders of
// COMPASS_PLUGIN_PATH (':'-separated), then <exe>/../lib/compass/plugins.
// A file that fails to load or check is recorded as refused with the reason;
// it never stops the others.
#ifndef COMPASS_PLUGIN_HOST_PLUGIN_REGISTRY_H_
#define COMPASS_PLUGIN_HOST_PLUGIN_REGISTRY_H_

#include <compass/plugin.h>

#include <memory>
#include <string>
#include <vector>

#include "util/status.h"

namespace compass {

enum class PluginKind { kBackend, kDataset, kScorer };
const char* PluginKindName(PluginKind kind);  // "backend", "dataset", "scorer"

// "multiple_choice", "generate", "rolling" (the jsonl dataset's names).
const char* ItemKindName(uint32_t kind);
// The kinds of an item_kinds mask (COMPASS_ITEM_KIND_BIT), in enum order.
std::vector<std::string> ItemKindNames(uint64_t mask);

// An opened shared library; shared by every object made from it.
class PluginLibrary;

// One entry point found in a library. The api copies are zero-extended to
// this host's table size, so slots a plugin built with an older minor lacks
// read as NULL.
struct PluginRecord {
  PluginKind kind;
  std::string name;
  std::string version;
  std::string description;
  uint32_t abi_major = 0;
  uint32_t abi_minor = 0;
  std::string path;
  std::shared_ptr<PluginLibrary> library;
  compass_backend_api backend{};  // valid when kind == kBackend
  compass_dataset_api dataset{};  // valid when kind == kDataset
  compass_scorer_api scorer{};    // valid when kind == kScorer
  const compass_option_list& options() const;
  // "backend 'slow' (/path/libslow.so)", for messages about the plugin.
  std::string Describe() const;
};

struct RefusedPlugin {
  std::string path;
  std::string reason;  // one line
};

class PluginRegistry {
 public:
  // Scans `dirs` in order (missing folders are skipped, noted in debug log).
  static PluginRegistry Discover(const std::vector<std::string>& dirs);

  // Loads one file; for tests and for Discover.
  void LoadFile(const std::string& path);

  const std::vector<PluginRecord>& plugins() const { return plugins_; }
  const std::vector<RefusedPlugin>& refused() const { return refused_; }
  const std::vector<std::string>& searched() const { return searched_; }

  // The plugin of `kind` named `name`; NOT_FOUND with a did-you-mean hint,
  // the known names, and the refusal reason when a file of that name was
  // refused.
  StatusOr<const PluginRecord*> Find(PluginKind kind, const std::string& name) const;
  std::vector<std::string> Names(PluginKind kind) const;

 private:
  std::vector<PluginRecord> plugins_;
  std::vector<RefusedPlugin> refused_;
  std::vector<std::string> searched_;
};

// The default search path: `cli_dirs`, then $COMPASS_PLUGIN_PATH, then the
// plugin folder next to the running executable.
std::vector<std::string> PluginSearchPath(const std::vector<std::string>& cli_dirs);

}  // namespace compass

#endif  // COMPASS_PLUGIN_HOST_PLUGIN_REGISTRY_H_
