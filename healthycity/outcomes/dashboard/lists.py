"""The index pages: ``/indicators`` (every indicator of the pack once, with the city's
latest value, comparison, trend and targets; filtered and sorted by the form, no
JavaScript) and ``/areas`` (the city, its sub-regions and boroughs, each with how many
indicators are better, similar or worse than the country).

Why here and not in ``queries``: both are made from reads the pages already share (the
cached summaries and the area page's bulk spine), so they cost nothing new per data
version; what this module adds is the choosing, ordering and counting.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from healthycity.core.web.twins import Table
from healthycity.geography.models import REGION
from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q
from healthycity.outcomes.dashboard.cache import PageCache, cached, cached_page
from healthycity.outcomes.dashboard.choices import BadChoice, Option, options
from healthycity.outcomes.dashboard.common import (
    IndicatorLine,
    cached_geography,
    cached_summaries,
    indicator_line,
    linked_ids,
)
from healthycity.outcomes.dashboard.words import TYPE_WORDS, base_outcome

POLARITIES = (
    ("high_is_good", "Higher is better"),
    ("low_is_good", "Lower is better"),
    ("no_judgement", "No judgement (higher or lower)"),
)
SORTS = (
    ("pack", "The pack's order"),
    ("name", "Name, A to Z"),
    ("comparison", "Worse than England first"),
    ("trend", "Getting worse first"),
    ("target", "Off track first"),
)
_COMPARISON_ORDER = {"worse": 0, "similar": 1, "better": 2, "lower": 3, "higher": 3}
_TARGET_ORDER = {"off track": 0, "not enough data": 1, "on track": 2, "achieved": 3}


@dataclass(frozen=True)
class IndicatorFilter:
    """The reader's choices on ``/indicators``: each empty or one of the offered values."""

    aspiration: str = ""
    commitment: str = ""
    polarity: str = ""
    sort: str = "pack"

    @property
    def link(self) -> str:
        """The choices as a query string (empty values left out)."""
        parts = [
            f"{k}={v}"
            for k, v in (
                ("aspiration", self.aspiration),
                ("commitment", self.commitment),
                ("polarity", self.polarity),
                ("sort", "" if self.sort == "pack" else self.sort),
            )
            if v
        ]
        return "&".join(parts)


@dataclass
class IndicatorListPage:
    lines: list[IndicatorLine]
    links: dict[str, list[tuple[str, str, str]]]  # id → (kind, slug, title)
    polarity: dict[str, str]
    total: int
    choice: IndicatorFilter
    aspiration_options: list[Option]
    commitment_options: list[Option]
    polarity_options: list[Option]
    sort_options: list[Option]
    city_name: str
    country_name: str
    illustrative: bool
    table: Table


@cached("pack-ids")
def pack_indicator_ids(session: Session, cache: PageCache, version: str) -> list[str]:
    """The loaded pack's indicators, in the pack's order (each once): what the home page
    counts and ``/indicators`` lists. Indicators from files and the demo's population
    series are not the pack's."""
    pack = q.loaded_pack(session)
    summaries = cached_summaries(session, cache, version)
    rows = q.indicator_rows(session, list(summaries))
    ours = {r.id for r in rows if pack is not None and r.pack_id == pack.pack_id}
    return [i for i in summaries if i in ours]


def _check(value: str | None, allowed: list[str], name: str) -> str:
    if not value:
        return ""
    if value not in allowed:
        raise BadChoice(f"There is no {name} called {value!r}. Choose one from the list.")
    return value


def _aspiration_choices(session: Session) -> list[tuple[str, str]]:
    return [(a.slug, f"{a.number}. {a.title}") for a in q.aspirations(session)]


def _commitment_choices(session: Session) -> list[tuple[str, str]]:
    """Each shared commitment by its vision priority's name (as its page is titled)."""
    names = {p.slug: f"{p.number}. {p.name}" for p in q.vision_priorities(session)}
    return [
        (c.slug, names.get(c.priority_slug or "", c.slug.replace("-", " ").capitalize()))
        for c in q.commitments(session)
    ]


def indicator_list(
    session: Session,
    cache: PageCache,
    aspiration: str | None = None,
    commitment: str | None = None,
    polarity: str | None = None,
    sort: str | None = None,
) -> IndicatorListPage:
    """``/indicators`` with the reader's filters (a value not offered answers 400)."""
    aspirations = _aspiration_choices(session)
    commitments = _commitment_choices(session)
    choice = IndicatorFilter(
        _check(aspiration, [s for s, _ in aspirations], "aspiration"),
        _check(commitment, [s for s, _ in commitments], "commitment"),
        _check(polarity, [s for s, _ in POLARITIES], "polarity"),
        _check(sort, [s for s, _ in SORTS], "order") or "pack",
    )
    return _indicator_list(session, cache, q.data_version(session), choice)


