#include "shard/rendezvous_library.h"

#define BOOST_DLL_USE_STD_FS
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "shard/rendezvous_api.h"

namespace compass {
namespace {

constexpr size_t kErrorSize = 1024;

class LibraryStore : public KeyValueStore {
 public:
  LibraryStore(std::shared_ptr<boost::dll::shared_library> lib, const compass_rdv_api* api,
               compass_rdv* handle, std::string what)
      : lib_(std::move(lib)), api_(api), handle_(handle), what_(std::move(what)) {}
  ~LibraryStore() override { api_->close(handle_); }

  Status Set(const std::string& key, const std::string& value) override {
    char error[kErrorSize] = "";
    if (api_->set(handle_, key.c_str(), value.data(), value.size(), error, sizeof error) !=
        COMPASS_RDV_OK) {
      return Fail("setting " + key, error);
    }
    return Status::Ok();
  }

  StatusOr<std::optional<std::string>> Get(const std::string& key) override {
    std::string value(256, '\0');
    for (int attempt = 0; attempt < 2; ++attempt) {
      char error[kErrorSize] = "";
      size_t size = value.size();
      const int rc = api_->get(handle_, key.c_str(), value.data(), &size, error, sizeof error);
      if (rc == COMPASS_RDV_NOT_FOUND) return std::optional<std::string>();
      if (rc == COMPASS_RDV_TOO_SMALL) {
        value.resize(size);
        continue;
      }
      if (rc != COMPASS_RDV_OK) return Fail("reading " + key, error);
      value.resize(size);
      return std::optional<std::string>(value);
    }
    return Internal(what_ + ": the value of " + key + " keeps growing");
  }

  StatusOr<int64_t> Add(const std::string& key, int64_t delta) override {
    char error[kErrorSize] = "";
    int64_t result = 0;
    if (api_->add(handle_, key.c_str(), delta, &result, error, sizeof error) != COMPASS_RDV_OK) {
      return Fail("adding to " + key, error);
    }
    return result;
  }

 private:
  Status Fail(const std::string& what, const char* error) const {
    return IoError(what_ + ": " + what + ": " + error);
  }
  std::shared_ptr<boost::dll::shared_library> lib_;
  const compass_rdv_api* api_;
  compass_rdv* handle_;
  std::string what_;
};

}  // namespace

std::string RendezvousLibraryPath() {
  if (const char* env = std::getenv("COMPASS_RENDEZVOUS_LIBRARY"); env && *env) return env;
  std::error_code ec;
  const std::filesystem::path exe = boost::dll::program_location(ec);
  return (exe.parent_path().parent_path() / "lib" / "compass" / "libcompass_rendezvous.so")
      .string();
}

StatusOr<std::unique_ptr<KeyValueStore>> OpenRendezvous(const RendezvousAddress& address) {
  static std::shared_ptr<boost::dll::shared_library> library;
  static const compass_rdv_api* api = nullptr;
  const std::string path = RendezvousLibraryPath();
  if (!library) {
    std::error_code exists_ec;
    if (!std::filesystem::exists(path, exists_ec)) {
      return NotFound("a sharded run needs the rendezvous library, which is not at " + path +
                      " (it is built with libtorch; set COMPASS_RENDEZVOUS_LIBRARY to its path)");
    }
    // c10d logs a lost connection as a warning with a C++ backtrace; the
    // coordinator reports it in one line instead (a value the user set wins).
    setenv("TORCH_CPP_LOG_LEVEL", "ERROR", 0);
    std::error_code ec;
    auto lib = std::make_shared<boost::dll::shared_library>(
        path, boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local, ec);
    if (ec || !lib->is_loaded()) {
      return NotFound("cannot load the rendezvous library " + path + ": " + ec.message());
    }
    if (!lib->has("compass_rendezvous_api")) {
      return NotFound(path + " is not the rendezvous library (no compass_rendezvous_api)");
    }
    const compass_rdv_api* table = lib->get<const compass_rdv_api*()>("compass_rendezvous_api")();
    if (table == nullptr || table->version != COMPASS_RENDEZVOUS_API_VERSION) {
      return Unsupported(path + " speaks rendezvous API version " +
                         std::to_string(table ? table->version : 0) + ", this compass needs " +
                         std::to_string(COMPASS_RENDEZVOUS_API_VERSION) +
                         ": use the library built with it");
    }
    library = std::move(lib);
    api = table;
  }
  const std::string what = address.host.empty() ? "the rendezvous file " + address.file
                                                : "the rendezvous at " + address.host + ":" +
                                                      std::to_string(address.port);
  char error[kErrorSize] = "";
  compass_rdv* handle = nullptr;
  if (api->open(address.host.c_str(), address.port, address.is_server ? 1 : 0, address.file.c_str(),
                address.world, static_cast<int64_t>(address.connect_timeout_seconds * 1000),
                &handle, error, sizeof error) != COMPASS_RDV_OK) {
    return IoError("cannot open " + what + ": " + error);
  }
  return std::unique_ptr<KeyValueStore>(new LibraryStore(library, api, handle, what));
}

}  // namespace compass
