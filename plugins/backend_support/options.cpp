#include "options.h"

#include <compass/plugin.hpp>

#include <cmath>

#include "util/strings.h"

namespace compass::backend_support {
namespace {

[[noreturn]] void Refuse(const std::string& backend, const std::string& key,
                         const std::string& what) {
  throw sdk::Error(COMPASS_INVALID_ARGUMENT, "backend." + backend + "." + key + " " + what);
}

}  // namespace

int64_t IntOption(const nlohmann::json& options, const std::string& backend, const std::string& key,
                  int64_t fallback, int64_t min, int64_t max, const std::string& meaning) {
  const auto it = options.find(key);
  if (it == options.end()) return fallback;
  const std::string range = "must be between " + std::to_string(min) + " and " +
                            std::to_string(max) + (meaning.empty() ? "" : " (" + meaning + ")");
  if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    Refuse(backend, key, range + ", got " + it->dump());
  }
  if (!it->is_number_integer()) Refuse(backend, key, range + ", got " + it->dump());
  const int64_t v = it->get<int64_t>();
  if (v < min || v > max) Refuse(backend, key, range + ", got " + std::to_string(v));
  return v;
}

int ThreadsOption(const nlohmann::json& options, const std::string& backend) {
  return static_cast<int>(
      IntOption(options, backend, "threads", 0, 0, kMaxThreads, "0: libtorch's default"));
}

uint64_t BytesOption(const nlohmann::json& value, const std::string& backend,
                     const std::string& key) {
  if (value.is_string()) {
    auto bytes = ParseByteSize(value.get<std::string>());
    if (!bytes.ok()) Refuse(backend, key, "is not a memory size: " + bytes.status().message());
    return *bytes;
  }
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    return static_cast<uint64_t>(value.get<int64_t>());
  }
  if (value.is_number_float()) {
    const double v = value.get<double>();
    if (v >= 0 && v < 18446744073709551616.0) return static_cast<uint64_t>(v);
  }
  Refuse(backend, key,
         "must be a memory size such as \"40GiB\" or a number of bytes from 0 to 2^64 - 1, got " +
             value.dump());
}

}  // namespace compass::backend_support
