"""The indicator page's funnel plot: each borough's value against its denominator, with
95% and 99.8% control limits around England or the city.

Method as PHE's funnel plot tools (Fingertips technical guidance; the PHE R package's
``calculate_funnel_limits``; Spiegelhalter, Stat Med 2005;24:1185-1202), through
:mod:`healthycity.outcomes.stats.funnel` and :mod:`~healthycity.outcomes.stats.poisson`:

- proportions: at denominator n the limits are B -/+ z sqrt(B(1 - B)/n), B the centre;
- crude rates: at O events the limits are O/E x B where E runs over O's exact Poisson
  limits, drawn at the population E/B; an area is outside a limit when its expected
  count (B x its population) lies outside its own count's exact limits.

The centre is the reader's benchmark where it has a figure: England, or the city (its
published or computed row, else the boroughs pooled: the sum of their counts over the
sum of their denominators, which is how a region's figure is made). The stats
functions take the centre from the data they are given, so they are handed counts of
B x n at each area's own denominator: the pooled proportion of those is exactly B,
and the axis spans the areas' denominators as PHE's tools draw it.

A funnel needs every area's count and denominator; without them the page says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from healthycity.core.web.twins import Table
from healthycity.outcomes import chart_specs as cs
from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.common import AreaRef, Chart, Geography
from healthycity.outcomes.dashboard.words import VALUE_TYPE_WORDS, fmt

LEVELS = (0.95, 0.998)
FUNNELLED = (m.PROPORTION, m.CRUDE_RATE)
METHODS = {
    m.PROPORTION: (
        "PHE funnel plot for proportions (Spiegelhalter 2005): limits B ± z·√(B(1−B)/n) "
        "around the centre B at each denominator n"
    ),
    m.CRUDE_RATE: (
        "PHE funnel plot for crude rates (Spiegelhalter 2005): exact Poisson limits "
        "around the centre at each population"
    ),
}
# The same, short enough for every row of the table twin.
SHORT_METHODS = {
    m.PROPORTION: "PHE funnel for proportions (Spiegelhalter 2005)",
    m.CRUDE_RATE: "PHE funnel for crude rates, exact Poisson (Spiegelhalter 2005)",
}


@dataclass(frozen=True)
class _Member:
    code: str
    name: str
    point: q.Point


def _centre(
    geo: Geography,
    points: dict[str, q.AreaValue],
    benchmark: str,
    members: Sequence[_Member],
    factor: float,
) -> tuple[str, float]:
    """The name and value (per ``factor``) the limits are drawn around."""
    country = points.get(geo.country_code)
    if benchmark == "england" and country is not None and country.point.value is not None:
        return geo.country_name, country.point.value
    city = points.get(geo.city_code)
    if city is not None and city.point.value is not None:
        return geo.city_name, city.point.value
    counts = sum(x.point.count or 0.0 for x in members)
    denominators = sum(x.point.denominator or 0.0 for x in members)
    return f"{geo.city_name} (the boroughs pooled)", counts / denominators * factor


def _position(high: dict[float, bool], low: dict[float, bool]) -> str:
    if high[0.998]:
        return cs.POSITIONS[0]
    if high[0.95]:
        return cs.POSITIONS[1]
    if low[0.998]:
        return cs.POSITIONS[4]
    if low[0.95]:
        return cs.POSITIONS[3]
    return cs.POSITIONS[2]


def funnel_chart(
    geo: Geography,
    info: q.IndicatorInfo,
    shown: Sequence[AreaRef],
    points: dict[str, q.AreaValue],
    benchmark: str,
) -> tuple[Chart | None, str]:
    """The funnel plot of the shown areas, or None and the reason there is none."""
    from healthycity.outcomes.stats._levels import label
    from healthycity.outcomes.stats.funnel import (
        proportion_funnel_limits,
        proportion_limits_at,
        rate_funnel_limits,
    )
    from healthycity.outcomes.stats.poisson import exact_limits

    if info.value_type not in FUNNELLED:
        kind = VALUE_TYPE_WORDS.get(info.value_type, info.value_type).lower()
        return None, (
            "No funnel plot: it is drawn here for proportions and crude rates, whose "
            f"areas each have a count and a denominator; this indicator is a {kind}."
        )
    members = [
        _Member(a.code, a.name, points[a.code].point)
        for a in shown
        if a.code in points and points[a.code].point.value is not None
    ]
    usable = [
        x
        for x in members
        if x.point.count is not None
        and x.point.denominator is not None
        and x.point.denominator > 0
        and x.point.count >= 0
        and (info.value_type != m.PROPORTION or x.point.count <= x.point.denominator)
    ]
    if len(usable) < 3 or len(usable) < len(members):
        return None, (
            "No funnel plot: it needs every area's count and denominator, and "
            f"{len(usable)} of the {len(members)} areas with a value have them."
        )
    factor = info.multiplier or (100.0 if info.value_type == m.PROPORTION else 100_000.0)
    centre_name, centre = _centre(geo, points, benchmark, usable, factor)
    base = centre / factor
    if not 0.0 < base < (1.0 if info.value_type == m.PROPORTION else np.inf):
        return None, f"No funnel plot: the centre ({fmt(centre, info.decimals)}) leaves no room."
    n = np.array([x.point.denominator or 0.0 for x in usable], dtype=np.float64)
    counts = np.array([x.point.count or 0.0 for x in usable], dtype=np.float64)
    lines: list[cs.LimitPoint] = []
    at_own: dict[float, tuple[list[float | None], list[float | None]]] = {}
    high: dict[float, np.ndarray] = {}
    low: dict[float, np.ndarray] = {}
    if info.value_type == m.PROPORTION:
        drawn = proportion_funnel_limits(base * n, n, multiplier=factor, confidence=LEVELS)
        own = proportion_limits_at(base * n, n, multiplier=factor, confidence=LEVELS)
        observed = counts / n * factor
        for level in LEVELS:
            name = f"{'99.8' if level == 0.998 else '95'}% limits"
            for side, ys in (("lower", drawn.lower[level]), ("upper", drawn.upper[level])):
                lines += [
                    cs.LimitPoint(name, f"{side} {name}", float(x), float(y))
                    for x, y in zip(drawn.x, ys, strict=True)
                ]
            at_own[level] = (
                [float(v) for v in own.lower[level]],
                [float(v) for v in own.upper[level]],
            )
            high[level] = observed > own.upper[level]
            low[level] = observed < own.lower[level]
    else:
        drawn = rate_funnel_limits(
            base * n,
            np.full(len(n), centre),
            rate_type="crude",
            years_of_data=1.0,
            multiplier=factor,
            denominator=n,
            confidence=LEVELS,
        )
        expected = base * n
        for level in LEVELS:
            name = f"{'99.8' if level == 0.998 else '95'}% limits"
            tag = label(level)
            for side, xs, ys in (
                ("lower", drawn.extra[f"lower_{tag}_population_1_year"], drawn.lower[level]),
                ("upper", drawn.extra[f"upper_{tag}_population_1_year"], drawn.upper[level]),
            ):
                lines += [
                    cs.LimitPoint(name, f"{side} {name}", float(x), float(y))
                    for x, y in zip(xs, ys, strict=True)
                    if np.isfinite(x) and np.isfinite(y)
                ]
            least, most = exact_limits(counts, level)
            high[level] = expected < least
            low[level] = expected > most
            at_own[level] = ([None] * len(n), [None] * len(n))
    positions = [
        _position({lv: bool(high[lv][i]) for lv in LEVELS}, {lv: bool(low[lv][i]) for lv in LEVELS})
        for i in range(len(usable))
    ]
    areas = [
        cs.FunnelArea(x.name, float(x.point.denominator or 0.0), float(x.point.value or 0.0), pos)
        for x, pos in zip(usable, positions, strict=True)
    ]
    tally = ", ".join(
        f"{sum(1 for p in positions if p == where)} {where}"
        for where in cs.POSITIONS
        if where in positions
    )
    period = usable[0].point.period
    method = METHODS[info.value_type]
    description = (
        f"Funnel plot of {info.name} for {len(areas)} areas, {period}: each area's value "
        f"against its denominator, with 95% and 99.8% control limits around "
        f"{centre_name} ({fmt(centre, info.decimals)}): {tally}."
    )
    spec = cs.funnel_plot(
        areas,
        lines,
        centre=centre,
        centre_name=centre_name,
        unit=info.unit or "",
        denominator_title="Denominator" if info.value_type == m.PROPORTION else "Population",
    )
    table = Table(
        [
            "area_code",
            "area",
            "period",
            "value",
            "count",
            "denominator",
            "lower_99_8",
            "lower_95",
            "upper_95",
            "upper_99_8",
            "position",
            "centre",
            "centre_value",
            "method",
        ],
        [
            [
                x.code,
                x.name,
                x.point.period,
                x.point.value,
                x.point.count,
                x.point.denominator,
                at_own[0.998][0][i],
                at_own[0.95][0][i],
                at_own[0.95][1][i],
                at_own[0.998][1][i],
                positions[i],
                centre_name,
                centre,
                SHORT_METHODS[info.value_type],
            ]
            for i, x in enumerate(usable)
        ],
    )
    note = f"{method}." + (
        " For rates the limits at each area's own population are not listed; its position is."
        if info.value_type == m.CRUDE_RATE
        else ""
    )
    return Chart("funnel", "Funnel plot", spec, description, table, note=note), ""
