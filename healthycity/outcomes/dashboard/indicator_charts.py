"""The indicator page's charts (map, bars, trend) and its table by sex, age and category."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from healthycity.core.web.twins import Table
from healthycity.outcomes import chart_specs as cs
from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.choices import IndicatorQuery, benchmark_for
from healthycity.outcomes.dashboard.common import AreaRef, Chart, Geography
from healthycity.outcomes.dashboard.words import (
    chart_outcome,
    comparison_words,
    fmt,
    judged_words,
    outcome_of,
    outcome_tag,
    row_method,
    with_unit,
)


@dataclass
class AreaRow:
    code: str
    name: str
    area_type: str
    period: str
    value: float | None
    value_text: str
    lower: float | None
    upper: float | None
    interval_text: str
    count_text: str
    denominator_text: str
    outcome: str
    comparison_text: str
    comparison_tag: str
    benchmark_name: str
    note: str
    emphasis: bool = False
    # Where the figure comes from: "published", "illustrative", or "computed from the
    # boroughs (33 of 33)" (``words.source_note``).
    source: str = ""


@dataclass
class BreakdownRow:
    label: str
    sex: str
    age: str
    category: str
    period: str | None
    city_text: str
    country_text: str
    outcome: str
    comparison_text: str
    comparison_tag: str
    href: str


def map_chart(
    session: Session,
    geo: Geography,
    info: q.IndicatorInfo,
    shown: Sequence[AreaRef],
    area_row: Callable[[str], AreaRow | None],
    benchmark_name: str,
    method_text: str,
) -> tuple[list[Chart], str]:
    """The map: real outlines (loaded, or the shipped borough outlines) when they cover
    the areas, then the tile grid as a second, equal-area view; the tile grid alone
    when there are no outlines. Returns the charts and the note the map carries."""
    from healthycity.outcomes.boundaries import boundaries_or_shipped

    rows = [r for r in (area_row(a.code) for a in shown) if r is not None]
    if not rows:
        return [], ""
    method = method_text
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[chart_outcome(r.outcome)] += 1
    tally = ", ".join(f"{n} {o}" for o, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    method_text = judged_words(method_text, [r.outcome for r in rows])
    legend = cs.legend_title(method_text, [chart_outcome(r.outcome) for r in rows])
    table = Table(
        ["area_code", "area", "period", "value", "comparison", "comparison_method"],
        [
            [r.code, r.name, r.period, r.value, r.comparison_text, row_method(r.outcome, method)]
            for r in rows
        ],
    )
    shapes, source = boundaries_or_shipped(session, [r.code for r in rows])
    period = rows[0].period
    tiles = _tile_chart(geo, info, rows, legend, table, tally, benchmark_name, method_text)
    if shapes and len(shapes) >= 0.8 * len(rows):
        features = [
            {
                "type": "Feature",
                "geometry": shapes[r.code],
                "properties": {"name": r.name, "outcome": chart_outcome(r.outcome)},
            }
            for r in rows
            if r.code in shapes
        ]
        spec = cs.boundary_map(features, legend_title=legend)
        description = (
            f"Map of {len(features)} areas for {info.name}, {period}, each coloured by "
            f"comparison with {benchmark_name}: {tally}. {method_text}."
        )
        charts = [Chart("map", "Map", spec, description, table, note=source)]
        if tiles is not None:
            charts.append(tiles)
        return charts, ""
    if tiles is None:
        return [], (
            "No map: these areas have no tile positions in the city pack and no boundaries "
            "have been loaded for them (healthycity load boundaries FILE)."
        )
    tiles = Chart("map", "Map", tiles.spec, tiles.description, table)
    note = "Each square is one area, placed roughly where it lies; the table names them all."
    return [tiles], note


def _tile_chart(
    geo: Geography,
    info: q.IndicatorInfo,
    rows: Sequence[AreaRow],
    legend: str,
    table: Table,
    tally: str,
    benchmark_name: str,
    method_text: str,
) -> Chart | None:
    """The tile grid: one equal square per area, so small boroughs count as much as large."""
    tiled = [r for r in rows if geo.areas[r.code].tile_col is not None]
    if not tiled:
        return None
    tiles = [
        cs.Tile(
            r.code,
            r.name,
            geo.areas[r.code].label,
            int(geo.areas[r.code].tile_col or 0),
            int(geo.areas[r.code].tile_row or 0),
            chart_outcome(r.outcome),
            r.value_text,
        )
        for r in tiled
    ]
    spec = cs.tile_map(tiles, legend_title=legend)
    description = (
        f"Tile map of {len(tiles)} areas for {info.name}, {rows[0].period}: one square per "
        f"area, placed roughly where it lies and coloured by comparison with "
        f"{benchmark_name}: {tally}. {method_text}."
    )
    return Chart("tiles", "Tile map (every area the same size)", spec, description, table)


def compare_chart(
    geo: Geography,
    info: q.IndicatorInfo,
    shown: Sequence[AreaRef],
    points: dict[str, q.AreaValue],
    area_row: Callable[..., AreaRow | None],
    choice: IndicatorQuery,
    benchmark_name: str,
    method_text: str,
) -> Chart | None:
    codes = [a.code for a in shown]
    city = geo.city.code if geo.city else None
    if city is not None and choice.benchmark != "london" and city in points:
        codes.append(city)
    rows = [r for r in (area_row(c) for c in codes) if r is not None and r.value is not None]
    if not rows:
        return None
    bars = []
    for r in rows:
        target = benchmark_for(geo, choice.benchmark, r.code)
        reference = points.get(target) if target else None
        bars.append(
            cs.Bar(
                r.name,
                float(r.value or 0.0),
                r.lower,
                r.upper,
                chart_outcome(r.outcome),
                reference.point.value if reference is not None else None,
                highlight=r.code == city,
            )
        )
    ordered = sorted(rows, key=lambda r: -(r.value or 0.0))
    highest, lowest = ordered[0], ordered[-1]
    method = method_text
    method_text = judged_words(method_text, [r.outcome for r in rows])
    single = {b.benchmark for b in bars if b.benchmark is not None}
    line = (
        f" The line marks {benchmark_name} ({fmt(next(iter(single)), info.decimals)})."
        if len(single) == 1
        else " Each bar's tick marks its own sub-region."
        if single
        else ""
    )
    description = (
        f"Bar chart of {info.name} for {len(rows)} areas, {rows[0].period}, highest first: "
        f"highest {highest.name} ({highest.value_text}), lowest {lowest.name} "
        f"({lowest.value_text}). Whiskers show 95% confidence intervals.{line} "
        f"{method_text}."
    )
    spec = cs.compare_bars(
        bars,
        unit=info.unit or "",
        benchmark_name=benchmark_name,
        legend=cs.legend_title(method_text, [b.outcome for b in bars]),
    )
    table = Table(
        [
            "area_code",
            "area",
            "period",
            "value",
            "lower_95",
            "upper_95",
            "comparison",
            "comparison_method",
        ],
        [
            [
                r.code,
                r.name,
                r.period,
                r.value,
                r.lower,
                r.upper,
                r.comparison_text,
                row_method(r.outcome, method),
            ]
            for r in ordered
        ],
    )
    return Chart("compare", "Compare areas", spec, description, table)


def trend_chart(
    geo: Geography, info: q.IndicatorInfo, series: dict[str, list[q.Point]]
) -> Chart | None:
    points: list[cs.TrendPoint] = []
    rows: list[list[Any]] = []
    sentences: list[str] = []
    for code, items in series.items():
        usable = [p for p in items if p.value is not None]
        if not usable:
            continue
        name = geo.areas[code].name if code in geo.areas else code
        for p in items:
            points.append(
                cs.TrendPoint(
                    name, p.period, p.time_period_sortable, p.value, p.lower_ci95, p.upper_ci95
                )
            )
            rows.append([code, name, p.period, p.value, p.lower_ci95, p.upper_ci95])
        first, last = usable[0], usable[-1]
        sentences.append(
            f"{name} went from {fmt(first.value, info.decimals)} in {first.period} to "
            f"{fmt(last.value, info.decimals)} in {last.period}"
        )
    if not points:
        return None
    description = f"Line chart of {info.name} over time. " + "; ".join(sentences) + "."
    spec = cs.trend_chart(points, unit=info.unit or "")
    table = Table(["area_code", "area", "period", "value", "lower_95", "upper_95"], rows)
    return Chart("trend", "Trend over time", spec, description, table)


def breakdown_rows(
    session: Session,
    geo: Geography,
    info: q.IndicatorInfo,
    found: Sequence[q.Breakdown],
    chosen: q.Breakdown | None,
    country: str,
    city: str,
    choice: IndicatorQuery,
) -> list[BreakdownRow]:
    """The city's latest value for each sex, age and category the data have (up to 60
    series, those without a category first: two sexes by ten deprivation deciles of two
    kinds, as the demo data have, still fit). A category only the country is published
    by (England's county deciles, say) is left out: the city has no value to show."""
    if len(found) <= 1:
        return []
    rows: list[BreakdownRow] = []
    ordered = sorted(found, key=natural_order)
    for b in ordered[:60]:
        latest = q.latest_values(
            session,
            info.id,
            benchmark=country,
            area_codes=[city],
            breakdown=b,
            comparison=choice.comparison,
        )
        if latest is None:
            continue
        mine = next((r for r in latest.rows if r.point.area_code == city), None)
        if mine is None and (b.category_type or b.category):
            continue
        outcome = outcome_of(mine.comparison) if mine else "not compared"
        href = ""
        if not b.category_type and not b.category:
            from urllib.parse import urlencode

            wanted = {"sex": b.sex, "age": b.age}
            if choice.comparison != "default":
                wanted["comparison"] = choice.comparison
            href = f"/indicators/{info.id}?" + urlencode(wanted)
        rows.append(
            BreakdownRow(
                label=b.label,
                sex=b.sex,
                age=b.age,
                category=b.category,
                period=latest.period,
                city_text=with_unit(
                    fmt(mine.point.value if mine else None, info.decimals), info.unit
                ),
                country_text=with_unit(
                    fmt(latest.benchmark.value if latest.benchmark else None, info.decimals),
                    info.unit,
                ),
                outcome=outcome,
                comparison_text=comparison_words(outcome, geo.country_name),
                comparison_tag=outcome_tag(outcome),
                href=href if chosen is None or b != chosen else "",
            )
        )
    return rows


_SEXES = {"persons": 0, "male": 1, "female": 2}


def _age_key(age: str) -> tuple[int, float, str]:
    """'All ages' first, then bands by their first number ('<1', '0-4', '5-9', '10-14',
    '65+'), never alphabetically ('10-14' before '5-9')."""
    import re

    if age.lower().startswith("all"):
        return (0, 0.0, age)
    number = re.search(r"\d+(\.\d+)?", age)
    lower = float(number.group(0)) if number else float("inf")
    return (1, lower - (0.5 if age.strip().startswith("<") else 0.0), age)


def natural_order(b: q.Breakdown) -> tuple[Any, ...]:
    """Series as people read them: no category first, then each kind of category; within
    it Persons, Male, Female; ages youngest first; deprivation groups from the most to
    the least deprived (not 'Fifth less…' before 'Fifth more…')."""
    from healthycity.outcomes.dashboard.sii import deprivation_rank

    category = b.category or ""
    rank: int | None = None
    if "depriv" in (b.category_type or "").lower() or "depriv" in category.lower():
        size = 5 if "quintile" in (b.category_type or "").lower() else 10
        rank = deprivation_rank(category, size)
    return (
        bool(b.category_type or b.category),
        b.category_type or "",
        _SEXES.get((b.sex or "").lower(), 3),
        _age_key(b.age or ""),
        rank if rank is not None else 99,
        category,
    )
