"""The city's slope index of inequality from its figures by deprivation group."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.common import Geography


@dataclass
class SIIGroup:
    """One deprivation group behind an SII: 1 is the most deprived."""

    rank: int
    category: str
    value: float
    lower: float
    upper: float
    population: float | None
    position: float  # midpoint of the group's cumulative population share, 0..1


@dataclass
class SIIFigure:
    """The slope index of inequality of one indicator for the city, with what it was
    computed from, so the page, its chart and its twins all show the same figures."""

    value: float
    lower: float
    upper: float
    rii: float
    at_most_deprived: float  # the fitted line at the most deprived end (x = 0)
    period: str
    category_type: str
    breakdown: str
    groups: list[SIIGroup]
    equal_weights: bool
    method: str

    @property
    def at_least_deprived(self) -> float:
        return self.at_most_deprived + self.value


_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}


def deprivation_rank(category: str, size: int) -> int | None:
    """1 for the most deprived quantile … ``size`` for the least, from Fingertips' names
    ("Most deprived decile (IMD2019)", "Fifth less deprived decile", "Decile 3")."""
    text = category.lower()
    ordinal: int | None = None
    for word, number in _ORDINALS.items():
        if re.search(rf"\b{word}\b", text):
            ordinal = number
            break
    if ordinal is None:
        digits = re.search(r"\b(\d{1,2})\b", text)
        ordinal = int(digits.group(1)) if digits else None
    if re.search(r"\b(least|less)\b", text):
        return size - (ordinal or 1) + 1
    if "most" in text:
        return ordinal or 1
    return ordinal


def city_sii(
    session: Session, info: q.IndicatorInfo, geo: Geography, breakdown: q.Breakdown
) -> tuple[SIIFigure | None, str]:
    """The slope index of inequality for the city from its figures by deprivation
    quantile (Fingertips' IMD deciles or quintiles), or why there is none.

    Method: PHE's, as ``stats/sii.py`` implements it (Low and Low, J Public Health 2004;
    OHID's Fingertips technical guidance on the SII). Each group is placed at the middle
    of its share of the population, counted from the most deprived end (0) to the least
    (1); a straight line is fitted through the groups' values, each weighted by its
    population; the SII is the line's rise from one end to the other, so it reads as the
    gap between the most and least deprived with every group taken into account, not
    only the two extremes. Its 95% interval comes from simulating each group's value
    within its own confidence interval (10,000 times, seeded, so a page never changes
    between requests) and refitting.

    Only the series the page headlines (its sex and age) is used, and, where the city is
    published by more than one kind of deprivation group, the kind with the latest data
    and then the most groups (deciles before quintiles).
    """
    rows = q.deprivation_rows(session, info.id, geo.city_code, breakdown)
    if not rows:
        return None, ""
    by_type: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_type[row[0]].append(row)
    latest_of = {t: max(r[7] for r in group) for t, group in by_type.items()}
    chosen = max(
        by_type,
        key=lambda t: (latest_of[t], sum(1 for r in by_type[t] if r[7] == latest_of[t]), t),
    )
    rows = [r for r in by_type[chosen] if r[7] == latest_of[chosen]]
    size = len(rows)
    ranks = [deprivation_rank(r[1], size) for r in rows]
    values = [r[2] for r in rows]
    if (
        size < 3
        or any(x is None for x in ranks)
        or sorted(x for x in ranks if x is not None) != list(range(1, size + 1))
        or any(v is None for v in values)
        or any(r[3] is None or r[4] is None for r in rows)
    ):
        return None, "Not available: the deprivation groups are incomplete."
    import numpy as np

    from healthycity.outcomes.stats.sii import sii

    order = np.argsort(np.array(ranks, dtype=float))
    rows = [rows[i] for i in order]
    ranks = [ranks[i] for i in order]
    populations = [r[5] for r in rows]
    equal = any(p is None or p <= 0 for p in populations)
    population = np.ones(size) if equal else np.array(populations, dtype=float)
    multiplier = info.multiplier or 1.0
    scale = multiplier if info.value_type == m.PROPORTION else 1.0
    kind = {
        m.PROPORTION: "proportion",
        m.CRUDE_RATE: "rate",
        m.DSR: "rate",
        m.ISR: "rate",
    }.get(info.value_type, "other")
    value_of = np.array([r[2] for r in rows], dtype=float)
    lower_of = np.array([r[3] for r in rows], dtype=float)
    upper_of = np.array([r[4] for r in rows], dtype=float)
    try:
        result = sii(
            value_of / scale,
            population,
            np.array(ranks, dtype=float),
            value_type=kind,
            lower_cl=lower_of / scale,
            upper_cl=upper_of / scale,
            confidence=0.95,
            multiplier=scale,
            repetitions=10_000,
            seed=0,
        )
    except ValueError as exc:
        return None, f"Not available: {exc}"
    share = population / population.sum()
    positions = np.cumsum(share) - share / 2.0
    figure = SIIFigure(
        value=float(result.sii[0]),
        lower=float(result.sii_lower[0.95][0]),
        upper=float(result.sii_upper[0.95][0]),
        rii=float(result.rii[0]),
        at_most_deprived=float(result.intercept[0]) * scale,
        period=rows[0][6],
        category_type=chosen,
        breakdown=breakdown.label,
        groups=[
            SIIGroup(
                rank=int(rank or 0),
                category=r[1],
                value=float(value_of[i]),
                lower=float(lower_of[i]),
                upper=float(upper_of[i]),
                population=None if equal else float(population[i]),
                position=float(positions[i]),
            )
            for i, (rank, r) in enumerate(zip(ranks, rows, strict=True))
        ],
        equal_weights=equal,
        method=result.method,
    )
    note = f"{figure.period}, {size} deprivation groups ({chosen}); {result.method}" + (
        "; groups weighted equally as no populations were given" if equal else ""
    )
    return figure, note