@cached("indicator-list")
def _indicator_list(
    session: Session, cache: PageCache, version: str, choice: IndicatorFilter
) -> IndicatorListPage:
    geo = cached_geography(session, cache, version)
    summaries = cached_summaries(session, cache, version)
    ids = pack_indicator_ids(session, cache, version)
    titles = {(m.LINK_ASPIRATION, a.slug): a.title for a in q.aspirations(session)}
    titles.update({(m.LINK_COMMITMENT, slug): t for slug, t in _commitment_choices(session)})
    links: dict[str, list[tuple[str, str, str]]] = {i: [] for i in ids}
    for (kind, slug), linked in linked_ids(session).items():
        for indicator_id in linked:
            if indicator_id in links and (kind, slug) in titles:
                links[indicator_id].append((kind, slug, titles[(kind, slug)]))
    polarity = {i: summaries[i].indicator.polarity or "no_judgement" for i in ids}
    chosen = [
        i
        for i in ids
        if (not choice.aspiration or (m.LINK_ASPIRATION, choice.aspiration) in _keys(links[i]))
        and (not choice.commitment or (m.LINK_COMMITMENT, choice.commitment) in _keys(links[i]))
        and (not choice.polarity or polarity[i] == choice.polarity)
    ]
    lines = [indicator_line(summaries[i], geo, None) for i in chosen]
    lines = _sorted(lines, choice.sort)
    table = Table(
        [
            "indicator_id",
            "indicator",
            "polarity",
            "period",
            f"{geo.city_name.lower()}_value",
            "interval_95",
            f"{geo.country_name.lower()}_value",
            "comparison",
            "recent_trend",
            "targets",
            "aspirations_and_commitments",
            "link",
        ],
        [
            [
                line.id,
                line.name,
                polarity[line.id],
                line.period or "",
                line.value_text,
                line.interval_text,
                line.country_text,
                line.comparison_text,
                line.trend_text,
                "; ".join(f"{t.statement}: {t.status_text}" for t in line.targets),
                "; ".join(title for _, _, title in links[line.id]),
                f"/indicators/{line.id}",
            ]
            for line in lines
        ],
    )
    return IndicatorListPage(
        lines=lines,
        links=links,
        polarity=polarity,
        total=len(ids),
        choice=choice,
        aspiration_options=options(
            [("", "All aspirations"), *_aspiration_choices(session)], choice.aspiration
        ),
        commitment_options=options(
            [("", "All commitments"), *_commitment_choices(session)], choice.commitment
        ),
        polarity_options=options([("", "Any"), *POLARITIES], choice.polarity),
        sort_options=options(list(SORTS), choice.sort),
        city_name=geo.city_name,
        country_name=geo.country_name,
        illustrative=any(line.illustrative for line in lines),
        table=table,
    )


def _keys(links: list[tuple[str, str, str]]) -> set[tuple[str, str]]:
    return {(kind, slug) for kind, slug, _ in links}


def _sorted(lines: list[IndicatorLine], sort: str) -> list[IndicatorLine]:
    if sort == "name":
        return sorted(lines, key=lambda x: x.name.lower())
    if sort == "comparison":
        return sorted(lines, key=lambda x: _COMPARISON_ORDER.get(base_outcome(x.outcome), 4))
    if sort == "trend":
        return sorted(lines, key=lambda x: 0 if "worse" in x.trend_text else 1)
    if sort == "target":
        return sorted(
            lines, key=lambda x: min((_TARGET_ORDER.get(t.status, 4) for t in x.targets), default=5)
        )
    return lines


@dataclass
class AreaLine:
    code: str
    name: str
    type_words: str
    parent_name: str
    indicators: int
    better: int
    similar: int
    worse: int
    other: int


@dataclass
class AreaGroup:
    heading: str
    areas: list[AreaLine]


@dataclass
class AreaListPage:
    groups: list[AreaGroup]
    city_name: str
    country_name: str
    illustrative: bool
    table: Table


@cached_page("area-list")
def area_list(session: Session, cache: PageCache, version: str) -> AreaListPage:
    """``/areas``: the city, its sub-regions and its boroughs, each with how many of the
    pack's indicators are better, similar or worse than the country at the indicator's
    latest period. One read per indicator for all 39 areas at once (an area page per
    area would cost seconds each time the data change)."""
    geo = cached_geography(session, cache, version)
    wanted = [
        (geo.city_name, [geo.city] if geo.city else []),
        ("Sub-regions", geo.sub_regions),
        ("Boroughs", geo.boroughs),
    ]
    codes = [ref.code for _, refs in wanted for ref in refs]
    counts = {code: {"better": 0, "similar": 0, "worse": 0, "other": 0} for code in codes}
    for indicator_id in pack_indicator_ids(session, cache, version):
        latest = q.latest_values(
            session, indicator_id, benchmark=geo.country_code, area_codes=codes
        )
        for row in latest.rows if latest is not None else []:
            if row.point.area_code in counts and row.point.value is not None:
                key = base_outcome(row.comparison.outcome if row.comparison else "")
                counts[row.point.area_code][
                    key if key in ("better", "similar", "worse") else "other"
                ] += 1
    groups: list[AreaGroup] = []
    rows: list[list[object]] = []
    for heading, refs in wanted:
        lines = []
        for ref in refs:
            mine = counts[ref.code]
            parent = geo.areas.get(ref.parent_code or "")
            line = AreaLine(
                ref.code,
                ref.name,
                TYPE_WORDS.get(ref.area_type, ref.area_type),
                parent.name if parent is not None and ref.area_type != REGION else "",
                sum(mine.values()),
                mine["better"],
                mine["similar"],
                mine["worse"],
                mine["other"],
            )
            lines.append(line)
            rows.append(
                [
                    line.code,
                    line.name,
                    line.type_words,
                    line.parent_name,
                    line.indicators,
                    line.better,
                    line.similar,
                    line.worse,
                    line.other,
                    f"/areas/{line.code}",
                ]
            )
        if lines:
            groups.append(AreaGroup(heading, lines))
    table = Table(
        [
            "area_code",
            "area",
            "type",
            "part_of",
            "indicators_with_data",
            "better",
            "similar",
            "worse",
            "not_compared",
            "link",
        ],
        rows,
    )
    return AreaListPage(
        groups,
        geo.city_name,
        geo.country_name,
        q.data_status(session).illustrative,
        table,
    )


__all__ = [
    "AreaListPage",
    "IndicatorFilter",
    "IndicatorListPage",
    "area_list",
    "indicator_list",
    "pack_indicator_ids",
]
