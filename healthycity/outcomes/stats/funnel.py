"""Funnel plots: control limits, significance and chart points (PHE's method).

Method as PHE's funnel plot tools and the PHE R package ``calculate_funnel_limits``,
``assign_funnel_significance`` and ``calculate_funnel_points`` (Fingertips technical
guidance; Spiegelhalter DJ, "Funnel plots for comparing institutional performance",
Stat Med 2005;24:1185-1202). "2s" limits are 95% (0.025 in each tail), "3s" 99.8%.

* Proportions: baseline B = sum(numerators) / sum(denominators); at denominator n the
  limits are B -/+ z sqrt(B(1 - B)/n), clipped to 0..1, times the multiplier. (These
  are the observed proportions whose Wilson interval just touches B.) An area is
  "High"/"Low" at a level when its z score (p - B)/sqrt(B(1 - B)/n) is beyond the
  level's z.
* Ratios (observed / expected): at an observed count O, the expected counts at which O
  sits on the limits are O's exact Poisson limits (see :mod:`.poisson`); the limit is
  then O/E - 1 ("count") or O/E x multiplier ("isr"). An area is significant when its
  expected count lies outside its observed count's exact limits.
* Rates (crude or DSR, per ``multiplier``): each area's population is derived as
  events / rate x multiplier (or taken from the denominator where there are no events);
  B = sum(events) / sum(populations). At O events the limits are O/E x B x multiplier
  where E runs over O's exact limits, and the population at which they apply is E / B
  (per year: divided by ``years_of_data``). DSRs with fewer than 10 events are left out.

The x axis has 100 points from a rounded-down minimum (or 1, when the smallest area is
under half the largest) to a rounded-up maximum (5% beyond the data), spaced
geometrically but at least 1 apart, as PHE's tools draw it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray

from healthycity.outcomes.stats._arrays import (
    FloatArray,
    as_float,
    check_multiplier,
    check_not_negative,
    check_positive,
    check_present,
    fail_at,
    multiplier_text,
    same_length,
)
from healthycity.outcomes.stats._levels import Confidence, parse_levels, z_value
from healthycity.outcomes.stats.errors import StatsInputError
from healthycity.outcomes.stats.poisson import exact_limits

FUNNEL_LEVELS: tuple[float, float] = (0.95, 0.998)
AXIS_POINTS = 100
DSR_MINIMUM_EVENTS = 10
NOT_SIGNIFICANT = "Not significant"
DSR_NOT_APPLICABLE = "Not applicable for events less than 10 for dsrs"


@dataclass(frozen=True, eq=False)
class FunnelLimits:
    """Control limits along the x axis, at each level, with the baseline.

    ``x`` is the denominator (proportions), the observed count (ratios) or the number of
    events (rates). ``extra`` holds the quantities PHE also reports, keyed like
    ``lower_95_0_exp_events`` or ``upper_99_8_population_1_year``.
    """

    x: FloatArray
    lower: Mapping[float, FloatArray]
    upper: Mapping[float, FloatArray]
    baseline: float
    confidence: tuple[float, ...]
    statistic: str
    method: str
    extra: Mapping[str, FloatArray] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class FunnelSignificance:
    """Each area's label ('High (0.001)', 'Not significant', ...) against the baseline."""

    labels: NDArray[np.object_]
    baseline: float
    confidence: tuple[float, ...]
    statistic: str
    method: str


@dataclass(frozen=True, eq=False)
class FunnelPoints:
    """Where each area sits on a rate funnel: the rate and the annual population."""

    rate: FloatArray
    population: FloatArray
    statistic: str
    method: str


def tail_text(level: float) -> str:
    """The one-sided tail PHE names significance by: 0.95 -> '0.025'."""
    return f"{round((1.0 - level) / 2.0, 10):g}"


def _signif_floor(x: float) -> float:
    """Round down to one significant figure: 15566 -> 10000."""
    digits = math.floor(math.log10(x))
    return float(math.floor(x / 10**digits) * 10.0**digits)


def _signif_ceiling(x: float) -> float:
    """Round up to two significant figures: 32475 -> 33000."""
    digits = math.floor(math.log10(x)) - 1
    return float(math.ceil(x / 10**digits) * 10.0**digits)


def _steps(start: float, stop: float, points: int) -> FloatArray:
    """Points from start to stop, each the geometric step still needed, at least +1."""
    out = [start]
    for i in range(1, points):
        previous = out[-1]
        ratio = (stop / previous) ** (1.0 / (points - i))
        out.append(max(previous + 1.0, float(round(previous * ratio))))
    return np.asarray(out, dtype=np.float64)


