#include "plugin_host/plugin_registry.h"

#define BOOST_DLL_USE_STD_FS
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "plugin_host/elf_check.h"
#include "util/strings.h"

namespace compass {

class PluginLibrary {
 public:
  explicit PluginLibrary(boost::dll::shared_library lib) : lib_(std::move(lib)) {}
  boost::dll::shared_library& lib() { return lib_; }

 private:
  boost::dll::shared_library lib_;
};

namespace fs = std::filesystem;

const char* PluginKindName(PluginKind kind) {
  switch (kind) {
    case PluginKind::kBackend: return "backend";
    case PluginKind::kDataset: return "dataset";
    case PluginKind::kScorer: return "scorer";
  }
  return "?";
}

const char* ItemKindName(uint32_t kind) {
  switch (kind) {
    case COMPASS_ITEM_MULTIPLE_CHOICE: return "multiple_choice";
    case COMPASS_ITEM_GENERATE: return "generate";
    case COMPASS_ITEM_ROLLING: return "rolling";
    default: return "unknown";
  }
}

std::vector<std::string> ItemKindNames(uint64_t mask) {
  std::vector<std::string> out;
  for (uint32_t kind = 0; kind < 64; ++kind) {
    if (mask & COMPASS_ITEM_KIND_BIT(kind)) out.emplace_back(ItemKindName(kind));
  }
  return out;
}

std::string PluginRecord::Describe() const {
  return std::string(PluginKindName(kind)) + " '" + name + "' (" + path + ")";
}

const compass_option_list& PluginRecord::options() const {
  switch (kind) {
    case PluginKind::kBackend: return backend.options;
    case PluginKind::kDataset: return dataset.options;
    case PluginKind::kScorer: return scorer.options;
  }
  return backend.options;
}

namespace {

std::string ToString(compass_str s) {
  return s.size ? std::string(s.data, s.size) : "";
}

// Copies a plugin's table into a zeroed host-sized struct: fields a newer
// plugin appended are dropped, fields an older plugin lacks stay zero/NULL.
template <typename Api>
Api CopyTable(const Api* table) {
  Api api;
  std::memset(&api, 0, sizeof api);
  const uint64_t n = std::min<uint64_t>(table->header.struct_size, sizeof(Api));
  std::memcpy(&api, table, n);
  return api;
}

constexpr uint64_t kMinTableSize = sizeof(compass_abi_header) + sizeof(compass_plugin_info);

// Checks the frozen header; returns "" when the table is usable.
std::string CheckHeader(const compass_abi_header* h, const char* symbol) {
  if (h == nullptr) return std::string(symbol) + "() returned NULL";
  if (h->abi_major != COMPASS_ABI_MAJOR) {
    return "built for plugin ABI " + std::to_string(h->abi_major) + "." +
           std::to_string(h->abi_minor) + " but this compass speaks ABI " +
           std::to_string(COMPASS_ABI_MAJOR) + "." + std::to_string(COMPASS_ABI_MINOR) +
           "; rebuild the plugin against a Compass SDK with ABI major " +
           std::to_string(COMPASS_ABI_MAJOR);
  }
  if (h->struct_size < kMinTableSize) {
    return "function table too small (" + std::to_string(h->struct_size) + " bytes)";
  }
  return "";
}

std::string MissingSlots(const std::vector<std::pair<const void*, const char*>>& slots) {
  std::vector<std::string> missing;
  for (const auto& [ptr, name] : slots) {
    if (ptr == nullptr) missing.emplace_back(name);
  }
  return missing.empty() ? "" : "required function(s) missing: " + Join(missing);
}

}  // namespace

void PluginRegistry::LoadFile(const std::string& path) {
  // Before dlopen: a truncated file would be mapped and fault (SIGBUS).
  if (Status elf = CheckSharedObject(path); !elf.ok()) {
    refused_.push_back({path, "not a loadable shared library: " + elf.message()});
    return;
  }
  std::shared_ptr<PluginLibrary> library;
  try {
    boost::dll::shared_library lib(
        fs::path(path), boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local);
    library = std::make_shared<PluginLibrary>(std::move(lib));
  } catch (const std::exception& e) {
    refused_.push_back({path, std::string("not a loadable shared library: ") + e.what()});
    return;
  }

  bool found_any = false;
  auto refuse = [&](const std::string& reason) { refused_.push_back({path, reason}); };
  auto add = [&](PluginRecord record) {
    for (const auto& other : plugins_) {
      if (other.kind == record.kind && other.name == record.name) {
        refuse(std::string(PluginKindName(record.kind)) + " '" + record.name + "' is shadowed by " +
               other.path + " (found earlier in the search path)");
        return;
      }
    }
    if (record.name.empty()) {
      refuse(std::string(PluginKindName(record.kind)) + " plugin has an empty name");
      return;
    }
    plugins_.push_back(std::move(record));
  };
  auto base_record = [&](PluginKind kind, const compass_abi_header& h,
                         const compass_plugin_info& info) {
    PluginRecord r;
    r.kind = kind;
    r.name = ToString(info.name);
    r.version = ToString(info.version);
    r.description = ToString(info.description);
    r.abi_major = h.abi_major;
    r.abi_minor = h.abi_minor;
    r.path = path;
    r.library = library;
    return r;
  };

  // Reads one entry point: header check, copy, required slots, record.
  auto read_entry = [&](auto* tag, const char* symbol, PluginKind kind, auto required_slots,
                        auto store) {
    using Api = std::remove_pointer_t<decltype(tag)>;
    if (!library->lib().has(symbol)) return;
    found_any = true;
    const Api* table = library->lib().get<const Api*()>(symbol)();
    std::string why = CheckHeader(table ? &table->header : nullptr, symbol);
    if (why.empty()) {
      Api api = CopyTable(table);
      why = MissingSlots(required_slots(api));
      if (why.empty()) {
        PluginRecord r = base_record(kind, api.header, api.info);
        store(r, api);
        add(std::move(r));
      }
    }
    if (!why.empty()) refuse(std::string(PluginKindName(kind)) + ": " + why);
  };
  using Slots = std::vector<std::pair<const void*, const char*>>;
  try {
    read_entry(
        static_cast<compass_backend_api*>(nullptr), COMPASS_BACKEND_ENTRY, PluginKind::kBackend,
        [](const compass_backend_api& a) {
          return Slots{{(const void*)a.create, "create"},
                       {(const void*)a.destroy, "destroy"},
                       {(const void*)a.load, "load"},
                       {(const void*)a.execute, "execute"}};
        },
        [](PluginRecord& r, const compass_backend_api& a) { r.backend = a; });
    read_entry(
        static_cast<compass_dataset_api*>(nullptr), COMPASS_DATASET_ENTRY, PluginKind::kDataset,
        [](const compass_dataset_api& a) {
          return Slots{{(const void*)a.create, "create"},
                       {(const void*)a.destroy, "destroy"},
                       {(const void*)a.items, "items"}};
        },
        [](PluginRecord& r, const compass_dataset_api& a) { r.dataset = a; });
    read_entry(
        static_cast<compass_scorer_api*>(nullptr), COMPASS_SCORER_ENTRY, PluginKind::kScorer,
        [](const compass_scorer_api& a) {
          return Slots{{(const void*)a.create, "create"},
                       {(const void*)a.destroy, "destroy"},
                       {(const void*)a.score, "score"},
                       {(const void*)a.aggregate, "aggregate"}};
        },
        [](PluginRecord& r, const compass_scorer_api& a) { r.scorer = a; });
  } catch (const std::exception& e) {
    refuse(std::string("failed while reading the entry point: ") + e.what());
    return;
  }
  if (!found_any) {
    refuse("no Compass entry symbol (expected one of " COMPASS_BACKEND_ENTRY
           ", " COMPASS_DATASET_ENTRY ", " COMPASS_SCORER_ENTRY ")");
  }
}

PluginRegistry PluginRegistry::Discover(const std::vector<std::string>& dirs) {
  PluginRegistry registry;
  for (const auto& dir : dirs) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) {
      spdlog::debug("plugin folder {} does not exist; skipped", dir);
      continue;
    }
    registry.searched_.push_back(dir);
    std::vector<std::string> files;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
      const auto& p = entry.path();
      if (p.extension() == ".so" && !entry.is_directory()) files.push_back(p.string());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) registry.LoadFile(f);
  }
  return registry;
}

