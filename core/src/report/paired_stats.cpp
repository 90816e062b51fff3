#include "report/paired_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace compass::report {
namespace {

constexpr double kLog2Pi = 1.8378770664093454836;  // log(2 pi)

// stirlerr(n) = log(n!) - log(sqrt(2 pi n) (n / e)^n), the error of Stirling's
// formula, for integer n >= 1 (Loader 2000, as in R's dbinom).
double StirlingError(double n) {
  if (n <= 15) {
    // Small enough that long double lgamma loses nothing that matters.
    const long double ln = n;
    return static_cast<double>(std::lgamma(ln + 1) - (ln + 0.5L) * std::log(ln) + ln -
                               0.5L * static_cast<long double>(kLog2Pi));
  }
  constexpr double S0 = 1.0 / 12, S1 = 1.0 / 360, S2 = 1.0 / 1260, S3 = 1.0 / 1680, S4 = 1.0 / 1188;
  const double nn = n * n;
  if (n > 500) return (S0 - S1 / nn) / n;
  if (n > 80) return (S0 - (S1 - S2 / nn) / nn) / n;
  if (n > 35) return (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n;
  return (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n;
}

// bd0(x, np) = x log(x / np) + np - x without cancellation when x is near np.
double Bd0(double x, double np) {
  if (std::fabs(x - np) < 0.1 * (x + np)) {
    double v = (x - np) / (x + np);
    double s = (x - np) * v;
    double ej = 2 * x * v;
    v *= v;
    for (int j = 1; j < 1000; ++j) {
      ej *= v;
      const double s1 = s + ej / (2 * j + 1);
      if (s1 == s) return s1;
      s = s1;
    }
    return s;
  }
  return x * std::log(x / np) + np - x;
}

// log P(X = k), X ~ Binomial(n, 1/2), 0 <= k <= n.
double LogBinomialHalfPmf(uint64_t k, uint64_t n) {
  if (n == 0) return 0;
  const double dn = static_cast<double>(n);
  if (k == 0 || k == n) return -dn * std::log(2.0);
  const double dk = static_cast<double>(k), dm = static_cast<double>(n - k);
  const double half = dn / 2;
  const double lc =
      StirlingError(dn) - StirlingError(dk) - StirlingError(dm) - Bd0(dk, half) - Bd0(dm, half);
  const double lf = kLog2Pi + std::log(dk) + std::log1p(-dk / dn);
  return lc - 0.5 * lf;
}

// Lemire's multiply-and-reject: uniform in [0, bound), the same on every platform.
uint64_t BoundedDraw(std::mt19937_64& rng, uint64_t bound) {
  uint64_t x = rng();
  unsigned __int128 m = static_cast<unsigned __int128>(x) * bound;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      x = rng();
      m = static_cast<unsigned __int128>(x) * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

// Quantile q of sorted values, linear between order statistics (numpy "linear").
double Quantile(const std::vector<double>& sorted, double q) {
  const double h = (static_cast<double>(sorted.size()) - 1) * q;
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = h - static_cast<double>(lo);
  if (frac == 0 || sorted[hi] == sorted[lo]) return sorted[lo];
  return sorted[lo] + frac * (sorted[hi] - sorted[lo]);
}

}  // namespace

double McNemarExactPValue(uint64_t only_a, uint64_t only_b) {
  const uint64_t n = only_a + only_b;
  const uint64_t k = std::min(only_a, only_b);
  if (2 * k >= n) return 1;  // P(X <= n / 2) >= 1/2
  // P(X <= k) = pmf(k) * (1 + sum over i < k of pmf(i) / pmf(k)); the terms fall
  // with the ratio pmf(i - 1) / pmf(i) = i / (n - i + 1) < 1.
  double sum = 1, term = 1;
  for (uint64_t i = k; i >= 1; --i) {
    term *= static_cast<double>(i) / static_cast<double>(n - i + 1);
    sum += term;
    if (term <= sum * 1e-18) break;
  }
  const double log_tail = LogBinomialHalfPmf(k, n) + std::log(sum);
  return std::min(1.0, 2 * std::exp(log_tail));
}

double ChiSquare1Sf(double x) {
  if (!(x > 0)) return 1;
  return std::erfc(std::sqrt(x / 2));
}

StatusOr<McNemarResult> McNemarFromCounts(uint64_t only_a, uint64_t only_b, uint64_t n) {
  if (only_a > n || only_b > n - only_a) {
    return InvalidArgument("McNemar: " + std::to_string(only_a) + " + " + std::to_string(only_b) +
                           " discordant pairs exceed " + std::to_string(n) + " items");
  }
  McNemarResult r;
  r.n = n;
  r.only_a = only_a;
  r.only_b = only_b;
  const uint64_t discordant = only_a + only_b;
  if (discordant > 0) {
    const double diff = static_cast<double>(only_a > only_b ? only_a - only_b : only_b - only_a);
    r.statistic = (diff - 1) * (diff - 1) / static_cast<double>(discordant);
  }
  r.exact = discordant < kMcNemarExactBelow;
  r.p_value = r.exact ? McNemarExactPValue(only_a, only_b) : ChiSquare1Sf(r.statistic);
  return r;
}

StatusOr<McNemarResult> McNemar(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) {
    return InvalidArgument("McNemar: the outcome vectors differ in size (" +
                           std::to_string(a.size()) + " and " + std::to_string(b.size()) + ")");
  }
  uint64_t only_a = 0, only_b = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    for (const auto& [name, v] : {std::pair{"a", a[i]}, std::pair{"b", b[i]}}) {
      if (v != 0.0 && v != 1.0) {
        return InvalidArgument(std::string("McNemar: ") + name + "[" + std::to_string(i) +
                               "] = " + std::to_string(v) + " is not 0 or 1");
      }
    }
    if (a[i] == 1.0 && b[i] == 0.0) ++only_a;
    if (a[i] == 0.0 && b[i] == 1.0) ++only_b;
  }
  return McNemarFromCounts(only_a, only_b, a.size());
}

StatusOr<BootstrapResult> PairedBootstrap(const std::vector<double>& a,
                                          const std::vector<double>& b, uint64_t resamples,
                                          uint64_t seed, double confidence) {
  if (a.size() != b.size()) {
    return InvalidArgument("paired bootstrap: the value vectors differ in size (" +
                           std::to_string(a.size()) + " and " + std::to_string(b.size()) + ")");
  }
  if (a.empty()) return InvalidArgument("paired bootstrap: no items");
  if (resamples < 1) return InvalidArgument("paired bootstrap: resamples must be at least 1");
  if (!(confidence > 0 && confidence < 1)) {
    return InvalidArgument("paired bootstrap: confidence " + std::to_string(confidence) +
                           " is not in (0, 1)");
  }
  const size_t n = a.size();
  std::vector<double> d(n);
  double sum_a = 0, sum_b = 0, sum_d = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(a[i]) || !std::isfinite(b[i])) {
      return InvalidArgument("paired bootstrap: item " + std::to_string(i) +
                             " has a non-finite value");
    }
    d[i] = b[i] - a[i];
    if (!std::isfinite(d[i])) {
      return InvalidArgument("paired bootstrap: item " + std::to_string(i) +
                             " has a non-finite difference");
    }
    sum_a += a[i];
    sum_b += b[i];
    sum_d += d[i];
  }
  BootstrapResult r;
  const double dn = static_cast<double>(n);
  r.mean_a = sum_a / dn;
  r.mean_b = sum_b / dn;
  r.difference = sum_d / dn;
  r.resamples = resamples;

  std::mt19937_64 rng(seed);
  std::vector<double> means(resamples);
  uint64_t at_most_0 = 0, at_least_0 = 0;
  for (uint64_t s = 0; s < resamples; ++s) {
    double sum = 0;
    for (size_t j = 0; j < n; ++j) sum += d[BoundedDraw(rng, n)];
    const double m = sum / dn;
    means[s] = m;
    at_most_0 += m <= 0;
    at_least_0 += m >= 0;
  }
  const double share =
      static_cast<double>(std::min(at_most_0, at_least_0)) / static_cast<double>(resamples);
  r.p_value = std::min(1.0, 2 * share);
  std::sort(means.begin(), means.end());
  const double alpha = (1 - confidence) / 2;
  r.low = Quantile(means, alpha);
  r.high = Quantile(means, 1 - alpha);
  return r;
}

double PairedStandardError(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return std::nan("");
  const size_t n = a.size();
  if (n < 2) return 0;
  double mean = 0;
  for (size_t i = 0; i < n; ++i) mean += b[i] - a[i];
  mean /= static_cast<double>(n);
  double ss = 0;
  for (size_t i = 0; i < n; ++i) {
    const double dev = (b[i] - a[i]) - mean;
    ss += dev * dev;
  }
  return std::sqrt(ss / static_cast<double>(n - 1)) / std::sqrt(static_cast<double>(n));
}

}  // namespace compass::report
