// Status and StatusOr: error values used throughout the core (no exceptions
// cross a module boundary). Modelled on absl::Status, reduced to what we use.
#ifndef COMPASS_UTIL_STATUS_H_
#define COMPASS_UTIL_STATUS_H_

#include <compass/plugin.h>

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace compass {

// Error codes are the ABI's compass_code, so statuses cross the plugin
// boundary unchanged.
using Code = compass_code;

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  bool ok() const { return code_ == COMPASS_OK; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "invalid argument: <message>" style, for logs.
  std::string ToString() const;

  // Returns a copy with `context` prepended: "context: message".
  Status WithContext(const std::string& context) const;

 private:
  Code code_ = COMPASS_OK;
  std::string message_;
};

const char* CodeName(Code code);

inline Status InvalidArgument(std::string m) {
  return {COMPASS_INVALID_ARGUMENT, std::move(m)};
}
inline Status NotFound(std::string m) {
  return {COMPASS_NOT_FOUND, std::move(m)};
}
inline Status Unsupported(std::string m) {
  return {COMPASS_UNSUPPORTED, std::move(m)};
}
inline Status Internal(std::string m) {
  return {COMPASS_INTERNAL, std::move(m)};
}
inline Status IoError(std::string m) {
  return {COMPASS_IO, std::move(m)};
}
inline Status DataLoss(std::string m) {
  return {COMPASS_DATA_LOSS, std::move(m)};
}
inline Status OutOfMemory(std::string m) {
  return {COMPASS_OUT_OF_MEMORY, std::move(m)};
}
inline Status Cancelled(std::string m) {
  return {COMPASS_CANCELLED, std::move(m)};
}

template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT
  StatusOr(T value) : value_(std::move(value)) {}                                  // NOLINT

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace compass

#define COMPASS_CONCAT_INNER(a, b) a##b
#define COMPASS_CONCAT(a, b) COMPASS_CONCAT_INNER(a, b)

// Returns the status from the enclosing function if it is not OK.
#define COMPASS_RETURN_IF_ERROR(expr) \
  do {                                \
    ::compass::Status _st = (expr);   \
    if (!_st.ok()) return _st;        \
  } while (0)

// `COMPASS_ASSIGN_OR_RETURN(auto x, F());`
#define COMPASS_ASSIGN_OR_RETURN(lhs, expr)               \
  auto COMPASS_CONCAT(_statusor_, __LINE__) = (expr);     \
  if (!COMPASS_CONCAT(_statusor_, __LINE__).ok())         \
    return COMPASS_CONCAT(_statusor_, __LINE__).status(); \
  lhs = std::move(COMPASS_CONCAT(_statusor_, __LINE__)).value()

#endif  // COMPASS_UTIL_STATUS_H_
