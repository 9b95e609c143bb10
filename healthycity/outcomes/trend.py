"""Recent trend over the last five points, as Fingertips' trend markers work.

Fingertips' method (Fingertips technical guidance, "Fingertips trend markers", PHE/OHID)
uses the five most recent values, scored t = 1..5 in time order, and one of two tests:

* Proportions (need counts and denominators): the chi-squared test for trend in
  proportions (Armitage P. "Tests for linear trends in proportions and frequencies",
  Biometrics 1955;11:375-386). With x_i events out of n_i, X = sum x, N = sum n:
  chi2 = N (N sum x t - X sum n t)^2 / (X (N - X) (N sum n t^2 - (sum n t)^2)).
  The direction is the sign of the least-squares slope of logit(x/n) on t.
* Every other value type (rates, DSRs, ratios, life expectancy, means, ...; needs 95%
  confidence limits): weighted least squares of the value on t with weights 1/SE^2,
  SE = (upper - lower) / 3.92; chi2 = (slope / SE(slope))^2.

A trend is significant when chi2 exceeds the chi-squared (1 df) critical value at 99.8%
(9.5495) and the slope keeps its sign when each of the five points in turn is left out
(Fingertips' guard against a single outlying point). The outcome then reads, with
polarity, "increasing and getting better" and so on, or "increasing"/"decreasing"
without a judgement; otherwise "no significant change". With fewer than five usable
points, or points the test cannot use (no limits, a zero-width interval, a proportion
of 0 or 1), it is "cannot be calculated". Callers should pass annual, non-overlapping
periods in time order, as Fingertips only tests those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray

from healthycity.outcomes.compare import Polarity
from healthycity.outcomes.stats._levels import parse_levels, percent_text
from healthycity.outcomes.stats.errors import StatsInputError

POINTS = 5
DEFAULT_LEVEL = 0.998
Numbers = Sequence[float | None] | NDArray[np.float64]


class TrendOutcome(StrEnum):
    INCREASING_BETTER = "increasing and getting better"
    INCREASING_WORSE = "increasing and getting worse"
    DECREASING_BETTER = "decreasing and getting better"
    DECREASING_WORSE = "decreasing and getting worse"
    INCREASING = "increasing"
    DECREASING = "decreasing"
    NO_CHANGE = "no significant change"
    CANNOT_CALCULATE = "cannot be calculated"


class TrendMethod(StrEnum):
    PROPORTION = "chi-squared test for trend in proportions"
    WEIGHTED = "weighted least squares on the confidence intervals"


@dataclass(frozen=True)
class Trend:
    """A recent-trend verdict with the test that made it."""

    outcome: TrendOutcome
    method: TrendMethod
    level: float
    points: int
    chi_square: float | None = None
    slope: float | None = None
    reason: str | None = None

    @property
    def significant(self) -> bool:
        return self.outcome not in (TrendOutcome.NO_CHANGE, TrendOutcome.CANNOT_CALCULATE)

    @property
    def description(self) -> str:
        return f"{self.method.value}, last {self.points} points, {percent_text(self.level)}"


def _floats(values: Numbers | None, name: str) -> NDArray[np.float64] | None:
    if values is None:
        return None
    try:
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StatsInputError(f"must be numbers ({exc})", column=name) from exc


def _ols_slope(y: NDArray[np.float64], t: NDArray[np.float64]) -> float:
    tc = t - t.mean()
    return float(tc @ (y - y.mean()) / (tc @ tc))


def _wls(
    y: NDArray[np.float64], t: NDArray[np.float64], w: NDArray[np.float64]
) -> tuple[float, float]:
    """(slope, chi-square) of a weighted least-squares line."""
    sw, swt, swy = w.sum(), w @ t, w @ y
    swtt, swty = w @ (t * t), w @ (t * y)
    det = sw * swtt - swt * swt
    slope = (sw * swty - swt * swy) / det
    variance = sw / det
    return float(slope), float(slope * slope / variance)


def _stable_sign(slopes: list[float]) -> bool:
    signs = {s >= 0 for s in slopes}
    return len(signs) == 1


def _critical(level: float) -> float:
    from scipy.special import chdtri

    return float(chdtri(1, 1.0 - level))


def recent_trend(
    *,
    polarity: str | Polarity,
    values: Numbers | None = None,
    lower: Numbers | None = None,
    upper: Numbers | None = None,
    count: Numbers | None = None,
    denominator: Numbers | None = None,
    value_type: str = "other",
    level: float = DEFAULT_LEVEL,
) -> Trend:
    """Fingertips' recent trend of a series given oldest first (only the last 5 are used).

    ``value_type="proportion"`` uses ``count``/``denominator``; anything else uses
    ``values`` with their 95% ``lower``/``upper`` limits.
    """
    pol = Polarity.parse(polarity)
    (level,) = parse_levels(level)
    is_proportion = value_type == "proportion"
    method = TrendMethod.PROPORTION if is_proportion else TrendMethod.WEIGHTED

    def cannot(reason: str) -> Trend:
        return Trend(TrendOutcome.CANNOT_CALCULATE, method, level, POINTS, reason=reason)

    if is_proportion:
        tested = _proportion_test(_floats(count, "count"), _floats(denominator, "denominator"))
    else:
        tested = _weighted_test(
            _floats(values, "value"), _floats(lower, "lower"), _floats(upper, "upper")
        )
    if isinstance(tested, str):
        return cannot(tested)
    chi2, slopes = tested
    overall = slopes[0]
    significant = chi2 > _critical(level) and _stable_sign(slopes)
    if not significant:
        return Trend(TrendOutcome.NO_CHANGE, method, level, POINTS, chi2, overall)
    return Trend(_direction(overall, pol), method, level, POINTS, chi2, overall)


def _direction(slope: float, polarity: Polarity) -> TrendOutcome:
    up = slope > 0
    if polarity is Polarity.NO_JUDGEMENT:
        return TrendOutcome.INCREASING if up else TrendOutcome.DECREASING
    better = up == (polarity is Polarity.HIGH_IS_GOOD)
    if up:
        return TrendOutcome.INCREASING_BETTER if better else TrendOutcome.INCREASING_WORSE
    return TrendOutcome.DECREASING_BETTER if better else TrendOutcome.DECREASING_WORSE


Tested = tuple[float, list[float]] | str


def _proportion_test(x: NDArray[np.float64] | None, n: NDArray[np.float64] | None) -> Tested:
    """Armitage's chi-square and the logit slopes (all points, then each left out)."""
    if x is None or n is None:
        raise StatsInputError("proportions need count and denominator", column="count")
    if len(x) != len(n):
        raise StatsInputError("count and denominator differ in length", column="count")
    if len(x) < POINTS:
        return f"fewer than {POINTS} points"
    x, n = x[-POINTS:], n[-POINTS:]
    if np.isnan(x).any() or np.isnan(n).any():
        return "a count or denominator is missing"
    if np.any(x <= 0) or np.any(x >= n):
        return "a proportion of 0 or 1 cannot be tested"
    t = np.arange(1.0, POINTS + 1.0)
    total_x, total_n = x.sum(), n.sum()
    snt = n @ t
    numerator = total_n * (total_n * (x @ t) - total_x * snt) ** 2
    spread = total_x * (total_n - total_x) * (total_n * (n @ (t * t)) - snt**2)
    y = np.log(x / (n - x))
    slopes = [_ols_slope(y, t)] + [
        _ols_slope(np.delete(y, i), np.delete(t, i)) for i in range(POINTS)
    ]
    return float(numerator / spread), slopes


def _weighted_test(
    y: NDArray[np.float64] | None,
    lower: NDArray[np.float64] | None,
    upper: NDArray[np.float64] | None,
) -> Tested:
    """Weighted least-squares chi-square and slopes (all points, then each left out)."""
    if y is None or lower is None or upper is None:
        raise StatsInputError("needs values with their 95% lower and upper limits", column="value")
    if not len(y) == len(lower) == len(upper):
        raise StatsInputError("values and limits differ in length", column="value")
    if len(y) < POINTS:
        return f"fewer than {POINTS} points"
    y, lower, upper = y[-POINTS:], lower[-POINTS:], upper[-POINTS:]
    if np.isnan(y).any() or np.isnan(lower).any() or np.isnan(upper).any():
        return "a value or confidence limit is missing"
    se = (upper - lower) / 3.92
    if np.any(se <= 0):
        return "a confidence interval has no width"
    w = 1.0 / (se * se)
    t = np.arange(1.0, POINTS + 1.0)
    slope, chi2 = _wls(y, t, w)
    slopes = [slope] + [
        _wls(np.delete(y, i), np.delete(t, i), np.delete(w, i))[0] for i in range(POINTS)
    ]
    return chi2, slopes
