#include "report/paired_stats.h"

#include <gtest/gtest.h>

#include "test_files.h"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace compass::report {
namespace {

// p within 1e-9 relative or 1e-12 absolute.
void ExpectP(double got, double want, const std::string& what) {
  const double tol = std::max(1e-12, 1e-9 * std::fabs(want));
  EXPECT_NEAR(got, want, tol) << what;
}

nlohmann::json LoadGoldens() {
  const std::filesystem::path path =
      std::filesystem::path(COMPASS_SOURCE_DIR) / "tests/fixtures/stats/mcnemar_goldens.json";
  const std::string text = compass::testing::Slurp(path);
  EXPECT_FALSE(text.empty()) << path;
  return nlohmann::json::parse(text);
}

// Outcome vectors with the given discordant counts, the concordant items split
// between both right and both wrong, interleaved.
void MakeOutcomes(uint64_t only_a, uint64_t only_b, uint64_t n, std::vector<double>* a,
                  std::vector<double>* b) {
  a->clear();
  b->clear();
  for (uint64_t i = 0; i < n; ++i) {
    if (i < only_a) {
      a->push_back(1), b->push_back(0);
    } else if (i < only_a + only_b) {
      a->push_back(0), b->push_back(1);
    } else {
      const double v = (i % 3 == 0) ? 0 : 1;
      a->push_back(v), b->push_back(v);
    }
  }
}

TEST(McNemar, MatchesScipyGoldens) {
  const nlohmann::json goldens = LoadGoldens();
  ASSERT_EQ(goldens["exact_below"].get<uint64_t>(), kMcNemarExactBelow);
  ASSERT_GE(goldens["cases"].size(), 30u);
  for (const auto& c : goldens["cases"]) {
    const uint64_t only_a = c["only_a"], only_b = c["only_b"], n = c["n"];
    const std::string what =
        std::to_string(only_a) + "/" + std::to_string(only_b) + " of " + std::to_string(n);
    auto r = McNemarFromCounts(only_a, only_b, n);
    ASSERT_TRUE(r.ok()) << what << ": " << r.status().message();
    EXPECT_EQ(r->n, n) << what;
    EXPECT_EQ(r->only_a, only_a) << what;
    EXPECT_EQ(r->only_b, only_b) << what;
    EXPECT_EQ(r->exact, c["exact"].get<bool>()) << what;
    ExpectP(r->p_value, c["p_value"].get<double>(), what + " p");
    const double statistic = c["statistic"];
    EXPECT_NEAR(r->statistic, statistic, 1e-12 * std::max(1.0, statistic)) << what;
    // Both p-values for every case, so the exact tail is checked at large counts
    // too (log space; relative precision all the way down to 1e-301).
    const double exact_p = c["exact_p"];
    if (exact_p > 0) {
      EXPECT_NEAR(McNemarExactPValue(only_a, only_b), exact_p, 1e-9 * exact_p) << what;
    } else {
      EXPECT_LT(McNemarExactPValue(only_a, only_b), 1e-300) << what;
    }
    const double chi2_p = c["chi2_p"];
    EXPECT_NEAR(ChiSquare1Sf(statistic), chi2_p, std::max(1e-300, 1e-9 * chi2_p)) << what;
  }
}

TEST(McNemar, ExactAtMostTwentyFourDiscordantPairs) {
  EXPECT_TRUE(McNemarFromCounts(24, 0, 24)->exact);
  EXPECT_TRUE(McNemarFromCounts(12, 12, 30)->exact);
  EXPECT_FALSE(McNemarFromCounts(25, 0, 25)->exact);
  EXPECT_FALSE(McNemarFromCounts(13, 12, 30)->exact);
  auto none = McNemarFromCounts(0, 0, 10);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->statistic, 0);
  EXPECT_EQ(none->p_value, 1);
}

