"""Fingertips' recent trend: the two tests, the outlier guard and the outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from healthycity.outcomes.trend import TrendMethod, TrendOutcome, recent_trend


def _armitage(x: np.ndarray, n: np.ndarray) -> float:
    """Independent form: weighted regression sum of squares of p on t."""
    t = np.arange(1.0, len(x) + 1.0)
    p_bar = x.sum() / n.sum()
    t_bar = (n * t).sum() / n.sum()
    sxy = (n * (t - t_bar) * (x / n - p_bar)).sum()
    sxx = (n * (t - t_bar) ** 2).sum()
    return float(sxy**2 / (sxx * p_bar * (1 - p_bar)))


def test_proportion_chi_square_matches_the_textbook_form() -> None:
    x = np.array([120.0, 130.0, 150.0, 160.0, 185.0])
    n = np.array([1000.0, 1010.0, 990.0, 1005.0, 1000.0])
    result = recent_trend(count=x, denominator=n, value_type="proportion", polarity="low_is_good")
    assert result.chi_square == pytest.approx(_armitage(x, n), rel=1e-12)
    assert result.outcome is TrendOutcome.INCREASING_WORSE
    assert result.method is TrendMethod.PROPORTION and result.level == 0.998


def test_only_the_last_five_points_count() -> None:
    x = [999.0, 5.0, 120.0, 130.0, 150.0, 160.0, 185.0]
    n = [1000.0, 1000.0, 1000.0, 1010.0, 990.0, 1005.0, 1000.0]
    full = recent_trend(count=x, denominator=n, value_type="proportion", polarity="high_is_good")
    last = recent_trend(
        count=x[2:], denominator=n[2:], value_type="proportion", polarity="high_is_good"
    )
    assert full == last and full.outcome is TrendOutcome.INCREASING_BETTER


def test_weighted_test_matches_weighted_least_squares() -> None:
    values = np.array([80.0, 80.4, 80.9, 81.1, 81.6])
    se = np.array([0.2, 0.25, 0.2, 0.3, 0.2])
    lower, upper = values - 1.96 * se, values + 1.96 * se
    result = recent_trend(values=values, lower=lower, upper=upper, polarity="high_is_good")
    t = np.arange(1.0, 6.0)
    weights = 1 / ((upper - lower) / 3.92) ** 2
    design = np.column_stack([np.ones(5), t])
    cov = np.linalg.inv(design.T @ (weights[:, None] * design))
    slope = (cov @ design.T @ (weights * values))[1]
    assert result.slope == pytest.approx(slope, rel=1e-10)
    assert result.chi_square == pytest.approx(slope**2 / cov[1, 1], rel=1e-10)
    assert result.outcome is TrendOutcome.INCREASING_BETTER
    assert result.method is TrendMethod.WEIGHTED


def test_decreasing_and_no_judgement() -> None:
    values = np.array([50.0, 48.0, 46.0, 44.0, 42.0])
    lower, upper = values - 0.5, values + 0.5
    assert (
        recent_trend(values=values, lower=lower, upper=upper, polarity="low_is_good").outcome
        is TrendOutcome.DECREASING_BETTER
    )
    assert (
        recent_trend(values=values, lower=lower, upper=upper, polarity="high_is_good").outcome
        is TrendOutcome.DECREASING_WORSE
    )
    assert (
        recent_trend(values=values, lower=lower, upper=upper, polarity="no_judgement").outcome
        is TrendOutcome.DECREASING
    )


def test_no_significant_change_and_the_outlier_guard() -> None:
    flat = np.array([10.0, 10.1, 9.9, 10.0, 10.05])
    result = recent_trend(values=flat, lower=flat - 1, upper=flat + 1, polarity="high_is_good")
    assert result.outcome is TrendOutcome.NO_CHANGE and not result.significant
    # One precise, high last point makes chi-square large but the slope flips sign
    # without it: Fingertips does not call that a trend.
    spiky = np.array([10.0, 9.9, 9.8, 9.7, 14.0])
    spread = np.array([0.1, 0.1, 0.1, 0.1, 0.01])
    guarded = recent_trend(
        values=spiky, lower=spiky - spread, upper=spiky + spread, polarity="high_is_good"
    )
    assert guarded.chi_square is not None and guarded.chi_square > 9.55
    assert guarded.outcome is TrendOutcome.NO_CHANGE


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"values": [1, 2, 3, 4], "lower": [0, 1, 2, 3], "upper": [2, 3, 4, 5]}, "fewer than 5"),
        (
            {"values": [1, 2, 3, 4, 5], "lower": [0, 1, None, 3, 4], "upper": [2, 3, 4, 5, 6]},
            "missing",
        ),
        (
            {"values": [1, 2, 3, 4, 5], "lower": [1, 1, 2, 3, 4], "upper": [1, 3, 4, 5, 6]},
            "no width",
        ),
        (
            {"count": [0, 1, 2, 3, 4], "denominator": [10] * 5, "value_type": "proportion"},
            "0 or 1",
        ),
    ],
)
def test_cannot_be_calculated(kwargs: dict[str, object], reason: str) -> None:
    result = recent_trend(polarity="high_is_good", **kwargs)  # type: ignore[arg-type]
    assert result.outcome is TrendOutcome.CANNOT_CALCULATE
    assert result.reason is not None and reason in result.reason
