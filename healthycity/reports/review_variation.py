"""Variation within the city for one indicator in one period: boroughs, sub-regions and
the slope index of inequality across deprivation groups.

- *Range*: the lowest and highest borough, from the same comparison table the indicator
  page shows (``outcomes.queries.latest_values``), so the figures agree.
- *Furthest from the city*: the three boroughs whose value lies furthest from the city's
  own, in either direction — where the gap is largest, not a ranking of boroughs.
- *Slope index of inequality*: where the city's figures are published by deprivation
  decile or quintile, PHE's SII (``outcomes.stats.sii``: Low and Low, J Public Health
  2004; Fingertips technical guidance), fitted through the groups weighted by their
  denominators, with a 95% interval from 10,000 seeded simulations — the method and
  settings of the inequalities page, so for the same period the two agree.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from healthycity.outcomes import queries as q

_ORDINALS = (
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
)


@dataclass(frozen=True)
class AreaFigure:
    code: str
    name: str
    value: float
    comparison: str | None = None

    @property
    def href(self) -> str:
        return f"/areas/{self.code}"


@dataclass(frozen=True)
class Inequality:
    value: float
    lower: float
    upper: float
    groups: int
    category_type: str
    method: str


@dataclass
class Variation:
    boroughs: int
    lowest: AreaFigure | None
    highest: AreaFigure | None
    furthest: list[AreaFigure] = field(default_factory=list)
    sub_regions: list[AreaFigure] = field(default_factory=list)
    sii: Inequality | None = None
    sii_note: str = ""

    @property
    def range(self) -> float | None:
        if self.lowest is None or self.highest is None:
            return None
        return self.highest.value - self.lowest.value


def deprivation_rank(category: str, size: int) -> int | None:
    """1 for the most deprived group, ``size`` for the least: "Most deprived decile",
    "Second most deprived", "Fourth more deprived" count from the deprived end;
    "Least deprived", "Third less deprived" from the other; "Decile 3" is taken as is."""
    text = category.lower()
    number = next((i + 1 for i, w in enumerate(_ORDINALS) if re.search(rf"\b{w}\b", text)), None)
    if number is None:
        digits = re.search(r"\b(\d{1,2})\b", text.split("(")[0])
        number = int(digits.group(1)) if digits else None
    if re.search(r"\b(least|less)\b", text):
        return size - (number or 1) + 1
    if re.search(r"\b(most|more)\b", text):
        return number or 1
    return number


def _sii(
    session: Session, info: q.IndicatorInfo, city: str, breakdown: q.Breakdown, period: str
) -> tuple[Inequality | None, str]:
    rows = [r for r in q.deprivation_rows(session, info.id, city, breakdown) if r[6] == period]
    if not rows:
        return None, "No figures by deprivation group for this period."
    by_type: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        by_type[row[0]].append(row)
    chosen = max(by_type, key=lambda t: (len(by_type[t]), t))
    group = by_type[chosen]
    size = len(group)
    ranks = [deprivation_rank(r[1], size) for r in group]
    if (
        size < 3
        or sorted(r for r in ranks if r is not None) != list(range(1, size + 1))
        or any(r[2] is None or r[3] is None or r[4] is None for r in group)
    ):
        return None, "The deprivation groups are incomplete."
    import numpy as np

    from healthycity.outcomes.stats.sii import sii

    order = sorted(range(size), key=lambda i: ranks[i] or 0)
    group = [group[i] for i in order]
    weights = [r[5] for r in group]
    population = (
        np.ones(size)
        if any(w is None or w <= 0 for w in weights)
        else np.array(weights, dtype=float)
    )
    scale = (info.multiplier or 1.0) if info.value_type == "proportion" else 1.0
    kind = {"proportion": "proportion", "crude_rate": "rate", "dsr": "rate", "isr": "rate"}
    try:
        result = sii(
            np.array([r[2] for r in group], dtype=float) / scale,
            population,
            np.arange(1, size + 1, dtype=float),
            value_type=kind.get(info.value_type, "other"),
            lower_cl=np.array([r[3] for r in group], dtype=float) / scale,
            upper_cl=np.array([r[4] for r in group], dtype=float) / scale,
            confidence=0.95,
            multiplier=scale,
            repetitions=10_000,
            seed=0,
        )
    except ValueError as exc:
        return None, f"Not computed: {exc}"
    figure = Inequality(
        value=float(result.sii[0]),
        lower=float(result.sii_lower[0.95][0]),
        upper=float(result.sii_upper[0.95][0]),
        groups=size,
        category_type=chosen,
        method=result.method,
    )
    return figure, f"{size} deprivation groups ({chosen}); {result.method}"


def variation(
    session: Session,
    info: q.IndicatorInfo,
    table: q.LatestTable,
    city: str,
    breakdown: q.Breakdown | None,
) -> Variation:
    """Boroughs and sub-regions in ``table`` (one period), and the city's SII then."""
    rows = [r for r in table.rows if r.point.value is not None]
    city_value = next((r.point.value for r in rows if r.point.area_code == city), None)

    def figure(row: q.AreaValue) -> AreaFigure:
        assert row.point.value is not None
        outcome = row.comparison.outcome if row.comparison else None
        return AreaFigure(row.point.area_code, row.point.area_name, row.point.value, outcome)

    boroughs = [figure(r) for r in rows if r.point.area_type == "local_authority"]
    ordered = sorted(boroughs, key=lambda a: (a.value, a.name))
    found = Variation(
        boroughs=len(boroughs),
        lowest=ordered[0] if ordered else None,
        highest=ordered[-1] if ordered else None,
        sub_regions=sorted(
            (figure(r) for r in rows if r.point.area_type == "sub_region"), key=lambda a: a.name
        ),
    )
    if city_value is not None:
        found.furthest = sorted(boroughs, key=lambda a: (-abs(a.value - city_value), a.name))[:3]
    if breakdown is not None and table.period is not None:
        found.sii, found.sii_note = _sii(session, info, city, breakdown, table.period)
    return found
