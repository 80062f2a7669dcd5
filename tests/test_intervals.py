"""The one Wilson interval agrees with statsmodels' and scipy's on every count up to 120 trials."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest
from statsmodels.stats.proportion import proportion_confint

from gdp_zero.intervals import wilson_interval


def test_wilson_interval_matches_statsmodels_and_scipy() -> None:
    for trials in range(1, 121):
        for successes in range(trials + 1):
            low, high = wilson_interval(successes, trials)
            expected = proportion_confint(successes, trials, alpha=0.05, method="wilson")
            scipy_ci = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
            assert low == pytest.approx(expected[0], abs=1e-12) and high == pytest.approx(expected[1], abs=1e-12)
            assert low == pytest.approx(scipy_ci.low, abs=1e-12) and high == pytest.approx(scipy_ci.high, abs=1e-12)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == 1.0  # exact at the ends
    assert wilson_interval(3, 10, confidence=0.99)[0] < wilson_interval(3, 10)[0]


def test_no_trials_give_no_interval_and_impossible_counts_are_refused() -> None:
    assert all(math.isnan(bound) for bound in wilson_interval(0, 0))
    with pytest.raises(ValueError, match="between 0 and trials"):
        wilson_interval(4, 3)
