#!/usr/bin/env python3
"""Regenerates tests/fixtures/stats/mcnemar_goldens.json, the McNemar goldens of
core/src/report/paired_stats.cpp.

Everything is computed by the reference implementations: scipy.stats.binomtest for
the exact two-sided p-value (for p = 1/2 scipy's two-sided test equals
min(1, 2 * P(X <= min(b, c))), checked here against binom.cdf) and scipy.stats.chi2.sf
for the continuity-corrected chi-square (|b - c| - 1)^2 / (b + c); both are
cross-checked with statsmodels.stats.contingency_tables.mcnemar when statsmodels is
installed.

Per case (only_a = a right and b wrong, only_b = b right and a wrong, n items):
  statistic  the corrected chi-square (0 without discordant pairs)
  exact      only_a + only_b < 25: the exact binomial test decides
  p_value    the p-value McNemar reports (exact_p or chi2_p by `exact`)
  exact_p    the exact binomial p-value, for every case (McNemarExactPValue)
  chi2_p     the chi-square p-value, for every case (ChiSquare1Sf(statistic))

Usage: python scripts/goldens/make_paired_stats_goldens.py
Needs: scipy (statsmodels optional, for the cross-check).
"""
import math
import os

import scipy
from scipy import stats

from golden_util import write_lines_json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "stats", "mcnemar_goldens.json")

EXACT_BELOW = 25

# (only_a, only_b, n): around the exact/chi-square switch (24 vs 25 discordant
# pairs), ties, one-sided counts and large counts (log-space tails).
CASES = [
    (0, 0, 0), (0, 0, 50), (1, 0, 10), (0, 1, 10), (2, 0, 20), (3, 1, 40), (5, 5, 100),
    (12, 3, 100), (3, 12, 100), (10, 2, 60), (20, 4, 200), (24, 0, 24), (0, 24, 100),
    (12, 12, 80), (13, 11, 90), (13, 12, 100), (12, 13, 100), (20, 5, 150), (25, 0, 25),
    (13, 13, 100), (15, 10, 300), (30, 10, 500), (50, 20, 400), (100, 80, 1000),
    (500, 450, 5000), (1000, 1000, 10000), (5000, 4800, 20000), (100000, 99000, 500000),
    (500000, 499000, 1200000), (400000, 600000, 1000000), (10000, 8000, 30000),
    (1000, 0, 1000), (7, 0, 7), (1, 1, 2),
]


def corrected_statistic(b, c):
    return 0.0 if b + c == 0 else (abs(b - c) - 1) ** 2 / (b + c)


def exact_p(b, c):
    m = b + c
    if m == 0:
        return 1.0
    p = stats.binomtest(min(b, c), m, 0.5, alternative="two-sided").pvalue
    twice_tail = min(1.0, 2 * stats.binom.cdf(min(b, c), m, 0.5))
    assert math.isclose(p, twice_tail, rel_tol=1e-12, abs_tol=1e-300), (b, c, p, twice_tail)
    return float(p)


def cross_check(b, c, n, statistic, ep, cp):
    try:
        from statsmodels.stats.contingency_tables import mcnemar
    except ImportError:
        return False
    if b + c == 0:
        return True  # statsmodels divides by zero here
    table = [[n - b - c, b], [c, 0]]
    ex = mcnemar(table, exact=True)
    assert math.isclose(ex.pvalue, ep, rel_tol=1e-12, abs_tol=1e-300), (b, c, ex.pvalue, ep)
    ch = mcnemar(table, exact=False, correction=True)
    assert math.isclose(ch.statistic, statistic, rel_tol=1e-12), (b, c, ch.statistic, statistic)
    assert math.isclose(ch.pvalue, cp, rel_tol=1e-12, abs_tol=1e-300), (b, c, ch.pvalue, cp)
    return True


def main():
    goldens = []
    checked = 0
    for b, c, n in CASES:
        assert b + c <= n
        statistic = corrected_statistic(b, c)
        ep = exact_p(b, c)
        cp = 1.0 if b + c == 0 else float(stats.chi2.sf(statistic, 1))
        exact = b + c < EXACT_BELOW
        checked += cross_check(b, c, n, statistic, ep, cp)
        goldens.append({"only_a": b, "only_b": c, "n": n, "statistic": statistic,
                        "exact": exact, "p_value": ep if exact else cp,
                        "exact_p": ep, "chi2_p": cp})
    versions = {"scipy": scipy.__version__}
    try:
        import statsmodels
        versions["statsmodels"] = statsmodels.__version__
    except ImportError:
        pass
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_lines_json(OUT, {"generator": "scripts/goldens/make_paired_stats_goldens.py",
                           "versions": versions, "exact_below": EXACT_BELOW,
                           "cases": goldens})
    print(f"wrote {len(goldens)} cases to {OUT} "
          f"({checked} cross-checked with statsmodels)")


if __name__ == "__main__":
    main()
