"""Directly standardised rates (DSRs) with Dobson confidence limits.

DSR = sum(w_i O_i / n_i) / sum(w_i) x multiplier, over age bands i with standard
population weights w_i (ESP2013 by default, see :mod:`.esp2013`). Its variance is
var = sum(w_i^2 O_i / n_i^2) / (sum w_i)^2, and the limits follow Dobson AJ, Kuulasmaa
K, Eberle E, Scherer J. "Confidence intervals for weighted sums of Poisson parameters",
Stat Med 1991;10:457-462:

    DSR + sqrt(var / O) x (O_limit - O),   O = sum O_i,

with O_limit the Byar's limits of the total count O (PHE applies Byar's at every O,
see Fingertips technical guidance and APHO Technical Briefing 3). PHE suppresses the
DSR and its limits when O < 10.

Non-independent events (one person may have several events, e.g. admissions): the
variance is built from the numbers of people with exactly f events,
var = sum_f f^2 var_f (PHE's "Dobson, with confidence adjusted for non-independent
events", as in the PHE R package's ``calculate_dsr(independent_events = FALSE)``).

A missing count in a band is taken as 0 events (as the PHE R package does); a
missing or non-positive population in a band is an error, because the band's rate
cannot be formed.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from healthycity.outcomes.stats._arrays import (
    FloatArray,
    as_float,
    check_multiplier,
    check_not_negative,
    check_positive,
    check_present,
    multiplier_text,
    same_length,
)
from healthycity.outcomes.stats._groups import Groups, make_groups
from healthycity.outcomes.stats._levels import Confidence, parse_levels
from healthycity.outcomes.stats.errors import StatsInputError
from healthycity.outcomes.stats.esp2013 import ESP2013_WEIGHTS
from healthycity.outcomes.stats.poisson import byar_limits
from healthycity.outcomes.stats.result import Estimate

METHOD = "Dobson"
METHOD_NON_INDEPENDENT = "Dobson, with confidence adjusted for non-independent events"
MINIMUM_COUNT = 10
SUPPRESSED = "dsr NA for total count < 10"


def position_in_group(groups: Groups) -> FloatArray:
    """0-based position of each row within its group, in the order rows are given."""
    sizes = groups.size()
    if groups.starts is not None:
        return (np.arange(groups.n_rows) - np.repeat(groups.starts, sizes)).astype(np.float64)
    order = np.argsort(groups.codes, kind="stable")
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    position = np.empty(len(groups.codes), dtype=np.intp)
    position[order] = np.arange(len(order)) - np.repeat(starts, sizes)
    return position.astype(np.float64)


def esp2013_by_position(groups: Groups) -> FloatArray:
    """ESP2013 weights matched by row order within each group (19 rows per group)."""
    sizes = groups.size()
    wrong = np.flatnonzero(sizes != len(ESP2013_WEIGHTS))
    if wrong.size:
        group = int(wrong[0])
        raise StatsInputError(
            f"group '{groups.label(group)}' has {sizes[group]} rows; the ESP2013 default "
            f"needs the {len(ESP2013_WEIGHTS)} age bands 0-4, 5-9, ..., 85-89, 90+ in that "
            "order (or give a standard population for each row)",
            column="standard_population",
        )
    weights = np.asarray(ESP2013_WEIGHTS, dtype=np.float64)
    return weights[position_in_group(groups).astype(np.intp)]


def _events_variance(
    count: FloatArray, persons_by_events: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """(count, sum_f f^2 persons_f) per row from the people-with-f-events table."""
    persons = np.asarray(persons_by_events, dtype=np.float64)
    if persons.ndim == 1:
        persons = persons.reshape(-1, 1)
    if persons.ndim != 2 or persons.shape[0] != len(count):
        raise StatsInputError(
            f"needs one row per count ({len(count)}) and one column per number of events, "
            f"got shape {persons.shape}",
            column="persons_by_events",
        )
    persons = np.nan_to_num(persons, nan=0.0)
    for column in range(persons.shape[1]):
        check_not_negative(persons[:, column], f"f{column + 1}")
    events = np.arange(1, persons.shape[1] + 1, dtype=np.float64)
    implied = persons @ events
    given = ~np.isnan(count)
    mismatch = given & ~np.isclose(count, implied, rtol=1e-9, atol=1e-9)
    if mismatch.any():
        row = int(np.argmax(mismatch))
        raise StatsInputError(
            f"is {count[row]:g} but the people with 1, 2, ... events imply {implied[row]:g} events",
            row=row,
            column="count",
        )
    return np.where(given, count, implied), persons @ (events * events)


def dsr(
    count: ArrayLike,
    population: ArrayLike,
    *,
    standard_population: ArrayLike | None = None,
    groups: ArrayLike | None = None,
    confidence: Confidence = 0.95,
    multiplier: float = 100_000.0,
    persons_by_events: ArrayLike | None = None,
) -> Estimate:
    """DSRs per group of age-band rows, with Dobson limits.

    ``standard_population`` gives each row's weight; left out, rows are matched to the
    19 ESP2013 bands by their order within each group. ``persons_by_events`` (rows x K,
    column k = people with k+1 events) switches on the non-independent events variance.
    """
    o = as_float(count, "count")
    n = as_float(population, "population")
    same_length(count=o, population=n)
    levels = parse_levels(confidence)
    factor = check_multiplier(multiplier)
    g = make_groups(groups, len(o))
    check_not_negative(o, "count")
    if not (n > 0).all():
        check_present(n, "population")
        check_positive(n, "population")
    if standard_population is None:
        w = esp2013_by_position(g)
    else:
        w = as_float(standard_population, "standard_population")
        same_length(count=o, standard_population=w)
        check_present(w, "standard_population")
        check_not_negative(w, "standard_population")
    if persons_by_events is None:
        if np.isnan(o).any():
            o = np.where(np.isnan(o), 0.0, o)
        squared_events = o
        method = METHOD
    else:
        o, squared_events = _events_variance(o, persons_by_events)
        method = METHOD_NON_INDEPENDENT
    weight_sum = g.sum(w)
    per_person = w / n
    rate_term = per_person * o
    per_person *= per_person
    per_person *= squared_events
    total = g.sum(o)
    value = g.sum(rate_term) / weight_sum
    variance = g.sum(per_person) / (weight_sum * weight_sum)
    suppressed = total < MINIMUM_COUNT
    value[suppressed] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = np.sqrt(variance / total)
    lower: dict[float, FloatArray] = {}
    upper: dict[float, FloatArray] = {}
    for level in levels:
        low_count, high_count = byar_limits(total, level)
        lower[level] = (value + spread * (low_count - total)) * factor
        upper[level] = (value + spread * (high_count - total)) * factor
    notes = np.full(len(total), None, dtype=object)
    notes[suppressed] = SUPPRESSED
    return Estimate(
        value=value * factor,
        lower=lower,
        upper=upper,
        confidence=levels,
        statistic=f"dsr per {multiplier_text(factor)}",
        method=method,
        notes=notes,
        extra={"total_count": total, "total_pop": g.sum(n)},
        groups=g.labels,
    )
