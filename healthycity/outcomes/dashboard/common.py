"""What every page family shares: charts with their text and table, the city's
geography, and the indicator lines and status counts of the home and theme pages.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from healthycity.core.web.twins import Table
from healthycity.geography.models import COUNTRY, LOCAL_AUTHORITY, REGION, SUB_REGION
from healthycity.geography.service import DEFAULT_CITY, ENGLAND, city_code
from healthycity.outcomes import chart_specs as cs
from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.cache import PageCache, cached
from healthycity.outcomes.dashboard.words import (
    base_outcome,
    comparison_words,
    fmt,
    interval,
    is_published,
    outcome_of,
    outcome_tag,
    source_note,
    target_tag,
    target_words,
    tile_label,
    trend_method,
    trend_tag,
    trend_words,
    with_unit,
)


@dataclass
class Chart:
    """A chart with what makes it accessible: a text alternative and its data as a table.

    ``svg()`` renders on demand, so the ``.json``/``.csv`` twins never pay for SVG.
    """

    name: str
    title: str
    spec: dict[str, Any]
    description: str
    table: Table
    note: str = ""

    def svg(self) -> Markup:
        from healthycity.core.charts import render_svg

        return render_svg(cs.quiet(self.spec), self.description)

    def as_data(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "data": self.table.records(),
        }


@dataclass(frozen=True)
class AreaRef:
    code: str
    name: str
    area_type: str
    parent_code: str | None
    tile_col: int | None
    tile_row: int | None
    label: str


@dataclass
class Geography:
    """The city's areas as the pages need them, read once per data version."""

    country: AreaRef | None
    city: AreaRef | None
    sub_regions: list[AreaRef]
    boroughs: list[AreaRef]
    areas: dict[str, AreaRef]

    def sub_region_of(self, code: str) -> AreaRef | None:
        area = self.areas.get(code)
        while area is not None and area.parent_code:
            parent = self.areas.get(area.parent_code)
            if parent is not None and parent.area_type == SUB_REGION:
                return parent
            area = parent
        return None

    @property
    def city_name(self) -> str:
        return self.city.name if self.city else "the city"

    @property
    def country_name(self) -> str:
        return self.country.name if self.country else "England"

    @property
    def country_code(self) -> str:
        return self.country.code if self.country else ENGLAND

    @property
    def city_code(self) -> str:
        return self.city.code if self.city else DEFAULT_CITY


def load_geography(session: Session) -> Geography:
    rows = q.all_areas(session)
    taken: set[str] = set()
    areas: dict[str, AreaRef] = {}
    for area in sorted(rows, key=lambda a: (a.tile_row is None, a.name)):
        label = tile_label(area.name, taken) if area.tile_col is not None else area.name
        areas[area.code] = AreaRef(
            area.code,
            area.name,
            area.area_type,
            area.parent_code,
            area.tile_col,
            area.tile_row,
            area.short_code if area.short_code and area.tile_col is None else label,
        )
    country = areas.get(ENGLAND)
    city = areas.get(city_code(session))
    if city is None:
        regions = [a for a in areas.values() if a.area_type == REGION]
        with_subs = {a.parent_code for a in areas.values() if a.area_type == SUB_REGION}
        city = next((a for a in regions if a.code in with_subs), None)
    if country is None:
        country = next((a for a in areas.values() if a.area_type == COUNTRY), None)
    children: dict[str | None, list[AreaRef]] = defaultdict(list)
    for ref in areas.values():
        children[ref.parent_code].append(ref)
    below: list[AreaRef] = []
    stack = [city.code] if city else []
    while stack:
        for child in children.get(stack.pop(), []):
            below.append(child)
            stack.append(child.code)
    subs = sorted((a for a in below if a.area_type == SUB_REGION), key=lambda a: a.name)
    boroughs = sorted((a for a in below if a.area_type == LOCAL_AUTHORITY), key=lambda a: a.name)
    return Geography(country, city, subs, boroughs, areas)


@dataclass
class TargetLine:
    statement: str
    status: str
    status_text: str
    tag: str
    method: str


@dataclass
class IndicatorLine:
    """One indicator in a list: the city's latest value, judgement, trend, targets."""

    id: str
    name: str
    unit: str | None
    period: str | None
    value_text: str
    interval_text: str
    country_text: str
    outcome: str
    comparison_text: str
    comparison_tag: str
    trend_text: str
    trend_tag: str
    targets: list[TargetLine]
    spread_text: str
    borough_counts: dict[str, int]
    illustrative: bool
    has_data: bool
    # "computed from the boroughs (33 of 33)" when the city's figure is a roll-up.
    value_note: str = ""
    # Why the city has no figure (no row, and no counts to compute one from).
    missing_text: str = ""
    trend_method: str = ""


