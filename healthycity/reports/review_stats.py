"""The review's own statistics: pure functions of numbers, no database, no web.

Two questions the indicator pages do not ask, because they look at one period at a time:

- *Has this changed since the previous review?* Two estimates, each with a 95%
  confidence interval, are compared by the test for the difference between two
  independent estimates (Altman DG, Bland JM. "Interaction revisited: the difference
  between two estimates." BMJ 2003;326:219). Each standard error is recovered from its
  interval as (upper − lower) / (2 × 1.96); z = difference / √(SE₁² + SE₂²), with a
  two-sided p value from the normal distribution. Asymmetric intervals (rates, Wilson
  proportions) make this an approximation; where an interval is missing, no test is made
  and the review says so rather than calling a change.
- *Which side of the line is "better"?* An indicator's polarity: high is good, low is
  good, or no judgement (then a change is only "higher" or "lower").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import norm

Z95 = 1.959964
CHANGE_METHOD = (
    "difference between two estimates from their 95% intervals (Altman and Bland, BMJ 2003)"
)


@dataclass(frozen=True)
class Change:
    """The change of one indicator between two reviews, with its test."""

    previous_period: str
    previous_value: float
    difference: float
    outcome: str  # improved, worsened, higher, lower, no significant change, not tested
    z: float | None
    p: float | None
    method: str

    @property
    def significant(self) -> bool:
        return self.p is not None and self.p < 0.05


def _standard_error(lower: float | None, upper: float | None) -> float | None:
    if lower is None or upper is None or upper < lower:
        return None
    return (upper - lower) / (2 * Z95)


def change_between(
    previous: tuple[str, float, float | None, float | None],
    latest: tuple[float, float | None, float | None],
    polarity: str | None,
) -> Change:
    """``previous`` is (period, value, lower 95, upper 95); ``latest`` is (value, lower,
    upper). The outcome is judged at the 5% level (two-sided), by polarity."""
    period, before, b_low, b_high = previous
    after, a_low, a_high = latest
    difference = after - before
    se_before = _standard_error(b_low, b_high)
    se_after = _standard_error(a_low, a_high)
    if se_before is None or se_after is None:
        return Change(
            period, before, difference, "not tested", None, None, "no interval to test with"
        )
    spread = math.hypot(se_before, se_after)
    if spread == 0:
        z = 0.0 if difference == 0 else math.copysign(math.inf, difference)
    else:
        z = difference / spread
    p = float(2 * norm.sf(abs(z)))
    if p >= 0.05:
        outcome = "no significant change"
    elif polarity == "high_is_good":
        outcome = "improved" if difference > 0 else "worsened"
    elif polarity == "low_is_good":
        outcome = "improved" if difference < 0 else "worsened"
    else:
        outcome = "higher" if difference > 0 else "lower"
    return Change(period, before, difference, outcome, z, p, CHANGE_METHOD)


def p_text(p: float | None) -> str:
    """A p value as a reader meets it: "p < 0.001" or "p = 0.03"."""
    if p is None:
        return "not tested"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.2f}"