TEST(McNemar, VectorFormEqualsCountForm) {
  const nlohmann::json goldens = LoadGoldens();
  std::vector<double> a, b;
  for (const auto& c : goldens["cases"]) {
    const uint64_t only_a = c["only_a"], only_b = c["only_b"], n = c["n"];
    if (n > 20000) continue;  // the vectors would only cost time
    MakeOutcomes(only_a, only_b, n, &a, &b);
    auto from_vectors = McNemar(a, b);
    auto from_counts = McNemarFromCounts(only_a, only_b, n);
    ASSERT_TRUE(from_vectors.ok()) << from_vectors.status().message();
    ASSERT_TRUE(from_counts.ok());
    EXPECT_EQ(from_vectors->n, n);
    EXPECT_EQ(from_vectors->only_a, only_a);
    EXPECT_EQ(from_vectors->only_b, only_b);
    EXPECT_EQ(from_vectors->statistic, from_counts->statistic);
    EXPECT_EQ(from_vectors->p_value, from_counts->p_value);
    EXPECT_EQ(from_vectors->exact, from_counts->exact);
  }
  // Swapping the backends swaps the counts and keeps the two-sided p-value.
  MakeOutcomes(12, 3, 100, &a, &b);
  auto ab = McNemar(a, b);
  auto ba = McNemar(b, a);
  ASSERT_TRUE(ab.ok() && ba.ok());
  EXPECT_EQ(ba->only_a, 3u);
  EXPECT_EQ(ba->only_b, 12u);
  EXPECT_EQ(ab->p_value, ba->p_value);
}

TEST(McNemar, Refusals) {
  auto sizes = McNemar({1, 0, 1}, {1, 0});
  ASSERT_FALSE(sizes.ok());
  EXPECT_EQ(sizes.status().code(), COMPASS_INVALID_ARGUMENT);

  auto half = McNemar({1, 0, 1, 0}, {1, 0, 0.5, 0});
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(half.status().message().find("b[2]"), std::string::npos) << half.status().message();

  auto nan = McNemar({1, std::nan(""), 1}, {1, 0, 1});
  ASSERT_FALSE(nan.ok());
  EXPECT_EQ(nan.status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(nan.status().message().find("a[1]"), std::string::npos) << nan.status().message();

  auto counts = McNemarFromCounts(6, 5, 10);
  ASSERT_FALSE(counts.ok());
  EXPECT_EQ(counts.status().code(), COMPASS_INVALID_ARGUMENT);

  auto empty = McNemar({}, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->n, 0u);
  EXPECT_EQ(empty->p_value, 1);
}

// 1000 items: a right on 600, b right on 700; b - a is +1 on 150, -1 on 50, 0 on
// 800, so the true (and sample) mean difference is exactly 0.1.
void ConstructedCase(std::vector<double>* a, std::vector<double>* b) {
  a->assign(1000, 0);
  b->assign(1000, 0);
  for (int i = 0; i < 1000; ++i) {
    const int k = (i * 7) % 20;  // spreads the kinds over the items
    if (k < 3) {
      (*b)[i] = 1;  // only b: 150
    } else if (k < 4) {
      (*a)[i] = 1;  // only a: 50
    } else if (k < 15) {
      (*a)[i] = (*b)[i] = 1;  // both: 550
    }
  }
}

TEST(PairedBootstrap, ReproducibleForASeed) {
  std::vector<double> a, b;
  ConstructedCase(&a, &b);
  auto r1 = PairedBootstrap(a, b, 2000, 42);
  auto r2 = PairedBootstrap(a, b, 2000, 42);
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_EQ(r1->low, r2->low);
  EXPECT_EQ(r1->high, r2->high);
  EXPECT_EQ(r1->p_value, r2->p_value);
  EXPECT_EQ(r1->resamples, 2000u);
}

TEST(PairedBootstrap, DifferentSeedsClose) {
  std::vector<double> a, b;
  ConstructedCase(&a, &b);
  auto r1 = PairedBootstrap(a, b, 10000, 1);
  auto r2 = PairedBootstrap(a, b, 10000, 2);
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_NE(r1->low, r2->low);  // different draws...
  const double width = r1->high - r1->low;
  EXPECT_NEAR(r1->low, r2->low, 0.05 * width);  // ...the same interval
  EXPECT_NEAR(r1->high, r2->high, 0.05 * width);
  EXPECT_EQ(r1->difference, r2->difference);
}

TEST(PairedBootstrap, IntervalContainsTrueDifference) {
  std::vector<double> a, b;
  ConstructedCase(&a, &b);
  auto r = PairedBootstrap(a, b);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_DOUBLE_EQ(r->mean_a, 0.6);
  EXPECT_DOUBLE_EQ(r->mean_b, 0.7);
  EXPECT_DOUBLE_EQ(r->difference, 0.1);
  EXPECT_EQ(r->resamples, 10000u);
  EXPECT_LT(r->low, 0.1);
  EXPECT_GT(r->high, 0.1);
  // The percentile interval is close to the normal one, +-1.96 standard errors.
  const double se = PairedStandardError(a, b);
  EXPECT_NEAR(r->high - r->low, 2 * 1.959964 * se, 0.1 * 2 * 1.959964 * se);
  EXPECT_GT(r->low, 0);  // 0.1 is more than 5 standard errors (about 0.0195) away
  EXPECT_LT(r->p_value, 0.01);
  // A wider confidence gives a wider interval.
  auto wide = PairedBootstrap(a, b, 10000, 0, 0.99);
  ASSERT_TRUE(wide.ok());
  EXPECT_LT(wide->low, r->low);
  EXPECT_GT(wide->high, r->high);
}

TEST(PairedBootstrap, AllDifferencesPositive) {
  std::vector<double> a, b;
  for (int i = 0; i < 200; ++i) {
    a.push_back(0.1 * (i % 7));
    b.push_back(a.back() + 0.05 + 0.01 * (i % 5));
  }
  auto r = PairedBootstrap(a, b, 5000, 3);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->low, 0);
  EXPECT_LE(r->low, r->difference);
  EXPECT_GE(r->high, r->difference);
  EXPECT_LT(r->p_value, 1e-3);
}

