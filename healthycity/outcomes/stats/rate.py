"""Crude rates with exact Poisson limits below 10 events and Byar's from 10.

rate = O / n x multiplier (per 100,000 by default); its limits are the Poisson limits of
O divided by n (see :mod:`.poisson` for the formulas and citations). PHE's rule
(Fingertips technical guidance; APHO Technical Briefing 3, Eayres D, 2008) uses exact
limits below 10 events and Byar's approximation from 10: ``ci="auto"``. Some published
Fingertips data used Byar's throughout, so ``ci="byar"`` does that (its lower limit is
floored at 0 where the approximation would go negative for very small counts), and
``ci="exact"`` gives exact limits for every count.

Rates may exceed the multiplier (more events than people, e.g. repeat admissions), so a
count above its denominator is allowed. Missing counts or denominators give missing
results; negative counts and non-positive denominators are errors.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from healthycity.outcomes.stats._arrays import (
    BoolArray,
    FloatArray,
    as_float,
    check_multiplier,
    check_not_negative,
    check_positive,
    multiplier_text,
    same_length,
)
from healthycity.outcomes.stats._levels import Confidence, parse_levels
from healthycity.outcomes.stats.errors import StatsInputError
from healthycity.outcomes.stats.poisson import (
    EXACT_BELOW,
    byar_limits_fast,
    exact_limits,
    exact_limits_small,
)
from healthycity.outcomes.stats.result import Estimate

CiRule = Literal["auto", "exact", "byar"]
METHOD_NAMES = ("Exact", "Byars")
METHODS = {
    "auto": "Exact below 10 events, Byar's from 10",
    "exact": "Exact",
    "byar": "Byars",
}


def check_ci(ci: str) -> CiRule:
    if ci not in METHODS:
        raise StatsInputError(f"must be auto, exact or byar, got {ci!r}", column="ci")
    return ci  # type: ignore[return-value]


def count_limits(
    count: FloatArray, level: float, ci: CiRule
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """Poisson limits of counts under a CI rule, and a mask of rows given exact limits."""
    if ci == "exact":
        lower, upper = exact_limits(count, level)
        return lower, upper, ~np.isnan(count)
    if ci == "byar":
        lower, upper = byar_limits_fast(count, level)
        return lower, upper, np.zeros(len(count), dtype=np.bool_)
    small = count < EXACT_BELOW
    if not small.any():
        lower, upper = byar_limits_fast(count, level)
        return lower, upper, small
    lower, upper = byar_limits_fast(count, level)
    index = np.flatnonzero(small)
    sub_lower, sub_upper = exact_limits_small(count[index], level)
    lower[index] = sub_lower
    upper[index] = sub_upper
    return lower, upper, small


def method_codes(exact: BoolArray, count: FloatArray) -> NDArray[np.int8]:
    """0 = exact, 1 = Byar's, -1 = no count."""
    codes = (~exact).view(np.int8)
    missing = np.isnan(count)
    if missing.any():
        codes = codes.copy()
        codes[missing] = -1
    return codes


def crude_rate(
    count: ArrayLike,
    denominator: ArrayLike,
    *,
    confidence: Confidence = 0.95,
    multiplier: float = 100_000.0,
    ci: str = "auto",
) -> Estimate:
    """Crude rates O/n x multiplier with Poisson limits (exact < 10, Byar's >= 10)."""
    rule = check_ci(ci)
    o = as_float(count, "count")
    n = as_float(denominator, "denominator")
    same_length(count=o, denominator=n)
    levels = parse_levels(confidence)
    factor = check_multiplier(multiplier)
    check_not_negative(o, "count")
    check_positive(n, "denominator")
    scale = factor / n
    lower: dict[float, FloatArray] = {}
    upper: dict[float, FloatArray] = {}
    exact = np.zeros(len(o), dtype=np.bool_)
    for level in levels:
        lo, hi, exact = count_limits(o, level, rule)
        lo *= scale
        hi *= scale
        lower[level], upper[level] = lo, hi
    codes = method_codes(exact, o)
    return Estimate(
        value=o * scale,
        lower=lower,
        upper=upper,
        confidence=levels,
        statistic=f"rate per {multiplier_text(factor)}",
        method=METHODS[rule],
        method_codes=codes,
        method_names=METHOD_NAMES,
    )
