// A minimal compass_host_api for tests that load plugin modules directly,
// plus dlopen helpers and checks of the tables the modules export.
#ifndef COMPASS_TESTS_TEST_HOST_H_
#define COMPASS_TESTS_TEST_HOST_H_

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <compass/plugin.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace compass::testing {

struct TestStatus {
  int32_t code;
  std::string message;
};

inline const compass_host_api* test_host() {
  static const compass_host_api api = [] {
    compass_host_api h{};
    h.header = {COMPASS_ABI_MAJOR, COMPASS_ABI_MINOR, sizeof(compass_host_api)};
    h.ctx = nullptr;
    h.status_new = [](int32_t code, compass_str message) {
      return reinterpret_cast<compass_status*>(
          new TestStatus{code, std::string(message.data, message.size)});
    };
    h.status_free = [](compass_status* s) { delete reinterpret_cast<TestStatus*>(s); };
    h.status_code = [](const compass_status* s) {
      return reinterpret_cast<const TestStatus*>(s)->code;
    };
    h.status_message = [](const compass_status* s) {
      const auto* t = reinterpret_cast<const TestStatus*>(s);
      return compass_str{t->message.data(), t->message.size()};
    };
    h.log = [](void*, int32_t, compass_str) {};
    h.progress = [](void*, uint64_t, uint64_t, uint64_t) {};
    h.is_cancelled = [](void*) { return int32_t{0}; };
    return h;
  }();
  return &api;
}

// Takes ownership of a status: returns {code, message} and frees it.
struct StatusView {
  int32_t code = COMPASS_OK;
  std::string message;
};
inline StatusView take(compass_status* status) {
  StatusView out;
  if (status == nullptr) return out;
  const auto* t = reinterpret_cast<const TestStatus*>(status);
  out = {t->code, t->message};
  test_host()->status_free(status);
  return out;
}

inline std::string to_string(compass_str s) {
  return s.size == 0 ? "" : std::string(s.data, s.size);
}

// A plugin module opened for the duration of a test.
class Module {
 public:
  explicit Module(const std::string& file) {
    const std::string path = std::string(COMPASS_PLUGIN_DIR) + "/" + file;
    handle_ = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) error_ = dlerror();
  }
  ~Module() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  bool ok() const { return handle_ != nullptr; }
  const std::string& error() const { return error_; }
  void* symbol(const char* name) const { return dlsym(handle_, name); }

 private:
  void* handle_ = nullptr;
  std::string error_;
};

// The table a module returns from its entry point `entry`
// (COMPASS_DATASET_ENTRY, ...), or nullptr when it has none.
template <typename Api>
const Api* plugin_api(const Module& module, const char* entry) {
  auto* fn = reinterpret_cast<const Api* (*)(void)>(module.symbol(entry));
  return fn == nullptr ? nullptr : fn();
}

// Expects a loaded module with a table under `entry` and none under
// `other_entry`, of this ABI and its own size, named `name`, version 0.1.0,
// with a description. Returns the table, or nullptr.
template <typename Api>
const Api* expect_plugin_api(const Module& module, const char* entry, const char* other_entry,
                             const std::string& name) {
  EXPECT_TRUE(module.ok()) << module.error();
  if (!module.ok()) return nullptr;
  EXPECT_EQ(module.symbol(other_entry), nullptr);
  const Api* api = plugin_api<Api>(module, entry);
  EXPECT_NE(api, nullptr);
  if (api == nullptr) return nullptr;
  EXPECT_EQ(api->header.abi_major, static_cast<uint32_t>(COMPASS_ABI_MAJOR));
  EXPECT_EQ(api->header.struct_size, sizeof(Api));
  EXPECT_EQ(to_string(api->info.name), name);
  EXPECT_EQ(to_string(api->info.version), "0.1.0");
  EXPECT_FALSE(to_string(api->info.description).empty());
  return api;
}

// The keys of a table's option specs, in order.
template <typename Api>
std::vector<std::string> option_keys(const Api* api) {
  std::vector<std::string> keys;
  for (uint64_t i = 0; i < api->options.size; ++i) {
    keys.push_back(to_string(compass::sdk::option_at(api->options, i).key));
  }
  return keys;
}

}  // namespace compass::testing

#endif  // COMPASS_TESTS_TEST_HOST_H_
