// Token lists for the paged_tp scheduling tests.
#ifndef COMPASS_TESTS_PLUGINS_PAGED_TP_TOKEN_LISTS_H_
#define COMPASS_TESTS_PLUGINS_PAGED_TP_TOKEN_LISTS_H_

#include <cstdint>
#include <numeric>
#include <vector>

namespace compass::paged_tp {

// from, from + 1, ..., from + count - 1.
inline std::vector<int32_t> Range(int32_t from, int32_t count) {
  std::vector<int32_t> v(static_cast<size_t>(count));
  std::iota(v.begin(), v.end(), from);
  return v;
}

inline std::vector<int32_t> Concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace compass::paged_tp

#endif  // COMPASS_TESTS_PLUGINS_PAGED_TP_TOKEN_LISTS_H_