def axis_range(minimum: float, maximum: float) -> tuple[float, float]:
    """PHE's axis ends: 1 (or the minimum x 0.95 rounded down) and the maximum x 1.05."""
    if minimum <= 0 or maximum <= 0:
        raise StatsInputError("funnel axes need positive denominators", column="denominator")
    start = 1.0 if minimum < maximum / 2.0 else _signif_floor(minimum * 0.95)
    return start, _signif_ceiling(maximum * 1.05)


def funnel_axis(minimum: float, maximum: float, *, ratio: bool = False) -> FloatArray:
    """The 100 x-axis points for data running from ``minimum`` to ``maximum``.

    Ratio funnels (x = observed events, range set by the expected counts) stop one
    geometric step short of the rounded maximum, as PHE's ratio tool does.
    """
    start, stop = axis_range(minimum, maximum)
    if ratio:
        return _steps(start, stop, AXIS_POINTS + 1)[:AXIS_POINTS]
    return _steps(start, stop, AXIS_POINTS)


def _label_significance(
    high: Mapping[float, NDArray[np.bool_]],
    low: Mapping[float, NDArray[np.bool_]],
    levels: tuple[float, ...],
    n: int,
) -> NDArray[np.object_]:
    out = np.full(n, NOT_SIGNIFICANT, dtype=object)
    for level in sorted(levels):
        out[high[level]] = f"High ({tail_text(level)})"
        out[low[level]] = f"Low ({tail_text(level)})"
    return out


# --- proportions -------------------------------------------------------------------


def _proportion_inputs(numerator: ArrayLike, denominator: ArrayLike) -> tuple[FloatArray, ...]:
    x = as_float(numerator, "numerator")
    n = as_float(denominator, "denominator")
    same_length(numerator=x, denominator=n)
    check_present(x, "numerator", "is missing; funnels need every numerator, even 0")
    check_present(n, "denominator", "is missing; funnels need every denominator")
    check_not_negative(x, "numerator")
    check_positive(n, "denominator")
    over = x > n
    if over.any():
        fail_at(over, "numerator", "is greater than its denominator", x)
    return x, n


def proportion_funnel_limits(
    numerator: ArrayLike,
    denominator: ArrayLike,
    *,
    multiplier: float = 100.0,
    confidence: Confidence = FUNNEL_LEVELS,
) -> FunnelLimits:
    """Funnel limits for proportions, along an axis of denominators."""
    x, n = _proportion_inputs(numerator, denominator)
    levels = parse_levels(confidence)
    factor = check_multiplier(multiplier)
    baseline = float(x.sum() / n.sum())
    axis = funnel_axis(float(n.min()), float(n.max()))
    spread = np.sqrt(baseline * (1.0 - baseline) / axis)
    lower = {
        level: np.clip(baseline - z_value(level) * spread, 0.0, 1.0) * factor for level in levels
    }
    upper = {
        level: np.clip(baseline + z_value(level) * spread, 0.0, 1.0) * factor for level in levels
    }
    return FunnelLimits(
        x=axis,
        lower=lower,
        upper=upper,
        baseline=baseline * factor,
        confidence=levels,
        statistic="proportion",
        method="Wilson",
    )


def proportion_funnel_significance(
    numerator: ArrayLike,
    denominator: ArrayLike,
    *,
    confidence: Confidence = FUNNEL_LEVELS,
) -> FunnelSignificance:
    """'High (0.001)', 'Low (0.025)', 'Not significant', ... for each area."""
    x, n = _proportion_inputs(numerator, denominator)
    levels = parse_levels(confidence)
    baseline = float(x.sum() / n.sum())
    score = (x / n - baseline) / np.sqrt(baseline * (1.0 - baseline) / n)
    high = {level: score > z_value(level) for level in levels}
    low = {level: score < -z_value(level) for level in levels}
    labels = _label_significance(high, low, levels, len(x))
    return FunnelSignificance(labels, baseline, levels, "proportion", "Wilson")


# --- ratios --------------------------------------------------------------------------


def _ratio_inputs(observed: ArrayLike, expected: ArrayLike) -> tuple[FloatArray, FloatArray]:
    o = as_float(observed, "observed")
    e = as_float(expected, "expected")
    same_length(observed=o, expected=e)
    check_present(o, "observed", "is missing; funnels need every observed count, even 0")
    check_present(e, "expected")
    check_not_negative(o, "observed")
    check_positive(e, "expected")
    return o, e


