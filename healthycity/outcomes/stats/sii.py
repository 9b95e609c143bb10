"""Slope index of inequality (SII) and relative index of inequality (RII).

Method as PHE's SII tool and the PHE R package ``phe_sii`` (Fingertips technical
guidance, "Slope index of inequality"; Low A, Low A. "Measuring the gap: quantifying
and comparing local health inequalities", J Public Health 2004;26:388-395):

* For quantiles i = 1..Q (1 = most deprived) with population share a_i, the midpoint of
  each quantile's cumulative rank is b_i = (share before i) + a_i / 2.
* Weighted least squares of the values y_i on b_i with weights a_i (equivalently,
  regress sqrt(a_i) y_i on sqrt(a_i) and b_i sqrt(a_i) without an intercept) gives the
  intercept A and slope B. SII = B x multiplier; RII = (A + B) / A (inverted when the
  multiplier is negative, so that both read the same way round).
* Confidence limits by simulation: draw y_i ~ Normal(T(y_i), SE_i) on the log scale
  for rates and the logit scale for proportions (T = identity otherwise), back-transform,
  refit, and take the sorted simulated slopes (and RIIs) at positions
  round(R alpha/2) and round(R (1 - alpha/2)). SE_i comes from the 95% limits,
  (T(upper) - T(lower)) / (2 x 1.959964), unless given (on the transformed scale).
* ``transform=True`` fits on the transformed scale instead; SII is then
  T^-1(A + B) - T^-1(A), RII = T^-1(A + B) / T^-1(A), and the slope limits are turned
  into SII limits around the fitted value at the middle of the population (x = 0.5).

Simulation uses a seeded numpy ``Generator``: the same seed gives the same limits.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from healthycity.outcomes.stats._arrays import (
    FloatArray,
    as_float,
    check_multiplier,
    check_not_negative,
    fail_at,
    same_length,
)
from healthycity.outcomes.stats._groups import make_groups
from healthycity.outcomes.stats._levels import Confidence, levels_text, parse_levels, z_value
from healthycity.outcomes.stats.errors import StatsInputError, StatsWarning
from healthycity.outcomes.stats.proportion import wilson_limits

VALUE_TYPES = {"other": 0, "rate": 1, "proportion": 2, "0": 0, "1": 1, "2": 2}
DEFAULT_REPETITIONS = 100_000
MANY_QUANTILES = 10


@dataclass(frozen=True, eq=False)
class SIIResult:
    """SII, RII and intercept per group, with simulated limits at each level."""

    sii: FloatArray
    rii: FloatArray
    intercept: FloatArray
    sii_lower: Mapping[float, FloatArray]
    sii_upper: Mapping[float, FloatArray]
    rii_lower: Mapping[float, FloatArray]
    rii_upper: Mapping[float, FloatArray]
    confidence: tuple[float, ...]
    method: str
    repetitions: int
    value_type: str
    transform: bool
    groups: NDArray[Any]
    notes: NDArray[np.object_]
    statistic: str = "sii"

    def confidence_text(self) -> str:
        return levels_text(self.confidence)


Transform = tuple[Callable[[FloatArray], FloatArray], Callable[[FloatArray], FloatArray]]


def _transforms(kind: int) -> Transform:
    from scipy.special import expit, logit

    if kind == 1:
        return np.log, np.exp
    if kind == 2:
        return logit, expit
    return (lambda v: v), (lambda v: v)


def _value_type(value_type: str | int) -> tuple[int, str]:
    key = str(value_type).lower()
    if key not in VALUE_TYPES:
        raise StatsInputError(
            f"must be 'other', 'rate' or 'proportion' (or 0, 1, 2), got {value_type!r}",
            column="value_type",
        )
    code = VALUE_TYPES[key]
    return code, ("other", "rate", "proportion")[code]


def _standard_errors(
    kind: int,
    value: FloatArray,
    lower: FloatArray | None,
    upper: FloatArray | None,
    se: FloatArray | None,
) -> FloatArray:
    forward, _ = _transforms(kind)
    n = len(value)
    given = se if se is not None else np.full(n, np.nan)
    if se is not None:
        check_not_negative(se, "se")
    lo = lower if lower is not None else np.full(n, np.nan)
    hi = upper if upper is not None else np.full(n, np.nan)
    if kind == 2:
        for name, limit in (("lower_cl", lo), ("upper_cl", hi), ("value", value)):
            bad = (limit < 0) | (limit > 1)
            if bad.any():
                fail_at(bad, name, "must be between 0 and 1 for proportions", limit)
    if kind == 1:
        for name, limit in (("lower_cl", lo), ("upper_cl", hi), ("value", value)):
            bad = limit <= 0
            if bad.any():
                fail_at(bad, name, "must be greater than 0 for rates (log scale)", limit)
    need = np.isnan(given) & ~np.isnan(value)
    missing = need & (np.isnan(lo) | np.isnan(hi))
    if missing.any():
        fail_at(missing, "se", "is missing and so are the confidence limits to derive it from")
    with np.errstate(divide="ignore", invalid="ignore"):
        derived = (forward(hi) - forward(lo)) / (2.0 * z_value(0.95))
    return np.where(np.isnan(given), derived, given)


def _positions(repetitions: int, level: float) -> tuple[int, int]:
    alpha = 1.0 - level
    low = max(int(round(repetitions * alpha / 2.0)), 1) - 1
    high = min(int(round(repetitions * (1.0 - alpha / 2.0))), repetitions) - 1
    return low, high


def _fit(y: FloatArray, share: FloatArray, mid: FloatArray) -> tuple[Any, Any]:
    """Weighted least squares intercept and slope; y may be (reps, Q)."""
    xbar = float(share @ mid)
    centred = share * (mid - xbar)
    sxx = float(centred @ (mid - xbar))
    slope = (y @ centred) / sxx
    intercept = y @ share - slope * xbar
    return intercept, slope


def sii(
    value: ArrayLike | None,
    population: ArrayLike,
    quantile: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    value_type: str | int = "other",
    lower_cl: ArrayLike | None = None,
    upper_cl: ArrayLike | None = None,
    se: ArrayLike | None = None,
    count: ArrayLike | None = None,
    confidence: Confidence = 0.95,
    multiplier: float = 1.0,
    repetitions: int = DEFAULT_REPETITIONS,
    transform: bool = False,
    seed: int | np.random.Generator = 0,
) -> SIIResult:
    """SII and RII per group (area) of quantile rows, with simulated confidence limits.

    Give each row's uncertainty as ``se`` or as 95% ``lower_cl``/``upper_cl``; for
    proportions ``count`` (events out of ``population``) may replace all three, as
    value = count / population with Wilson 95% limits.
    """
    kind, kind_name = _value_type(value_type)
    pop = as_float(population, "population")
    quant = as_float(quantile, "quantile")
    n = same_length(population=pop, quantile=quant)
    levels = parse_levels(confidence)
    factor = check_multiplier(multiplier, allow_negative=True)
    if isinstance(repetitions, bool) or int(repetitions) != repetitions or repetitions < 100:
        raise StatsInputError("must be a whole number of at least 100", column="repetitions")
    reps = int(repetitions)
    if kind == 2 and count is not None:
        x = as_float(count, "count")
        same_length(population=pop, count=x)
        check_not_negative(x, "count")
        with np.errstate(divide="ignore", invalid="ignore"):
            y = x / pop
            lo, hi = wilson_limits(x, pop, 0.95)
        errors = _standard_errors(kind, y, lo, hi, None)
    else:
        if value is None:
            raise StatsInputError("is needed (or, for proportions, counts)", column="value")
        y = as_float(value, "value")
        given_lo = as_float(lower_cl, "lower_cl") if lower_cl is not None else None
        given_hi = as_float(upper_cl, "upper_cl") if upper_cl is not None else None
        given_se = as_float(se, "se") if se is not None else None
        same_length(value=y, population=pop, lower_cl=given_lo, upper_cl=given_hi, se=given_se)
        errors = _standard_errors(kind, y, given_lo, given_hi, given_se)
    check_not_negative(pop, "population")
    g = make_groups(groups, n)
    if np.all(np.isnan(y)):
        raise StatsInputError("is missing for every row", column="value")
    whole = np.isnan(quant) | (quant == np.floor(quant))
    bad_q = ~whole | (quant < 1)
    if bad_q.any():
        fail_at(bad_q, "quantile", "must be a whole number from 1 (most deprived)", quant)
    n_quantiles = int(np.nanmax(quant))
    if n_quantiles > MANY_QUANTILES:
        warnings.warn(
            f"{n_quantiles} quantiles: PHE advises no more than {MANY_QUANTILES}; "
            "results were calculated",
            StatsWarning,
            stacklevel=2,
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    out = {name: np.full(g.count, np.nan) for name in ("sii", "rii", "intercept")}
    bounds = {
        (name, side, level): np.full(g.count, np.nan)
        for name in ("sii", "rii")
        for side in ("lower", "upper")
        for level in levels
    }
    notes = np.full(g.count, None, dtype=object)
    order = np.lexsort((quant, g.codes))
    edges = np.concatenate(([0], np.cumsum(g.size())))
    for group in range(g.count):
        rows = order[edges[group] : edges[group + 1]]
        reason = _unusable(rows, quant, y, pop, errors, n_quantiles, g.label(group))
        if reason is not None:
            notes[group] = f"SII not calculated: group {reason}"
            warnings.warn(
                f"group '{g.label(group)}' {reason}; its SII is not calculated",
                StatsWarning,
                stacklevel=2,
            )
            continue
        fitted = _simulate(y[rows], pop[rows], errors[rows], kind, transform, reps, levels, rng)
        for name in ("sii", "rii", "intercept"):
            out[name][group] = fitted[name]
        for key in bounds:
            bounds[key][group] = fitted[key]
    return _finish(out, bounds, levels, factor, reps, kind_name, transform, g.labels, notes)


def _finish(
    out: dict[str, FloatArray],
    bounds: dict[tuple[str, str, float], FloatArray],
    levels: tuple[float, ...],
    factor: float,
    reps: int,
    kind_name: str,
    transform: bool,
    labels: NDArray[Any],
    notes: NDArray[np.object_],
) -> SIIResult:
    """Apply the multiplier: SII scales (and flips), RII inverts when it is negative."""
    sii_value = out["sii"] * factor
    rii_value = out["rii"]
    sii_lower: dict[float, FloatArray] = {}
    sii_upper: dict[float, FloatArray] = {}
    rii_lower: dict[float, FloatArray] = {}
    rii_upper: dict[float, FloatArray] = {}
    for level in levels:
        s_low = bounds[("sii", "lower", level)] * factor
        s_high = bounds[("sii", "upper", level)] * factor
        r_low = bounds[("rii", "lower", level)]
        r_high = bounds[("rii", "upper", level)]
        if factor < 0:
            s_low, s_high = s_high, s_low
            r_low, r_high = 1.0 / r_high, 1.0 / r_low
        sii_lower[level], sii_upper[level] = s_low, s_high
        rii_lower[level], rii_upper[level] = r_low, r_high
    if factor < 0:
        rii_value = 1.0 / rii_value
    scale = "transformed scale" if transform else "original scale"
    return SIIResult(
        sii=sii_value,
        rii=rii_value,
        intercept=out["intercept"],
        sii_lower=sii_lower,
        sii_upper=sii_upper,
        rii_lower=rii_lower,
        rii_upper=rii_upper,
        confidence=levels,
        method=(
            f"Weighted least squares on the {scale}; confidence limits by simulation "
            f"({reps:,} repetitions)"
        ),
        repetitions=reps,
        value_type=kind_name,
        transform=transform,
        groups=labels,
        notes=notes,
    )


def _unusable(
    rows: NDArray[np.intp],
    quant: FloatArray,
    y: FloatArray,
    pop: FloatArray,
    errors: FloatArray,
    n_quantiles: int,
    label: str,
) -> str | None:
    """Why a group cannot be fitted (a warning), or None; a repeated quantile is an error."""
    q = quant[rows]
    repeated = np.r_[False, np.diff(q) == 0]
    if repeated.any():
        row = int(rows[np.argmax(repeated)])
        raise StatsInputError(
            f"group '{label}' has quantile {quant[row]:g} more than once",
            row=row,
            column="quantile",
        )
    if len(q) != n_quantiles or np.isnan(q).any():
        return f"has {int(np.sum(~np.isnan(q)))} of {n_quantiles} quantiles"
    if (np.isnan(y[rows]) | np.isnan(pop[rows]) | np.isnan(errors[rows])).any():
        return "has a missing value or population"
    return None


def _simulate(
    values: FloatArray,
    pop: FloatArray,
    errors: FloatArray,
    kind: int,
    transform: bool,
    reps: int,
    levels: tuple[float, ...],
    rng: np.random.Generator,
) -> dict[Any, float]:
    """Point estimates and simulated limits for one group's quantiles (in order)."""
    forward, back = _transforms(kind)
    share = pop / pop.sum()
    mid = np.cumsum(share) - share / 2.0
    intercept, slope = _fit(forward(values) if transform else values, share, mid)
    draws = rng.standard_normal((reps, len(values)))
    draws *= errors
    draws += forward(values)
    if not transform:
        draws = back(draws)
    sim_intercept, sim_slope = _fit(draws, share, mid)
    result: dict[Any, Any] = {}
    if transform:
        top, bottom = back(intercept + slope), back(intercept)
        result.update(sii=top - bottom, rii=top / bottom, intercept=bottom)
        middle = intercept + slope / 2.0
    else:
        result.update(sii=slope, rii=(intercept + slope) / intercept, intercept=intercept)
        with np.errstate(divide="ignore", invalid="ignore"):
            sim_rii = np.sort((sim_intercept + sim_slope) / sim_intercept)
    sim_slope.sort()
    for level in levels:
        low_at, high_at = _positions(reps, level)
        for side, at in (("lower", low_at), ("upper", high_at)):
            b = sim_slope[at]
            if transform:
                high_end, low_end = back(middle + b / 2.0), back(middle - b / 2.0)
                result[("sii", side, level)] = high_end - low_end
                result[("rii", side, level)] = high_end / low_end
            else:
                result[("sii", side, level)] = b
                result[("rii", side, level)] = sim_rii[at]
    return {key: float(value) for key, value in result.items()}
