// Paired statistics for comparing two backends item by item (`compass compare`):
// McNemar's test for 0/1 metrics (exact binomial for few discordant pairs, the
// continuity-corrected chi-square otherwise) and a paired bootstrap interval for
// any other per-item metric. Both use the pairing: each item is scored on both
// backends, so only the items where they differ carry information.
// docs/compare_statistics.md describes the choices.
#ifndef COMPASS_REPORT_PAIRED_STATS_H_
#define COMPASS_REPORT_PAIRED_STATS_H_

#include <cstdint>
#include <vector>

#include "util/status.h"

namespace compass::report {

// Below this many discordant pairs McNemar uses the exact binomial test.
inline constexpr uint64_t kMcNemarExactBelow = 25;

// Discordant pairs of two 0/1 outcome vectors over the same items.
struct McNemarResult {
  uint64_t n = 0;       // items
  uint64_t only_a = 0;  // a right, b wrong
  uint64_t only_b = 0;  // b right, a wrong
  // Chi-square with continuity correction, (|only_a - only_b| - 1)^2 / (only_a + only_b)
  // (as R's mcnemar.test and statsmodels); 0 when no discordant pair. Reported in
  // both regimes; it decides the p-value only when `exact` is false.
  double statistic = 0;
  double p_value = 1;  // two-sided
  bool exact = false;  // exact binomial test used
};

// Exact (binomial, p = 1/2, two-sided: min(1, 2 * P(X <= min(b, c)))) when
// only_a + only_b < kMcNemarExactBelow, else the chi-square (1 dof) with continuity
// correction. Values must be 0 or 1 (else InvalidArgument naming the index);
// vectors of different sizes: InvalidArgument.
StatusOr<McNemarResult> McNemar(const std::vector<double>& a, const std::vector<double>& b);

// The same from counts; InvalidArgument when only_a + only_b > n.
StatusOr<McNemarResult> McNemarFromCounts(uint64_t only_a, uint64_t only_b, uint64_t n);

// The exact two-sided p-value min(1, 2 * P(X <= min(only_a, only_b))), X ~
// Binomial(only_a + only_b, 1/2), for any counts: the terms are computed in log
// space (Loader's saddle-point form of the binomial pmf, lgamma for small
// arguments) and summed relative to the largest, so counts of 1e6 and more keep
// full relative precision; a p-value below the smallest double is 0.
double McNemarExactPValue(uint64_t only_a, uint64_t only_b);

// Survival function of the chi-square distribution with 1 degree of freedom,
// P(X >= x) = erfc(sqrt(x / 2)); 1 for x <= 0.
double ChiSquare1Sf(double x);

struct BootstrapResult {
  double mean_a = 0, mean_b = 0, difference = 0;  // mean(b - a)
  double low = 0, high = 0;                       // percentile interval of the difference
  // Two-sided: 2 * min(share of resampled differences <= 0, share >= 0), capped at 1.
  double p_value = 1;
  uint64_t resamples = 0;
};

// Paired bootstrap over items: each resample draws n item indices with replacement
// (the same indices for a and b) and takes the mean of b - a there. Draws come from
// std::mt19937_64(seed), mapped to indices without modulo bias by a method fixed
// here (not std::uniform_int_distribution, whose output differs between standard
// libraries), so a seed gives the same result everywhere. The interval is the
// (1 - confidence) / 2 and (1 + confidence) / 2 quantiles of the resampled
// differences, linearly interpolated between order statistics (numpy's default).
// InvalidArgument for different sizes, empty input, non-finite values (or a
// non-finite difference), resamples < 1, confidence outside (0, 1).
StatusOr<BootstrapResult> PairedBootstrap(const std::vector<double>& a,
                                          const std::vector<double>& b, uint64_t resamples = 10000,
                                          uint64_t seed = 0, double confidence = 0.95);

// Standard error of the mean difference of paired values: sample standard deviation
// (n - 1 denominator) of b - a over sqrt(n); 0 for n < 2, NaN for different sizes.
double PairedStandardError(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace compass::report

#endif  // COMPASS_REPORT_PAIRED_STATS_H_
