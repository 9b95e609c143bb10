"""Confidence limits for a Poisson count: exact, and Byar's approximation.

These are the building blocks for crude rates, indirectly standardised ratios, DSRs
and the Poisson funnel plots.

* Exact limits use the chi-square / gamma relationship: for an observed count O the
  lower limit is chi2_{a/2}(2O)/2 and the upper chi2_{1-a/2}(2O+2)/2 (Ulm K. "A simple
  method to calculate the confidence interval of a standardized mortality ratio",
  Am J Epidemiol 1990;131:373-375). We evaluate them as inverse regularised incomplete
  gamma functions, which is the same quantity without a distribution object.
* Byar's approximation (Breslow NE, Day NE. Statistical Methods in Cancer Research,
  vol. II, IARC 1987, p. 69): O_L = O(1 - 1/(9O) - z/(3 sqrt O))^3 and
  O_U = (O+1)(1 - 1/(9(O+1)) + z/(3 sqrt(O+1)))^3.

PHE's Fingertips technical guidance ("Confidence intervals", APHO Technical Briefing 3,
Eayres D, 2008) uses exact limits below 10 events and Byar's from 10.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from healthycity.outcomes.stats._arrays import CHUNK, FloatArray, chunks
from healthycity.outcomes.stats._levels import z_value

#: Counts below this get exact limits under the "auto" rule.
EXACT_BELOW = 10


def exact_limits(count: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    """Exact Poisson limits for counts (NaN in, NaN out; the lower limit of 0 is 0)."""
    from scipy.special import gammainccinv, gammaincinv

    tail = (1.0 - level) / 2.0
    count = np.asarray(count, dtype=np.float64)
    safe = np.where(count > 0, count, 1.0)
    with np.errstate(invalid="ignore"):
        lower = np.where(count > 0, gammaincinv(safe, tail), 0.0)
        lower = np.where(np.isnan(count), np.nan, lower)
        upper = gammainccinv(count + 1.0, tail)
    return lower, upper


@lru_cache(maxsize=32)
def _small_count_table(level: float) -> tuple[FloatArray, FloatArray]:
    """Exact limits for the counts 0..9, which is where nearly all exact work falls."""
    counts = np.arange(EXACT_BELOW, dtype=np.float64)
    lower, upper = exact_limits(counts, level)
    lower.setflags(write=False)
    upper.setflags(write=False)
    return lower, upper


def exact_limits_small(count: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    """Exact limits for counts below 10: a table lookup when the counts are whole."""
    whole = count == np.floor(count)
    if whole.all():
        lower_table, upper_table = _small_count_table(level)
        index = count.astype(np.intp)
        return lower_table[index], upper_table[index]
    return exact_limits(count, level)


def byar_limits(count: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    """Byar's approximate limits for counts.

    The lower limit is NaN where the approximation itself goes negative (for example a
    count of 1 at 99.8%), as in the PHE R package; it is 0 for a count of 0.
    """
    z = z_value(level)
    count = np.asarray(count, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        root = np.sqrt(count)
        base = 1.0 - 1.0 / (9.0 * count) - z / (3.0 * root)
        lower = count * base * base * base
        lower = np.where(count == 0, 0.0, np.where(base < 0, np.nan, lower))
        up = count + 1.0
        ubase = 1.0 - 1.0 / (9.0 * up) + z / (3.0 * np.sqrt(up))
        upper = up * ubase * ubase * ubase
    return lower, upper


def byar_limits_fast(count: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    """Byar's limits for counts >= 0 (NaN in, NaN out), the hot path of crude rates.

    Written with r = 1/sqrt(O), so each limit is 1 - r(r/9 -/+ z/3) cubed times O (or
    O + 1), and worked block by block so the temporaries stay in cache. A base that
    would go negative gives a lower limit of 0 (a count of 0 gives 0).
    """
    z3 = z_value(level) / 3.0
    count = np.asarray(count, dtype=np.float64)
    n = len(count)
    lower = np.empty(n)
    upper = np.empty(n)
    size = min(CHUNK, n)
    root_buf, base_buf = np.empty(size), np.empty(size)
    with np.errstate(divide="ignore", invalid="ignore"):
        for start, stop in chunks(n):
            o = count[start:stop]
            root = root_buf[: stop - start]
            base = base_buf[: stop - start]
            low = lower[start:stop]
            high = upper[start:stop]
            np.sqrt(o, out=root)
            np.divide(1.0, root, out=root)
            np.multiply(root, 1.0 / 9.0, out=base)
            base += z3
            base *= root
            np.subtract(1.0, base, out=base)
            np.maximum(base, 0.0, out=base)
            np.multiply(base, base, out=low)
            low *= base
            np.multiply(low, o, out=low)
            np.add(o, 1.0, out=high)
            np.sqrt(high, out=root)
            np.divide(1.0, root, out=root)
            np.multiply(root, -1.0 / 9.0, out=base)
            base += z3
            base *= root
            base += 1.0
            np.multiply(high, base, out=high)
            high *= base
            high *= base
    lower[count == 0] = 0.0
    return lower, upper
