"""The aspiration and commitment pages: their words, their indicators and a heat map
of every area on them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from healthycity.core.errors import NotFound
from healthycity.core.web.twins import Table
from healthycity.outcomes import chart_specs as cs
from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.cache import PageCache, cached_page
from healthycity.outcomes.dashboard.choices import unusable_key
from healthycity.outcomes.dashboard.common import (
    Chart,
    Geography,
    IndicatorLine,
    StatusSummary,
    cached_geography,
    cached_summaries,
    indicator_line,
    linked_ids,
    summarise,
)
from healthycity.outcomes.dashboard.words import (
    base_outcome,
    comparison_words,
    data_kind,
    fmt,
    outcome_of,
)


@dataclass
class ThemeData:
    """An aspiration or a commitment: its words, its indicators and their heat map."""

    kind: str
    slug: str
    number: int | None
    title: str
    statements: list[str]
    context: list[tuple[str, str]]
    placeholder_note: str | None
    lines: list[IndicatorLine]
    status: StatusSummary
    heat_map: Chart | None
    table: Table
    city_name: str
    country_name: str
    illustrative: bool


@cached_page("aspiration")
def aspiration(session: Session, cache: PageCache, version: str, slug: str) -> ThemeData:
    row = None if unusable_key(slug) else q.aspiration(session, slug)
    if row is None:
        raise NotFound(f"There is no aspiration called {slug!r}.")
    statements = [a.statement for a in row.ambitions]
    return _theme(
        session,
        cache,
        version,
        kind=m.LINK_ASPIRATION,
        slug=slug,
        number=row.number,
        title=row.title,
        statements=statements,
        context=[("Aspiration", f"{row.number} of the city's aspirations")],
        placeholder=None,
    )


@cached_page("commitment")
def commitment(session: Session, cache: PageCache, version: str, slug: str) -> ThemeData:
    row = None if unusable_key(slug) else q.commitment(session, slug)
    if row is None:
        raise NotFound(f"There is no commitment called {slug!r}.")
    priority = q.vision_priority(session, row.priority_slug)
    stage = q.life_stage(session, priority.life_stage_slug) if priority is not None else None
    context = []
    if priority is not None:
        context.append(("Vision priority", f"{priority.number}. {priority.name}"))
    if stage is not None:
        context.append(("Life stage", stage.name))
    placeholder = (
        "The vision left this commitment's figure as “X%”: its target is not set yet, and "
        "progress to it cannot be judged until it is."
        if row.target_placeholder
        else None
    )
    title = f"{priority.name}: shared commitment" if priority is not None else "Shared commitment"
    return _theme(
        session,
        cache,
        version,
        kind=m.LINK_COMMITMENT,
        slug=slug,
        number=priority.number if priority else None,
        title=title,
        statements=[row.statement],
        context=context,
        placeholder=placeholder,
    )


def _theme(
    session: Session,
    cache: PageCache,
    version: str,
    *,
    kind: str,
    slug: str,
    number: int | None,
    title: str,
    statements: list[str],
    context: list[tuple[str, str]],
    placeholder: str | None,
) -> ThemeData:
    geo = cached_geography(session, cache, version)
    summaries = cached_summaries(session, cache, version)
    ids = linked_ids(session).get((kind, slug), [])
    link = (kind, slug)
    lines = [indicator_line(summaries[i], geo, link) for i in ids if i in summaries]
    status = summarise(ids, summaries, link)
    heat = heat_map(session, geo, [summaries[i] for i in ids if i in summaries])
    table = Table(
        columns=[
            "indicator_id",
            "indicator",
            "period",
            "city_value",
            "city_95_interval",
            "country_value",
            "compared_with_country",
            "recent_trend",
            "targets",
            "spread_across_areas",
            "areas_judged_as_published",
            "city_value_note",
            "recent_trend_method",
            "data",
        ],
        rows=[
            [
                line.id,
                line.name,
                line.period,
                line.value_text,
                line.interval_text,
                line.country_text,
                line.comparison_text,
                line.trend_text,
                "; ".join(f"{t.statement} ({t.status_text}: {t.method})" for t in line.targets),
                line.spread_text,
                line.borough_counts.get("as published", 0),
                line.value_note or line.missing_text,
                line.trend_method,
                data_kind(line.illustrative, line.has_data or bool(line.spread_text)),
            ]
            for line in lines
        ],
    )
    return ThemeData(
        kind=kind,
        slug=slug,
        number=number,
        title=title,
        statements=statements,
        context=context,
        placeholder_note=placeholder,
        lines=lines,
        status=status,
        heat_map=heat,
        table=table,
        city_name=geo.city_name,
        country_name=geo.country_name,
        illustrative=any(line.illustrative for line in lines),
    )


def heat_map(
    session: Session, geo: Geography, summaries: Sequence[q.IndicatorSummary]
) -> Chart | None:
    if not geo.boroughs or not summaries:
        return None
    codes = [b.code for b in geo.boroughs]
    short_names = q.short_names(session, [s.indicator.id for s in summaries])
    cells: list[cs.HeatCell] = []
    rows: list[list[Any]] = []
    columns: list[str] = []
    for summary in summaries:
        if summary.breakdown is None:
            continue
        latest = q.latest_values(
            session,
            summary.indicator.id,
            benchmark=geo.country_code,
            area_codes=codes,
            breakdown=summary.breakdown,
        )
        if latest is None or not latest.rows:
            continue
        name = short_names.get(summary.indicator.id) or summary.indicator.name
        label = f"{len(columns) + 1}. {name}"  # whole: the chart wraps it
        columns.append(label)
        by_code = {r.point.area_code: r for r in latest.rows}
        for borough in geo.boroughs:
            found = by_code.get(borough.code)
            outcome = base_outcome(outcome_of(found.comparison)) if found else "not compared"
            value = found.point.value if found else None
            cells.append(
                cs.HeatCell(borough.name, label, outcome, fmt(value, summary.indicator.decimals))
            )
            rows.append(
                [
                    borough.code,
                    borough.name,
                    summary.indicator.id,
                    summary.indicator.name,
                    latest.period,
                    value,
                    comparison_words(outcome, geo.country_name),
                ]
            )
    if not columns:
        return None
    worse: dict[str, int] = defaultdict(int)
    for cell in cells:
        if cell.outcome == "worse":
            worse[cell.area] += 1
    most = sorted(worse.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    finding = (
        "Areas worse than "
        + geo.country_name
        + " on the most indicators: "
        + ", ".join(f"{a} ({n})" for a, n in most)
        + "."
        if most
        else f"No area is worse than {geo.country_name} on these indicators."
    )
    description = (
        f"Heat map of {len(geo.boroughs)} areas by {len(columns)} indicators, each cell "
        f"coloured by comparison with {geo.country_name}. {finding}"
    )
    spec = cs.heat_map(cells, areas=[b.name for b in geo.boroughs], indicators=columns)
    return Chart(
        "heat-map",
        f"Every area on these indicators, compared with {geo.country_name}",
        spec,
        description,
        Table(
            [
                "area_code",
                "area",
                "indicator_id",
                "indicator",
                "period",
                "value",
                "compared_with_country",
            ],
            rows,
        ),
    )
