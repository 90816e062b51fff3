// For plugins built on the core libraries (the in-tree backends): a failed
// Status becomes the SDK's exception, which the plugin boundary turns back
// into a status with the same code and message.
#ifndef COMPASS_UTIL_STATUS_THROW_H_
#define COMPASS_UTIL_STATUS_THROW_H_

#include <compass/plugin.hpp>

#include <utility>

#include "util/status.h"

namespace compass {

inline void ThrowIfError(const Status& s) {
  if (!s.ok()) throw sdk::Error(s.code(), s.message());
}

template <typename T>
T ValueOrThrow(StatusOr<T> s) {
  ThrowIfError(s.status());
  return std::move(s).value();
}

}  // namespace compass

#endif  // COMPASS_UTIL_STATUS_THROW_H_
