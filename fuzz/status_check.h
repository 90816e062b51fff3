// A parser reports bad input as a Status naming what is wrong. INTERNAL is
// what a parser returns when it caught something it did not expect (an
// exception from a library): for the fuzz targets, a finding.
#ifndef COMPASS_FUZZ_STATUS_CHECK_H_
#define COMPASS_FUZZ_STATUS_CHECK_H_

#include <cstdio>
#include <cstdlib>

#include "util/status.h"

namespace compass::fuzz {

inline void CheckNotInternal(const Status& status) {
  if (status.code() != COMPASS_INTERNAL) return;
  std::fprintf(stderr, "internal error on malformed input: %s\n", status.ToString().c_str());
  std::abort();
}

}  // namespace compass::fuzz

#endif  // COMPASS_FUZZ_STATUS_CHECK_H_
