"""Proportions with Wilson score confidence intervals.

Method: Wilson EB. "Probable inference, the law of succession, and statistical
inference". J Am Stat Assoc 1927;22:209-212; as recommended by Newcombe RG, "Two-sided
confidence intervals for the single proportion: comparison of seven methods", Stat Med
1998;17:857-872, and used by PHE (Fingertips technical guidance; APHO Technical
Briefing 3, Eayres D, 2008). For x events out of n and z = Phi^-1(1 - alpha/2):

    limits = (2x + z^2 -/+ z sqrt(z^2 + 4x(1 - x/n))) / (2(n + z^2))

then multiplied by the multiplier (100 for a percentage). Non-integer counts are
allowed, as in the PHE R package. Missing counts or denominators give missing
results; negative counts, non-positive denominators and counts above their
denominators are errors.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from healthycity.outcomes.stats._arrays import (
    CHUNK,
    FloatArray,
    as_float,
    check_multiplier,
    check_not_negative,
    check_positive,
    chunks,
    fail_at,
    multiplier_text,
    same_length,
)
from healthycity.outcomes.stats._levels import Confidence, parse_levels, z_value
from healthycity.outcomes.stats.result import Estimate

METHOD = "Wilson"


def wilson_limits(
    count: FloatArray, denominator: FloatArray, level: float
) -> tuple[FloatArray, FloatArray]:
    """Wilson limits as fractions (0-1), no validation: the vectorised kernel.

    Works block by block (see ``CHUNK``) with reused temporaries, which keeps the
    arithmetic in cache: about twice as fast as whole-array numpy on a million rows.
    """
    z = z_value(level)
    z2 = z * z
    count = np.asarray(count, dtype=np.float64)
    denominator = np.asarray(denominator, dtype=np.float64)
    n = len(count)
    lower = np.empty(n)
    upper = np.empty(n)
    size = min(CHUNK, n)
    spread_buf, centre_buf, scale_buf = np.empty(size), np.empty(size), np.empty(size)
    for start, stop in chunks(n):
        x = count[start:stop]
        d = denominator[start:stop]
        spread = spread_buf[: stop - start]
        centre = centre_buf[: stop - start]
        scale = scale_buf[: stop - start]
        np.divide(x, d, out=spread)
        np.subtract(1.0, spread, out=spread)
        spread *= x
        spread *= 4.0
        spread += z2
        np.sqrt(spread, out=spread)
        spread *= z
        np.multiply(x, 2.0, out=centre)
        centre += z2
        np.add(d, z2, out=scale)
        scale *= 2.0
        low = lower[start:stop]
        np.subtract(centre, spread, out=low)
        low /= scale
        high = upper[start:stop]
        np.add(centre, spread, out=high)
        high /= scale
    return lower, upper


def statistic_name(multiplier: float) -> str:
    if multiplier == 1:
        return "proportion of 1"
    if multiplier == 100:
        return "percentage"
    return f"proportion of {multiplier_text(multiplier)}"


def validate(count: FloatArray, denominator: FloatArray) -> None:
    """Errors for negative counts, non-positive denominators and count > denominator."""
    check_not_negative(count, "count")
    check_positive(denominator, "denominator")
    over = count > denominator
    if over.any():
        row = int(np.argmax(over))
        fail_at(
            over,
            "count",
            f"is greater than its denominator ({denominator[row]:g}); a proportion cannot exceed 1",
            count,
        )


def proportion(
    count: ArrayLike,
    denominator: ArrayLike,
    *,
    confidence: Confidence = 0.95,
    multiplier: float = 1.0,
) -> Estimate:
    """Proportions x/n with Wilson score limits at each requested level."""
    x = as_float(count, "count")
    n = as_float(denominator, "denominator")
    same_length(count=x, denominator=n)
    levels = parse_levels(confidence)
    factor = check_multiplier(multiplier)
    validate(x, n)
    value = x / n
    lower: dict[float, FloatArray] = {}
    upper: dict[float, FloatArray] = {}
    for level in levels:
        lo, hi = wilson_limits(x, n, level)
        if factor != 1.0:
            lo *= factor
            hi *= factor
        lower[level], upper[level] = lo, hi
    if factor != 1.0:
        value *= factor
    return Estimate(
        value=value,
        lower=lower,
        upper=upper,
        confidence=levels,
        statistic=statistic_name(factor),
        method=METHOD,
    )