std::vector<std::string> PluginRegistry::Names(PluginKind kind) const {
  std::vector<std::string> names;
  for (const auto& p : plugins_) {
    if (p.kind == kind) names.push_back(p.name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

StatusOr<const PluginRecord*> PluginRegistry::Find(PluginKind kind, const std::string& name) const {
  for (const auto& p : plugins_) {
    if (p.kind == kind && p.name == name) return &p;
  }
  const auto names = Names(kind);
  std::string message = std::string("no ") + PluginKindName(kind) + " plugin named '" + name + "'" +
                        DidYouMean(name, names) +
                        "; available: " + (names.empty() ? "none" : Join(names));
  // The wanted plugin may be among the refused files (a refused file's name
  // is unknown: its table could not be trusted), so say what was refused.
  size_t shown = 0;
  for (const auto& r : refused_) {
    if (shown++ == 3) {
      message += "; and " + std::to_string(refused_.size() - 3) + " more refused";
      break;
    }
    message += "; refused " + r.path + ": " + r.reason;
  }
  message += " (run `compass plugins` to see what was found)";
  return NotFound(message);
}

std::vector<std::string> PluginSearchPath(const std::vector<std::string>& cli_dirs) {
  std::vector<std::string> dirs = cli_dirs;
  if (const char* env = std::getenv("COMPASS_PLUGIN_PATH")) {
    for (const auto& d : Split(env, ':')) {
      if (!d.empty()) dirs.push_back(d);
    }
  }
  try {
    const fs::path exe = boost::dll::program_location();
    dirs.push_back((exe.parent_path().parent_path() / "lib" / "compass" / "plugins").string());
  } catch (const std::exception& e) {
    spdlog::debug("cannot locate the compass executable: {}", e.what());
  }
  return dirs;
}

}  // namespace compass
