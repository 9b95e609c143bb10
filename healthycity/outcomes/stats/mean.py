"""Means with Student's t confidence intervals.

mean +/- t_{1-alpha/2, n-1} x s / sqrt(n), with s the sample standard deviation (n-1
divisor): the standard small-sample interval (Student. "The probable error of a mean",
Biometrika 1908;6:1-25), as in PHE's Fingertips technical guidance and
the PHE R package's ``phe_mean``. A group of one value has a mean but no interval.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from healthycity.outcomes.stats._arrays import (
    FloatArray,
    as_float,
    check_not_negative,
    check_present,
    same_length,
)
from healthycity.outcomes.stats._groups import make_groups
from healthycity.outcomes.stats._levels import Confidence, parse_levels
from healthycity.outcomes.stats.result import Estimate

METHOD = "Student's t-distribution"


def mean_from_summary(
    value_sum: ArrayLike,
    value_count: ArrayLike,
    stdev: ArrayLike,
    *,
    confidence: Confidence = 0.95,
) -> Estimate:
    """Means and t limits from per-group sums, counts and sample standard deviations."""
    from scipy.special import stdtrit

    total = as_float(value_sum, "value_sum")
    n = as_float(value_count, "value_count")
    sd = as_float(stdev, "stdev")
    same_length(value_sum=total, value_count=n, stdev=sd)
    check_not_negative(sd, "stdev")
    levels = parse_levels(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = total / n
        half_unit = sd / np.sqrt(n)
        df = np.where(n > 1, n - 1.0, np.nan)
    lower: dict[float, FloatArray] = {}
    upper: dict[float, FloatArray] = {}
    for level in levels:
        half = stdtrit(df, 1.0 - (1.0 - level) / 2.0) * half_unit
        lower[level] = value - half
        upper[level] = value + half
    return Estimate(
        value=value,
        lower=lower,
        upper=upper,
        confidence=levels,
        statistic="mean",
        method=METHOD,
        extra={"value_sum": total, "value_count": n, "stdev": sd},
    )


def mean(
    values: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    confidence: Confidence = 0.95,
) -> Estimate:
    """Mean of ``values`` (per group when ``groups`` labels are given), with t limits."""
    x = as_float(values, "value")
    check_present(x, "value", "is missing; remove the row or give a value")
    g = make_groups(groups, len(x))
    if groups is not None:
        same_length(value=x, groups=np.asarray(groups))
    n = g.size().astype(np.float64)
    total = g.sum(x)
    with np.errstate(divide="ignore", invalid="ignore"):
        centre = total / n
        deviation = x - centre[g.codes]
        sd = np.sqrt(g.sum(deviation * deviation) / (n - 1.0))
    result = mean_from_summary(total, n, sd, confidence=confidence)
    return Estimate(
        value=result.value,
        lower=result.lower,
        upper=result.upper,
        confidence=result.confidence,
        statistic=result.statistic,
        method=result.method,
        extra=result.extra,
        groups=g.labels,
    )