def ratio_funnel_limits(
    observed: ArrayLike,
    expected: ArrayLike,
    *,
    ratio_type: str = "isr",
    multiplier: float = 100.0,
    confidence: Confidence = FUNNEL_LEVELS,
) -> FunnelLimits:
    """Funnel limits for observed/expected ratios, along an axis of observed events.

    ``ratio_type="count"`` expresses limits as O/E - 1; ``"isr"`` as O/E x multiplier.
    """
    if ratio_type not in ("count", "isr"):
        raise StatsInputError(f"must be 'count' or 'isr', got {ratio_type!r}", column="ratio_type")
    o, e = _ratio_inputs(observed, expected)
    levels = parse_levels(confidence)
    factor = check_multiplier(multiplier)
    axis = funnel_axis(float(e.min()), float(e.max()), ratio=True)
    lower: dict[float, FloatArray] = {}
    upper: dict[float, FloatArray] = {}
    extra: dict[str, FloatArray] = {}
    for level in levels:
        low_expected, high_expected = exact_limits(axis, level)
        tag = _tag(level)
        extra[f"lower_{tag}_exp_events"] = high_expected
        extra[f"upper_{tag}_exp_events"] = low_expected
        with np.errstate(divide="ignore"):
            if ratio_type == "count":
                lower[level] = axis / high_expected - 1.0
                upper[level] = axis / low_expected - 1.0
            else:
                lower[level] = axis / high_expected * factor
                upper[level] = axis / low_expected * factor
    return FunnelLimits(
        x=axis,
        lower=lower,
        upper=upper,
        baseline=0.0 if ratio_type == "count" else factor,
        confidence=levels,
        statistic=f"ratio ({ratio_type})",
        method="Poisson",
        extra=extra,
    )


def ratio_funnel_significance(
    observed: ArrayLike,
    expected: ArrayLike,
    *,
    confidence: Confidence = FUNNEL_LEVELS,
) -> FunnelSignificance:
    """Significance of each area's observed count against its expected count."""
    o, e = _ratio_inputs(observed, expected)
    levels = parse_levels(confidence)
    labels = _poisson_significance(o, e, levels)
    return FunnelSignificance(labels, 1.0, levels, "ratio", "Poisson")


def _poisson_significance(
    o: FloatArray, e: FloatArray, levels: tuple[float, ...]
) -> NDArray[np.object_]:
    high: dict[float, NDArray[np.bool_]] = {}
    low: dict[float, NDArray[np.bool_]] = {}
    for level in levels:
        low_limit, high_limit = exact_limits(o, level)
        high[level] = e < low_limit
        low[level] = e > high_limit
    return _label_significance(high, low, levels, len(o))


def _tag(level: float) -> str:
    from healthycity.outcomes.stats._levels import label

    return label(level)


# --- rates ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _RateInputs:
    events: FloatArray
    population: FloatArray
    used: NDArray[np.bool_]
    baseline: float


def _rate_inputs(
    events: ArrayLike,
    rate: ArrayLike,
    rate_type: str,
    multiplier: float,
    denominator: ArrayLike | None,
) -> _RateInputs:
    if rate_type not in ("crude", "dsr"):
        raise StatsInputError(f"must be 'crude' or 'dsr', got {rate_type!r}", column="rate_type")
    o = as_float(events, "numerator")
    r = as_float(rate, "rate")
    n = as_float(denominator, "denominator") if denominator is not None else None
    same_length(numerator=o, rate=r, denominator=n)
    check_present(o, "numerator", "is missing; funnels need every numerator, even 0")
    check_not_negative(o, "numerator")
    check_not_negative(r, "rate")
    bad_rate = (o > 0) & ~(r > 0)
    if bad_rate.any():
        fail_at(bad_rate, "rate", "must be greater than 0 where there are events", r)
    if n is not None:
        check_not_negative(n, "denominator")
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = o / r * multiplier
    derived = np.where(o > 0, derived, n if n is not None else np.nan)
    used = ~np.isnan(derived) & (derived > 0)
    if rate_type == "dsr":
        used &= o >= DSR_MINIMUM_EVENTS
    if not used.any():
        raise StatsInputError("no area has the events and rate a funnel needs", column="numerator")
    baseline = float(o[used].sum() / derived[used].sum())
    return _RateInputs(events=o, population=derived, used=used, baseline=baseline)


