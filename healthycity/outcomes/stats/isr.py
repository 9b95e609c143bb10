"""Indirectly standardised ratios (e.g. SMRs) and indirectly standardised rates.

Expected events E = sum_i (R_i / N_i) n_i: the reference population's band rates
(R_i events in N_i people) applied to the local band populations n_i. Then

    ratio = O / E x reference value (1, or 100 for an SMR x 100)
    rate  = O / E x (sum R_i / sum N_i) x multiplier

with limits from the Poisson limits of O divided by E: exact below 10 events and Byar's
from 10 (Breslow NE, Day NE. Statistical Methods in Cancer Research vol. II, IARC 1987;
PHE Fingertips technical guidance; APHO Technical Briefing 3, Eayres D, 2008).

A band with a missing local count counts as 0 events; a band with neither count nor
population is skipped; a missing reference count is 0 (as the PHE R package does).
A missing or non-positive reference population is an error. A local population of 0
is allowed (the band adds nothing to E).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

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
from healthycity.outcomes.stats._groups import make_groups
from healthycity.outcomes.stats._levels import Confidence, parse_levels
from healthycity.outcomes.stats.errors import StatsInputError
from healthycity.outcomes.stats.rate import METHOD_NAMES, METHODS, check_ci, count_limits
from healthycity.outcomes.stats.result import Estimate

Kind = Literal["ratio", "rate"]


def indirectly_standardised(
    count: ArrayLike | None,
    population: ArrayLike,
    reference_count: ArrayLike,
    reference_population: ArrayLike,
    *,
    kind: str = "ratio",
    groups: ArrayLike | None = None,
    observed: ArrayLike | None = None,
    confidence: Confidence = 0.95,
    multiplier: float | None = None,
    ci: str = "auto",
) -> Estimate:
    """Indirectly standardised ratios (``kind="ratio"``) or rates (``kind="rate"``).

    Rows are age bands; ``groups`` labels say which area each band belongs to, and the
    reference columns are given per row (repeat them for each area). ``observed``, one
    total per group in group order, replaces the band counts when only totals are known.
    ``multiplier`` is the reference value for ratios (default 1) and the rate multiplier
    for rates (default 100,000).
    """
    if kind not in ("ratio", "rate"):
        raise StatsInputError(f"must be 'ratio' or 'rate', got {kind!r}", column="kind")
    rule = check_ci(ci)
    n = as_float(population, "population")
    ref_o = as_float(reference_count, "reference_count")
    ref_n = as_float(reference_population, "reference_population")
    o = as_float(count, "count") if count is not None else np.full(len(n), np.nan)
    same_length(count=o, population=n, reference_count=ref_o, reference_population=ref_n)
    levels = parse_levels(confidence)
    factor = check_multiplier(multiplier if multiplier is not None else _default(kind))
    g = make_groups(groups, len(n))
    check_not_negative(o, "count")
    check_not_negative(n, "population")
    check_not_negative(ref_o, "reference_count")
    check_present(ref_n, "reference_population")
    check_positive(ref_n, "reference_population")
    blank = np.isnan(n) & np.isnan(o)
    orphan = np.isnan(n) & ~blank
    if orphan.any():
        fail_at(orphan, "population", "is missing for a band that has a count")
    n = np.where(blank, 0.0, n)
    ref_o = np.nan_to_num(ref_o, nan=0.0)
    expected = g.sum(ref_o / ref_n * n)
    if observed is None:
        total = g.sum(np.nan_to_num(o, nan=0.0))
    else:
        total = as_float(observed, "observed")
        if len(total) != g.count:
            raise StatsInputError(
                f"needs one total per group ({g.count}), got {len(total)}", column="observed"
            )
        check_not_negative(total, "observed")
    if kind == "rate":
        ref_rate = g.sum(ref_o) / g.sum(ref_n) * factor
        scale = ref_rate
        statistic = f"indirectly standardised rate per {multiplier_text(factor)}"
    else:
        ref_rate = np.full(g.count, np.nan)
        scale = np.full(g.count, factor)
        statistic = f"indirectly standardised ratio x {multiplier_text(factor)}"
    with np.errstate(divide="ignore", invalid="ignore"):
        per_event = np.where(expected > 0, scale / expected, np.nan)
    lower: dict[float, FloatArray] = {}
    upper: dict[float, FloatArray] = {}
    exact = np.zeros(g.count, dtype=np.bool_)
    for level in levels:
        low_count, high_count, exact = count_limits(total.copy(), level, rule)
        lower[level] = low_count * per_event
        upper[level] = high_count * per_event
    codes = np.where(exact, 0, 1).astype(np.int8)
    codes[np.isnan(total)] = -1
    return Estimate(
        value=total * per_event,
        lower=lower,
        upper=upper,
        confidence=levels,
        statistic=statistic,
        method=METHODS[rule],
        method_codes=codes,
        method_names=METHOD_NAMES,
        extra={"observed": total, "expected": expected, "ref_rate": ref_rate},
        groups=g.labels,
    )


def _default(kind: str) -> float:
    return 1.0 if kind == "ratio" else 100_000.0


def isr_ratio(
    count: ArrayLike | None,
    population: ArrayLike,
    reference_count: ArrayLike,
    reference_population: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    observed: ArrayLike | None = None,
    confidence: Confidence = 0.95,
    reference_value: float = 1.0,
    ci: str = "auto",
) -> Estimate:
    """Indirectly standardised ratio O/E x reference value (an SMR when 1 or 100)."""
    return indirectly_standardised(
        count,
        population,
        reference_count,
        reference_population,
        kind="ratio",
        groups=groups,
        observed=observed,
        confidence=confidence,
        multiplier=reference_value,
        ci=ci,
    )


def isr_rate(
    count: ArrayLike | None,
    population: ArrayLike,
    reference_count: ArrayLike,
    reference_population: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    observed: ArrayLike | None = None,
    confidence: Confidence = 0.95,
    multiplier: float = 100_000.0,
    ci: str = "auto",
) -> Estimate:
    """Indirectly standardised rate: O/E x the reference population's crude rate."""
    return indirectly_standardised(
        count,
        population,
        reference_count,
        reference_population,
        kind="rate",
        groups=groups,
        observed=observed,
        confidence=confidence,
        multiplier=multiplier,
        ci=ci,
    )