@dataclass
class StatusSummary:
    """How many indicators are better, similar or worse than the country, and on track."""

    indicators: int = 0
    with_data: int = 0
    better: int = 0
    similar: int = 0
    worse: int = 0
    other: int = 0
    achieved: int = 0
    on_track: int = 0
    off_track: int = 0
    not_set: int = 0
    not_enough_data: int = 0
    # Of the judged indicators, how many carry the publisher's judgement.
    as_published: int = 0
    # Indicators with no city figure but figures for its areas, and of those, how many
    # have their areas judged as published (the smoking file: boroughs only).
    areas_only: int = 0
    areas_as_published: int = 0

    def add_outcome(self, outcome: str) -> None:
        key = base_outcome(outcome)
        if key != "not compared" and is_published(outcome):
            self.as_published += 1
        if key == "better":
            self.better += 1
        elif key == "similar":
            self.similar += 1
        elif key == "worse":
            self.worse += 1
        else:
            self.other += 1

    def add_target(self, status: str) -> None:
        key = str(status).replace(" ", "_")
        if hasattr(self, key) and key not in ("indicators", "with_data"):
            setattr(self, key, getattr(self, key) + 1)

    def describe(self, country: str) -> str:
        """'3 indicators: 1 better, 2 worse than England; targets: 1 on track.'"""
        count = f"{self.indicators} indicator{'s' if self.indicators != 1 else ''}"
        if not self.indicators:
            return "No indicators linked yet."
        judged = [
            f"{n} {word}"
            for n, word in (
                (self.better, "better"),
                (self.similar, "similar"),
                (self.worse, "worse"),
            )
            if n
        ]
        if self.other:
            judged.append(f"{self.other} not compared")
        if self.as_published:
            judged.append(f"{self.as_published} of them as published")
        areas = ""
        if self.areas_only:
            areas = f"{self.areas_only} with figures for its areas only" + (
                f" ({self.areas_as_published} judged as published)"
                if self.areas_as_published
                else ""
            )
        if self.with_data:
            text = f"{count} compared with {country}: " + ", ".join(judged)
            text += f"; {areas}" if areas else ""
        elif areas:
            text = f"{count}, none with a figure for the city yet; {areas}"
        else:
            text = f"{count}, no data yet"
        return f"{text}. Targets: {self.target_sentence}."

    @property
    def target_sentence(self) -> str:
        parts = [
            f"{n} {word}"
            for n, word in (
                (self.achieved, "achieved"),
                (self.on_track, "on track"),
                (self.off_track, "off track"),
                (self.not_set, "not set"),
                (self.not_enough_data, "not enough data"),
            )
            if n
        ]
        return ", ".join(parts) if parts else "no targets"


def indicator_line(
    summary: q.IndicatorSummary,
    geo: Geography,
    link: tuple[str, str] | None,
) -> IndicatorLine:
    info = summary.indicator
    decimals = info.decimals
    city = summary.city
    country = summary.country
    outcome = outcome_of(summary.comparison)
    targets = [
        TargetLine(
            t.statement,
            str(t.status),
            target_words(t.status),
            target_tag(t.status),
            t.method,
        )
        for t in summary.targets
        if link is None or (t.link_kind, t.link_slug) == link
    ]
    spread = summary.boroughs
    spread_text = ""
    counts: dict[str, int] = {}
    if spread is not None and spread.count:
        spread_text = (
            f"{fmt(spread.minimum, decimals)} to {fmt(spread.maximum, decimals)} "
            f"across {spread.count} areas"
        )
        counts = {
            "better": spread.better,
            "similar": spread.similar,
            "worse": spread.worse,
            "not compared": spread.not_compared,
            "as published": spread.as_published,
        }
    return IndicatorLine(
        id=info.id,
        name=info.name,
        unit=info.unit,
        period=summary.period,
        value_text=with_unit(fmt(city.value if city else None, decimals), info.unit),
        interval_text=interval(
            city.lower_ci95 if city else None, city.upper_ci95 if city else None, decimals
        ),
        country_text=with_unit(fmt(country.value if country else None, decimals), info.unit),
        outcome=outcome,
        comparison_text=comparison_words(outcome, geo.country_name),
        comparison_tag=outcome_tag(outcome),
        trend_text=trend_words(summary.trend),
        trend_tag=trend_tag(summary.trend),
        targets=targets,
        spread_text=spread_text,
        borough_counts=counts,
        illustrative=summary.illustrative,
        has_data=city is not None,
        value_note=source_note(city),
        missing_text=summary.city_missing or "",
        trend_method=trend_method(summary.trend, summary.city_points, geo.city_name),
    )


@cached("summaries")
def cached_summaries(
    session: Session, cache: PageCache, version: str
) -> dict[str, q.IndicatorSummary]:
    """Every indicator's summary for the city, once per data version."""
    city = city_code(session)
    return {s.indicator.id: s for s in q.indicator_summaries(session, city=city)}


@cached("geography")
def cached_geography(session: Session, cache: PageCache, version: str) -> Geography:
    return load_geography(session)


def linked_ids(session: Session) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for kind, slug, indicator_id in q.indicator_links(session):
        found[(kind, slug)].append(indicator_id)
    return found


def summarise(
    ids: Iterable[str], summaries: dict[str, q.IndicatorSummary], link: tuple[str, str] | None
) -> StatusSummary:
    status = StatusSummary()
    for indicator_id in dict.fromkeys(ids):
        summary = summaries.get(indicator_id)
        if summary is None:
            continue
        status.indicators += 1
        if summary.city is not None:
            status.with_data += 1
            status.add_outcome(outcome_of(summary.comparison))
        elif summary.boroughs is not None and summary.boroughs.count:
            status.areas_only += 1
            status.areas_as_published += bool(summary.boroughs.as_published)
        for target in summary.targets:
            if link is None or (target.link_kind, target.link_slug) == link:
                status.add_target(str(target.status))
    return status
