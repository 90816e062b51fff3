// Reading the in-tree backends' numeric options from the JSON the host
// passes to create (keys and types already checked against the option
// specs): a value outside its range is refused there, before any weight is
// read, naming the key as the config spells it (backend.<name>.<key>) and
// the range allowed.
//
// Errors are thrown as sdk::Error (COMPASS_INVALID_ARGUMENT); call from a
// backend's constructor, which the SDK turns into create's status.
#ifndef COMPASS_BACKEND_SUPPORT_OPTIONS_H_
#define COMPASS_BACKEND_SUPPORT_OPTIONS_H_

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace compass::backend_support {

// CPU threads for libtorch: 0 (its default) to this many.
inline constexpr int64_t kMaxThreads = 4096;

// options[key] when present (else `fallback`), within [min, max]; `meaning`
// ("0: libtorch's default") is added to the error.
int64_t IntOption(const nlohmann::json& options, const std::string& backend, const std::string& key,
                  int64_t fallback, int64_t min, int64_t max, const std::string& meaning = "");

// The `threads` option every in-tree backend has: 0 to kMaxThreads.
int ThreadsOption(const nlohmann::json& options, const std::string& backend);

// A memory amount given as a size ("40GiB", "512MiB") or a number of bytes
// (>= 0, below 2^64); `key` names it in errors (e.g. "max_memory.cuda:0").
uint64_t BytesOption(const nlohmann::json& value, const std::string& backend,
                     const std::string& key);

}  // namespace compass::backend_support

#endif  // COMPASS_BACKEND_SUPPORT_OPTIONS_H_
