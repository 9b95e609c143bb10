"""Life expectancy by Chiang's method II, with Silcocks' variance for the final band.

The abridged life table follows Chiang CL, "The Life Table and its Construction", in
Introduction to Stochastic Processes in Biostatistics (Wiley, 1968), as in PHE's life
expectancy calculator (Fingertips technical guidance; "Life expectancy calculator",
PHE/APHO): with band width n_i, fraction of the band lived by those dying a_i (0.1 for
the first year of life, 0.5 otherwise) and death rate M_i = D_i / P_i,

    q_i = n_i M_i / (1 + n_i M_i (1 - a_i)),  q = 1 in the open final band,
    l_0 = 100,000, d_i = l_i q_i, l_{i+1} = l_i - d_i,
    L_i = n_i (l_{i+1} + a_i d_i), L_final = l_final / M_final,
    e_i = sum_{j>=i} L_j / l_i.

The variance of e_i sums l_j^2 ((1 - a_j) n_j + e_{j+1})^2 S^2_{p_j} over bands j >= i,
with S^2_{p_j} = q_j^2 (1 - q_j) / D_j, and for the final band the term l^2 / (D M^2)
from Silcocks PBS, Jenner DA, Reza R, "Life expectancy as a summary of mortality in a
population: statistical considerations and suitability for use by health
authorities", J Epidemiol Community Health 2001;55:38-43. The limits are e +/- z SE.

PHE's suppression rules, as in the PHE R package ``phe_life_expectancy``: every
output of an area is missing when its total population is 5,000 or less, when a band
has more deaths than people, or when a band has no population; a value (but not its
interval) is missing when its 95% interval is wider than 20 years.
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
from healthycity.outcomes.stats._levels import Confidence, parse_levels, z_value
from healthycity.outcomes.stats.errors import StatsInputError
from healthycity.outcomes.stats.result import Estimate

METHOD = "Chiang, using Silcocks et al for confidence limits"
#: PHE's standard start ages: <1, 1-4, 5-9, ..., 85-89, 90+.
STANDARD_START_AGES: tuple[int, ...] = (0, 1, *range(5, 95, 5))
MINIMUM_POPULATION = 5000
MAXIMUM_CI_WIDTH = 20.0
RADIX = 100_000.0

NOTE_SMALL = "total population 5,000 or less"
NOTE_DEATHS = "deaths exceed population in an age band"
NOTE_ZERO_POPULATION = "an age band has no population"
NOTE_NO_FINAL_DEATHS = "no deaths in the final age band"
NOTE_WIDE = "value suppressed: 95% confidence interval wider than 20 years"


def _table(
    deaths: FloatArray, population: FloatArray, ages: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(life expectancy, variance numerator / l^2) for a (groups x bands) matrix."""
    bands = deaths.shape[1]
    width = np.diff(ages)
    a = np.where((ages[:-1] == 0) & (width == 1), 0.1, 0.5)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = deaths / population
        nm = width * m[:, :-1]
        q = np.ones_like(m)
        q[:, :-1] = nm / (1.0 + nm * (1.0 - a))
        survive = np.ones_like(m)
        survive[:, 1:] = np.cumprod(1.0 - q[:, :-1], axis=1)
        lx = RADIX * survive
        dx = lx * q
        big_l = np.empty_like(m)
        big_l[:, :-1] = width * (lx[:, 1:] + a * dx[:, :-1])
        big_l[:, -1] = lx[:, -1] / m[:, -1]
        tx = np.cumsum(big_l[:, ::-1], axis=1)[:, ::-1]
        ex = tx / lx
        var_p = np.where(deaths > 0, q * q * (1.0 - q) / deaths, 0.0)
        terms = np.empty_like(m)
        following = ex[:, 1:]
        terms[:, :-1] = (lx[:, :-1] ** 2) * ((1.0 - a) * width + following) ** 2 * var_p[:, :-1]
        terms[:, -1] = lx[:, -1] ** 2 / (deaths[:, -1] * m[:, -1] ** 2)
        sum_terms = np.cumsum(terms[:, ::-1], axis=1)[:, ::-1]
        variance = sum_terms / (lx * lx)
    assert ex.shape[1] == bands
    return ex, variance


def life_expectancy(
    deaths: ArrayLike,
    population: ArrayLike,
    start_age: ArrayLike,
    *,
    groups: ArrayLike | None = None,
    confidence: Confidence = 0.95,
) -> Estimate:
    """Life expectancy at each band's start age, one result per input row.

    Each group (area) needs the same set of start ages, beginning at 0; PHE uses
    0, 1, 5, 10, ..., 90 (:data:`STANDARD_START_AGES`). Rows may come in any order.
    """
    d = as_float(deaths, "deaths")
    p = as_float(population, "population")
    age = as_float(start_age, "start_age")
    same_length(deaths=d, population=p, start_age=age)
    levels = parse_levels(confidence)
    check_present(d, "deaths")
    check_present(p, "population")
    check_present(age, "start_age")
    check_not_negative(d, "deaths")
    check_not_negative(p, "population")
    g = make_groups(groups, len(d))
    order = np.lexsort((age, g.codes))
    sizes = g.size()
    bands = int(sizes[0]) if g.count else 0
    ages_sorted = age[order].reshape(g.count, bands) if np.all(sizes == bands) else None
    if ages_sorted is None or bands < 2 or np.any(ages_sorted != ages_sorted[0]):
        raise StatsInputError(
            "every area needs the same age bands (PHE uses start ages 0, 1, 5, 10, ..., "
            "90); at least one area has a different or incomplete set",
            column="start_age",
        )
    ages = ages_sorted[0]
    if ages[0] != 0 or np.any(np.diff(ages) <= 0):
        raise StatsInputError(
            "start ages must begin at 0 and must not repeat within an area",
            column="start_age",
        )
    dm = d[order].reshape(g.count, bands)
    pm = p[order].reshape(g.count, bands)
    ex, variance = _table(dm, pm, ages)
    with np.errstate(invalid="ignore"):
        se = np.sqrt(variance)
    note = np.full(g.count, None, dtype=object)
    note[dm[:, -1] == 0] = NOTE_NO_FINAL_DEATHS
    note[np.any(pm == 0, axis=1)] = NOTE_ZERO_POPULATION
    note[np.any(dm > pm, axis=1)] = NOTE_DEATHS
    note[pm.sum(axis=1) <= MINIMUM_POPULATION] = NOTE_SMALL
    dropped = note != None  # noqa: E711 - elementwise comparison on an object array
    ex[dropped] = np.nan
    se[dropped] = np.nan
    notes = np.repeat(note[:, None], bands, axis=1)
    wide = z_value(0.95) * se > MAXIMUM_CI_WIDTH / 2.0
    notes[wide & ~dropped[:, None]] = NOTE_WIDE
    value = np.where(wide, np.nan, ex)
    back = np.empty_like(order)
    back[order] = np.arange(len(order))
    lower: dict[float, FloatArray] = {}
    upper: dict[float, FloatArray] = {}
    for level in levels:
        half = z_value(level) * se
        lower[level] = (ex - half).ravel()[back]
        upper[level] = (ex + half).ravel()[back]
    return Estimate(
        value=value.ravel()[back],
        lower=lower,
        upper=upper,
        confidence=levels,
        statistic="life expectancy",
        method=METHOD,
        notes=notes.ravel()[back],
        extra={
            "pops_used": np.cumsum(pm[:, ::-1], axis=1)[:, ::-1].ravel()[back],
            "dths_used": np.cumsum(dm[:, ::-1], axis=1)[:, ::-1].ravel()[back],
        },
        groups=g.labels[g.codes],
    )