TEST(PairedBootstrap, IdenticalVectors) {
  const std::vector<double> a = {0.5, 1.25, -3, 7, 0, 2};
  auto r = PairedBootstrap(a, a, 1000, 9);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->difference, 0);
  EXPECT_EQ(r->low, 0);
  EXPECT_EQ(r->high, 0);
  EXPECT_EQ(r->p_value, 1);
  EXPECT_DOUBLE_EQ(r->mean_a, r->mean_b);
}

TEST(PairedBootstrap, SingleItemAndSingleResample) {
  auto r = PairedBootstrap({1}, {3}, 1, 5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->difference, 2);
  EXPECT_EQ(r->low, 2);
  EXPECT_EQ(r->high, 2);
  EXPECT_EQ(r->p_value, 0);
}

TEST(PairedBootstrap, Refusals) {
  const auto invalid = [](const StatusOr<BootstrapResult>& r) {
    return !r.ok() && r.status().code() == COMPASS_INVALID_ARGUMENT;
  };
  EXPECT_TRUE(invalid(PairedBootstrap({1, 2}, {1})));
  EXPECT_TRUE(invalid(PairedBootstrap({}, {})));
  EXPECT_TRUE(invalid(PairedBootstrap({1, std::nan("")}, {1, 2})));
  EXPECT_TRUE(invalid(PairedBootstrap({1, 2}, {1, INFINITY})));
  EXPECT_TRUE(invalid(PairedBootstrap({-1e308, 0}, {1e308, 0})));  // b - a overflows
  EXPECT_TRUE(invalid(PairedBootstrap({1, 2}, {1, 2}, 0)));
  EXPECT_TRUE(invalid(PairedBootstrap({1, 2}, {1, 2}, 10, 0, 0)));
  EXPECT_TRUE(invalid(PairedBootstrap({1, 2}, {1, 2}, 10, 0, 1)));
  EXPECT_TRUE(invalid(PairedBootstrap({1, 2}, {1, 2}, 10, 0, 1.5)));
  EXPECT_TRUE(invalid(PairedBootstrap({1, 2}, {1, 2}, 10, 0, std::nan(""))));
}

TEST(PairedStandardError, HandComputed) {
  // b - a = {1, 2, 0, 3}: mean 1.5, squared deviations 0.25 + 0.25 + 2.25 + 2.25 = 5,
  // sample variance 5 / 3, standard error sqrt(5 / 3) / sqrt(4) = sqrt(5 / 12).
  EXPECT_NEAR(PairedStandardError({1, 2, 3, 4}, {2, 4, 3, 7}), 0.6454972243679028, 1e-15);
  EXPECT_EQ(PairedStandardError({1}, {5}), 0);
  EXPECT_EQ(PairedStandardError({}, {}), 0);
  EXPECT_EQ(PairedStandardError({1, 2, 3}, {2, 3, 4}), 0);  // constant difference
  EXPECT_TRUE(std::isnan(PairedStandardError({1, 2}, {1})));
}

}  // namespace
}  // namespace compass::report
