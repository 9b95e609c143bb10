"""Estate measures as pure functions over arrays: no database, no web.

Every ratio is summed before it is divided. A sub-region's backlog per m² is its
sites' backlog over its sites' floor area, never the average of the sites' own ratios
(an average of ratios lets a tiny site weigh as much as a teaching hospital). A
percentage published per site (empty space, space not functionally suitable) is first
turned back into m² with the floor area it is a share of, then summed, then divided.
Rows missing either side of a ratio are left out of both sides, so a trust that did not
report its floor area does not shrink everyone's backlog per m².

Money is carried as pence in float64: integers below 2**53 add exactly in any order,
so the totals equal the published figures to the penny. Missing values are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
Groups = NDArray[np.int64]

# The Carter review's targets (Operational productivity and performance in English NHS
# acute hospitals, 2016): non-clinical floor space at most 35%, empty plus under-used
# space at most 2.5%.
NON_CLINICAL_TARGET_PCT = 35.0
EMPTY_UNDER_USED_TARGET_PCT = 2.5
BANDS = ("high", "significant", "moderate", "low")


@dataclass(frozen=True)
class SiteFigures:
    """One year's site returns, column by column (NaN where not reported).

    Money in pence; areas in m²; percentages as published (0–100); land in hectares.
    """

    gia: Array
    occupied: Array
    clinical: Array
    non_clinical: Array
    empty_pct: Array
    under_used_pct: Array
    unutilised_pct: Array
    not_suitable_pct: Array
    land_owned: Array
    land_not_delivering: Array
    backlog: dict[str, Array]  # band → pence
    critical_infrastructure: Array
    running_cost: Array


def group_sum(values: Array, groups: Groups, n: int) -> Array:
    """Sum per group, NaN left out; NaN for a group with nothing reported."""
    known = ~np.isnan(values)
    total = np.bincount(groups[known], weights=values[known], minlength=n)
    counts = np.bincount(groups[known], minlength=n)
    return np.where(counts > 0, total, np.nan)


def group_ratio(numerator: Array, denominator: Array, groups: Groups, n: int) -> Array:
    """Σ numerator / Σ denominator per group, over rows that report both."""
    both = ~np.isnan(numerator) & ~np.isnan(denominator)
    top = np.bincount(groups[both], weights=numerator[both], minlength=n)
    bottom = np.bincount(groups[both], weights=denominator[both], minlength=n)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom > 0, top / bottom, np.nan)


def share_m2(area: Array, pct: Array) -> Array:
    """A published percentage of ``area`` as m²."""
    return area * pct / 100.0


def surplus_m2(f: SiteFigures) -> Array:
    """Empty plus under-used m²: the two figures from 2015/16, the single un-utilised
    figure before (ERIC split it in 2015/16). NaN where a site reported neither."""
    empty = share_m2(f.gia, f.empty_pct)
    under = share_m2(f.gia, f.under_used_pct)
    split = np.where(
        np.isnan(empty) & np.isnan(under), np.nan, np.nan_to_num(empty) + np.nan_to_num(under)
    )
    return np.where(np.isnan(split), share_m2(f.gia, f.unutilised_pct), split)


def backlog_total(f: SiteFigures) -> Array:
    """All four risk bands; NaN only where no band was reported."""
    stacked = np.vstack([f.backlog[b] for b in BANDS])
    return np.where(np.isnan(stacked).all(axis=0), np.nan, np.nansum(stacked, axis=0))


def high_significant(f: SiteFigures) -> Array:
    pair = np.vstack([f.backlog["high"], f.backlog["significant"]])
    return np.where(np.isnan(pair).all(axis=0), np.nan, np.nansum(pair, axis=0))


def measures(f: SiteFigures, groups: Groups, n: int) -> dict[str, Array]:
    """Every measure for every group: totals in pence / m² / ha, ratios as fractions
    (per m² in pence per m²), counts of sites."""
    total = backlog_total(f)
    hs = high_significant(f)
    surplus = surplus_m2(f)
    out: dict[str, Array] = {f"backlog_{b}": group_sum(f.backlog[b], groups, n) for b in BANDS}
    out |= {
        "backlog_total": group_sum(total, groups, n),
        "backlog_high_significant": group_sum(hs, groups, n),
        "critical_infrastructure_risk": group_sum(f.critical_infrastructure, groups, n),
        "gia_m2": group_sum(f.gia, groups, n),
        "backlog_per_m2": group_ratio(total, f.gia, groups, n),
        "high_significant_per_m2": group_ratio(hs, f.gia, groups, n),
        "empty_m2": group_sum(share_m2(f.gia, f.empty_pct), groups, n),
        "under_used_m2": group_sum(share_m2(f.gia, f.under_used_pct), groups, n),
        "empty_under_used_m2": group_sum(surplus, groups, n),
        "empty_share": group_ratio(share_m2(f.gia, f.empty_pct), f.gia, groups, n),
        "under_used_share": group_ratio(share_m2(f.gia, f.under_used_pct), f.gia, groups, n),
        "empty_under_used_share": group_ratio(surplus, f.gia, groups, n),
        "not_suitable_share": group_ratio(
            share_m2(f.occupied, f.not_suitable_pct), f.occupied, groups, n
        ),
        "non_clinical_share": group_ratio(f.non_clinical, f.clinical + f.non_clinical, groups, n),
        "land_owned_ha": group_sum(f.land_owned, groups, n),
        "land_not_delivering_ha": group_sum(f.land_not_delivering, groups, n),
        "running_cost_per_m2": group_ratio(f.running_cost, f.gia, groups, n),
        "sites": np.bincount(groups, minlength=n).astype(np.float64),
    }
    return out


def quartiles(values: Array) -> tuple[float, float, float] | None:
    """Lower quartile, median and upper quartile of the reported values (None if none)."""
    known = values[~np.isnan(values)]
    if known.size == 0:
        return None
    q1, median, q3 = np.percentile(known, [25, 50, 75])
    return float(q1), float(median), float(q3)


def age_profile(
    gia: Array, shares: dict[str, Array], groups: Groups, n: int
) -> tuple[dict[str, Array], Array]:
    """Floor area built in each age band per group, and the floor area those figures cover.

    ERIC's age profile is each site's percentage of gross internal floor area built in a
    band. Each is turned back into m² with the site's own floor area, summed per group,
    then shared out over the summed floor area of the sites that reported a profile, so
    a group's profile weighs each site by its size (not an average of percentages). A
    site with no floor area or no band reported is left out of both sides.
    """
    reported = np.zeros(gia.shape, dtype=bool)
    areas: dict[str, Array] = {}
    for band, pct in shares.items():
        m2 = share_m2(gia, pct)
        reported |= ~np.isnan(m2)
        areas[band] = m2
    covered = np.where(reported, gia, np.nan)
    return {b: group_sum(a, groups, n) for b, a in areas.items()}, group_sum(covered, groups, n)


def share_of(part: Array, whole: Array) -> Array:
    """``part / whole`` where the whole is positive (NaN otherwise): a share of sums."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(whole > 0, part / whole, np.nan)


def investment_against_backlog(
    investment: Array, backlog: Array, groups: Groups, n: int
) -> tuple[Array, Array, Array]:
    """Investment to reduce backlog, the backlog it is set against, and their ratio, per
    group of trusts: Σ investment / Σ backlog over the trusts that reported both (a trust
    that reported no investment does not dilute the others' ratio). Investment is a
    trust-level ERIC figure (the year's spend), backlog the trust's sites' total cost to
    eradicate; the ratio says what share of the backlog one year's spending would clear."""
    both = ~np.isnan(investment) & ~np.isnan(backlog)
    spent = group_sum(np.where(both, investment, np.nan), groups, n)
    against = group_sum(np.where(both, backlog, np.nan), groups, n)
    return group_sum(investment, groups, n), against, share_of(spent, against)