def rate_funnel_limits(
    events: ArrayLike,
    rate: ArrayLike,
    *,
    rate_type: str,
    years_of_data: float,
    multiplier: float = 100_000.0,
    denominator: ArrayLike | None = None,
    confidence: Confidence = FUNNEL_LEVELS,
) -> FunnelLimits:
    """Funnel limits for crude rates or DSRs, along an axis of numbers of events."""
    factor = check_multiplier(multiplier)
    years = check_multiplier(years_of_data)
    data = _rate_inputs(events, rate, rate_type, factor, denominator)
    levels = parse_levels(confidence)
    per_year = data.population[data.used] / years
    smallest, largest = float(per_year.min()), float(per_year.max())
    start, stop = axis_range(smallest, largest)
    to_events = years * data.baseline
    if start != 1.0:
        start = float(math.floor(start * to_events))
    axis = _steps(max(start, 1.0), float(math.ceil(stop * to_events)), AXIS_POINTS)
    lower: dict[float, FloatArray] = {}
    upper: dict[float, FloatArray] = {}
    extra: dict[str, FloatArray] = {}
    for level in levels:
        low_expected, high_expected = exact_limits(axis, level)
        tag = _tag(level)
        extra[f"lower_{tag}_population_1_year"] = high_expected / data.baseline / years
        extra[f"upper_{tag}_population_1_year"] = low_expected / data.baseline / years
        with np.errstate(divide="ignore"):
            lower[level] = axis / high_expected * data.baseline * factor
            upper[level] = axis / low_expected * data.baseline * factor
    kind = "dsr" if rate_type == "dsr" else "crude"
    return FunnelLimits(
        x=axis,
        lower=lower,
        upper=upper,
        baseline=data.baseline * factor,
        confidence=levels,
        statistic=f"rate ({kind} per {_thousands(factor)})",
        method="Poisson",
        extra=extra,
    )


def _thousands(multiplier: float) -> str:
    text = multiplier_text(multiplier)
    return f"{int(multiplier):,}" if text.isdigit() else text


def rate_funnel_significance(
    events: ArrayLike,
    rate: ArrayLike,
    *,
    rate_type: str,
    multiplier: float = 100_000.0,
    denominator: ArrayLike | None = None,
    confidence: Confidence = FUNNEL_LEVELS,
) -> FunnelSignificance:
    """Significance of each area's rate against the funnel baseline.

    DSRs with fewer than 10 events are "Not applicable for events less than 10 for dsrs".
    """
    factor = check_multiplier(multiplier)
    data = _rate_inputs(events, rate, rate_type, factor, denominator)
    levels = parse_levels(confidence)
    expected = data.baseline * np.nan_to_num(data.population, nan=0.0)
    out = _poisson_significance(data.events, expected, levels)
    if rate_type == "dsr":
        out[data.events < DSR_MINIMUM_EVENTS] = DSR_NOT_APPLICABLE
    return FunnelSignificance(out, data.baseline * factor, levels, f"rate ({rate_type})", "Poisson")


def rate_funnel_points(
    events: ArrayLike,
    rate: ArrayLike,
    *,
    rate_type: str,
    years_of_data: float,
    multiplier: float = 100_000.0,
    denominator: ArrayLike | None = None,
) -> FunnelPoints:
    """The rate to chart and the annual population to chart it at, for each area.

    The population is events / rate x multiplier / years (or the denominator / years
    where there are no events); DSRs with fewer than 10 events are not charted.
    """
    factor = check_multiplier(multiplier)
    years = check_multiplier(years_of_data)
    o = as_float(events, "numerator")
    r = as_float(rate, "rate")
    n = as_float(denominator, "denominator") if denominator is not None else None
    same_length(numerator=o, rate=r, denominator=n)
    check_not_negative(o, "numerator")
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = np.where(o > 0, o / r * factor, n if n is not None else np.nan) / years
    chart = r.copy()
    if rate_type == "dsr":
        small = o < DSR_MINIMUM_EVENTS
        chart[small] = np.nan
        derived[small] = np.nan
    elif rate_type != "crude":
        raise StatsInputError(f"must be 'crude' or 'dsr', got {rate_type!r}", column="rate_type")
    return FunnelPoints(chart, derived, f"rate ({rate_type})", "events / rate x multiplier")


def proportion_limits_at(
    numerator: ArrayLike,
    denominator: ArrayLike,
    *,
    multiplier: float = 100.0,
    confidence: Confidence = FUNNEL_LEVELS,
) -> FunnelLimits:
    """Proportion funnel limits at each area's own denominator (``x`` = the denominators).

    The same limits as :func:`proportion_funnel_limits` (B -/+ z sqrt(B(1 - B)/n),
    clipped to 0..1, times the multiplier; Spiegelhalter 2005), evaluated where each
    area sits rather than along the chart's axis: what a table twin of the plot lists.
    """
    x, n = _proportion_inputs(numerator, denominator)
    levels = parse_levels(confidence)
    factor = check_multiplier(multiplier)
    baseline = float(x.sum() / n.sum())
    spread = np.sqrt(baseline * (1.0 - baseline) / n)
    return FunnelLimits(
        x=n,
        lower={lv: np.clip(baseline - z_value(lv) * spread, 0.0, 1.0) * factor for lv in levels},
        upper={lv: np.clip(baseline + z_value(lv) * spread, 0.0, 1.0) * factor for lv in levels},
        baseline=baseline * factor,
        confidence=levels,
        statistic="proportion",
        method="Wilson",
    )
