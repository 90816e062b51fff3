// Status-returning entry points of the model library run libtorch code
// through Guarded, which turns its exceptions into a Status: OutOfMemory for
// allocation failures, Internal otherwise (with `what` in front).
#ifndef COMPASS_MODELS_GUARDED_H_
#define COMPASS_MODELS_GUARDED_H_

#include <c10/util/Exception.h>

#include <exception>
#include <string>

#include "util/status.h"

namespace compass::model {

template <typename F>
auto Guarded(const std::string& what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::OutOfMemoryError& e) {
    return OutOfMemory(what + ": " + e.what_without_backtrace());
  } catch (const c10::Error& e) {
    return Internal(what + ": " + e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Internal(what + ": " + e.what());
  }
}

}  // namespace compass::model

#endif  // COMPASS_MODELS_GUARDED_H_
