"""Page data for the public outcomes dashboard: what each page shows, in words and numbers.

Why a module between the queries and the pages: a page is more than a query. It picks
the areas to show, the benchmark the reader chose, the chart to draw and, above all, the
*words* — "worse than England", "increasing and getting better", "off track" — that make
a comparison readable without colour. Keeping that here means the HTML page, its
``.json`` and ``.csv`` twins, each chart's data download and the static export all say
the same thing, and the templates only lay it out.

Everything is computed from ``healthycity.outcomes.queries`` (which applies the
statistics team's judgements) and cached per *data version*: a fingerprint of the loaded
pack, the data releases, the observations and the boundaries, read in one small query.
Any load changes the fingerprint, so a cached page is never stale, and a busy site
recomputes nothing between loads (the chart SVG is cached the same way by
``healthycity.core.charts``).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from markupsafe import Markup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthycity.core.models import LoadedPack
from healthycity.core.web.twins import Table
from healthycity.geography.models import COUNTRY, LOCAL_AUTHORITY, REGION, SUB_REGION, Area
from healthycity.outcomes import chart_specs as cs
from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q
from healthycity.outcomes.boundary_models import AreaBoundary

T = TypeVar("T")

BENCHMARK_CHOICES = ("england", "london", "sub-region")
_MAX_QUERY = 200


class NotFound(LookupError):
    """Nothing by that name: the page answers 404."""


class BadChoice(ValueError):
    """A query parameter names something the page cannot offer: the page answers 400."""


# ------------------------------------------------------------------------- words


def fmt(value: float | None, decimals: int | None = None) -> str:
    """A number as people read it: thousands separated, a sensible number of places."""
    if value is None or value != value:  # NaN
        return "no data"
    places = 1 if decimals is None else decimals
    if decimals is None and abs(value) >= 1000:
        places = 0
    return f"{value:,.{places}f}"


def with_unit(text: str, unit: str | None) -> str:
    if text == "no data" or not unit:
        return text
    if unit.strip() == "%":
        return f"{text}%"
    return f"{text} {unit.strip()}"


def interval(lower: float | None, upper: float | None, decimals: int | None) -> str:
    if lower is None or upper is None:
        return ""
    return f"{fmt(lower, decimals)} to {fmt(upper, decimals)}"


_OUTCOME_PHRASES = {
    "better": "better than",
    "similar": "similar to",
    "worse": "worse than",
    "higher": "higher than",
    "lower": "lower than",
}
_OUTCOME_TAGS = {
    "better": "nhsuk-tag--green",
    "similar": "nhsuk-tag--yellow",
    "worse": "nhsuk-tag--red",
    "higher": "nhsuk-tag--blue",
    "lower": "nhsuk-tag--purple",
    "not compared": "nhsuk-tag--grey",
}
_TARGET_TAGS = {
    "achieved": "nhsuk-tag--green",
    "on track": "nhsuk-tag--aqua-green",
    "off track": "nhsuk-tag--red",
    "not set": "nhsuk-tag--grey",
    "not enough data": "nhsuk-tag--white",
}


def _is_demo_note(note: str | None) -> bool:
    """The generator's own note: the banner already says it, once, for every figure."""
    from healthycity.outcomes.demo import NOTE

    return note == NOTE


def outcome_of(judgement: q.Judgement | None) -> str:
    return judgement.outcome if judgement is not None else "not compared"


def base_outcome(outcome: str) -> str:
    """'better (99.8%)' → 'better': the word the colours and counts go by."""
    return outcome.split(" (")[0].strip().lower() or "not compared"


def outcome_level(outcome: str) -> str:
    """'better (99.8%)' → '99.8%'; '' for a one-level or overlap judgement."""
    found = re.search(r"\(([\d.]+%)\)", outcome)
    return found.group(1) if found else ""


def chart_outcome(outcome: str) -> str:
    """The category a chart colours by: the outcome, with its level for two levels."""
    level = outcome_level(outcome)
    base = base_outcome(outcome)
    return f"{base} ({level})" if level and base != "similar" else base


def comparison_words(outcome: str, benchmark_name: str) -> str:
    """'Worse than England', 'Similar to London', 'Not compared'; with two levels,
    'Better than England at 99.8%' (significant at 99.8%, so at 95% too)."""
    phrase = _OUTCOME_PHRASES.get(base_outcome(outcome))
    if phrase is None:
        return "Not compared"
    level = outcome_level(outcome)
    suffix = f" at {level}" if level else ""
    return f"{phrase[:1].upper()}{phrase[1:]} {benchmark_name}{suffix}"


# With two levels, a difference significant only at 95% gets the lighter tag.
_OUTCOME_TAGS_95 = {"better": "nhsuk-tag--aqua-green", "worse": "nhsuk-tag--orange"}


def outcome_tag(outcome: str) -> str:
    base = base_outcome(outcome)
    if outcome_level(outcome) == "95%" and base in _OUTCOME_TAGS_95:
        return _OUTCOME_TAGS_95[base]
    return _OUTCOME_TAGS.get(base, "nhsuk-tag--grey")


# ------------------------------------------------------------------------- comparison method


def comparison_options(info: q.IndicatorInfo, *, overlap: bool = True) -> list[tuple[str, str]]:
    """The "Comparison method" choices for one indicator (``compare.Choice`` values);
    CI overlap only when the benchmark has an interval to overlap with."""
    from healthycity.outcomes.stats._levels import percent_text

    default = percent_text(info.comparison_level or 0.95)
    options = comparison_options_all()
    options[0] = ("default", f"The indicator's default: {default} confidence intervals")
    return [o for o in options if overlap or o[0] != "ci-overlap"]


def comparison_options_all() -> list[tuple[str, str]]:
    """Every choice (``compare.Choice`` values) in words, the default first."""
    return [
        ("default", "The indicator's default"),
        ("95", "95% confidence intervals"),
        ("99.8", "99.8% confidence intervals"),
        ("two-levels", "Two levels: 95% and 99.8% confidence intervals"),
        ("ci-overlap", "Whether the 95% confidence intervals overlap"),
    ]


def check_comparison(value: str | None) -> str:
    """A reader's comparison method, or 400 with the choices (never a silent fallback:
    a figure judged by a method the reader did not ask for would mislead)."""
    from healthycity.outcomes.compare import Choice
    from healthycity.outcomes.stats.errors import StatsInputError

    try:
        return Choice.parse(value).value
    except StatsInputError:
        raise BadChoice(
            "Choose a comparison method from the list: default, 95, 99.8, two-levels or ci-overlap."
        ) from None


def method_words(info: q.IndicatorInfo, comparison: str, benchmark_name: str) -> str:
    """'Compared with England using 99.8% confidence intervals' (``compare.Plan``)."""
    from healthycity.outcomes.compare import plan

    return plan(comparison, info.comparison_level).describe(benchmark_name)


def trend_words(trend: q.Trend | None) -> str:
    if trend is None:
        return "Cannot be calculated"
    text = str(trend.outcome)
    return text[:1].upper() + text[1:]


def trend_tag(trend: q.Trend | None) -> str:
    text = str(trend.outcome) if trend is not None else ""
    if "better" in text:
        return "nhsuk-tag--green"
    if "worse" in text:
        return "nhsuk-tag--red"
    if text in ("increasing", "decreasing"):
        return "nhsuk-tag--blue"
    if "no significant" in text:
        return "nhsuk-tag--grey"
    return "nhsuk-tag--white"


def target_words(status: str) -> str:
    text = str(status).replace("_", " ")
    return text[:1].upper() + text[1:]


def target_tag(status: str) -> str:
    return _TARGET_TAGS.get(str(status).replace("_", " "), "nhsuk-tag--grey")


def polarity_words(polarity: str | None) -> str:
    return {
        m.HIGH_IS_GOOD: "A higher value is better",
        m.LOW_IS_GOOD: "A lower value is better",
        m.NO_JUDGEMENT: "Neither higher nor lower is judged better",
    }.get(polarity or "", "Not stated (values are compared as higher or lower)")


_VALUE_TYPE_WORDS = {
    m.PROPORTION: "Proportion",
    m.CRUDE_RATE: "Crude rate",
    m.DSR: "Directly standardised rate",
    m.ISR: "Indirectly standardised ratio or rate",
    m.MEAN: "Mean",
    m.LIFE_EXPECTANCY: "Life expectancy",
    m.COUNT: "Count",
    m.GAP: "Gap",
    m.OTHER: "Other",
}
_SOURCE_WORDS = {
    m.SOURCE_PACK: "City pack catalogue",
    m.SOURCE_FINGERTIPS: "Loaded from Fingertips",
    m.SOURCE_CSV: "Loaded from a local file",
    m.SOURCE_DEMO: "Made up by the demonstration data (illustrative)",
}


def tile_label(name: str, taken: set[str]) -> str:
    """A three-letter label for a tile, unique on the map (the table names every area)."""
    letters = re.sub(r"[^A-Za-z]", "", name).upper()
    words = [w for w in re.split(r"[^A-Za-z]+", name) if w and w.lower() not in ("and", "of")]
    consonants = letters[:1] + re.sub(r"[AEIOU]", "", letters[1:])
    candidates = [
        letters[:3],
        consonants[:3],
        "".join(w[0] for w in words)[:3].upper(),
        (letters[:1] + letters[2:4]),
        (letters[:2] + letters[-1:]),
    ]
    for candidate in candidates:
        if len(candidate) == 3 and candidate not in taken:
            taken.add(candidate)
            return candidate
    for i in range(1, 100):
        candidate = f"{letters[:2]}{i}"
        if candidate not in taken:
            taken.add(candidate)
            return candidate
    return letters[:3]


# ------------------------------------------------------------------ version and cache


def data_version(session: Session) -> str:
    """A fingerprint of everything the pages show, read in one cheap query.

    Every data load writes a ``DataRelease`` (and new observation ids), clearing demo
    data deletes releases, a pack load changes its digest and a boundary load its rows.
    """
    row = session.execute(
        select(
            select(func.count()).select_from(m.DataRelease).scalar_subquery(),
            select(func.max(m.DataRelease.id)).scalar_subquery(),
            select(func.max(m.Observation.id)).scalar_subquery(),
            select(func.count()).select_from(m.Indicator).scalar_subquery(),
            select(func.max(LoadedPack.digest)).scalar_subquery(),
            select(func.max(LoadedPack.loaded_at)).scalar_subquery(),
            select(func.count()).select_from(AreaBoundary).scalar_subquery(),
            select(func.max(AreaBoundary.loaded_at)).scalar_subquery(),
            select(func.count()).select_from(Area).scalar_subquery(),
        )
    ).one()
    return "|".join("" if v is None else str(v) for v in row)


class PageCache:
    """A small LRU of built page data, keyed by data version and the page's parameters.

    One per app (so two databases in one process never share entries). Building runs
    outside the lock: two requests for the same cold page may both build it, which is
    cheaper than making every other page wait.
    """

    def __init__(self, size: int = 1024) -> None:
        self._entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...], build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                found: T = self._entries[key]
                return found
        value = build()
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


# ------------------------------------------------------------------------- charts


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


# ------------------------------------------------------------------------- geography


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


def load_geography(session: Session) -> Geography:
    rows = session.scalars(select(Area)).all()
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
    country = areas.get(q.ENGLAND)
    city = areas.get(q.LONDON)
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


# ------------------------------------------------------------------------- summaries


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

    def add_outcome(self, outcome: str) -> None:
        key = base_outcome(outcome)
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
        if self.with_data:
            text = f"{count} compared with {country}: " + ", ".join(judged)
        else:
            text = f"{count}, no data yet"
        return f"{text}. Targets: {self.target_sentence}."

    @property
    def comparison_sentence(self) -> str:
        if not self.with_data:
            return "No data loaded yet."
        parts = [
            f"{n} {word}"
            for n, word in (
                (self.better, "better"),
                (self.similar, "similar"),
                (self.worse, "worse"),
            )
            if n
        ]
        text = ", ".join(parts) if parts else "none compared"
        rest = f"; {self.other} not compared" if self.other else ""
        return f"{text}{rest}"

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


def _line(
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
    )


def _summaries(session: Session, cache: PageCache, version: str) -> dict[str, q.IndicatorSummary]:
    def build() -> dict[str, q.IndicatorSummary]:
        return {s.indicator.id: s for s in q.indicator_summaries(session)}

    return cache.get((version, "summaries"), build)


def _geography(session: Session, cache: PageCache, version: str) -> Geography:
    return cache.get((version, "geography"), lambda: load_geography(session))


def _links(session: Session) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    rows = session.execute(
        select(m.IndicatorLink.kind, m.IndicatorLink.slug, m.IndicatorLink.indicator_id).order_by(
            m.IndicatorLink.id
        )
    ).all()
    for kind, slug, indicator_id in rows:
        found[(kind, slug)].append(indicator_id)
    return found


def _summarise(
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
        for target in summary.targets:
            if link is None or (target.link_kind, target.link_slug) == link:
                status.add_target(str(target.status))
    return status


# ------------------------------------------------------------------------- home


@dataclass
class Card:
    href: str
    number: int
    title: str
    status: StatusSummary


@dataclass
class StageGroup:
    name: str
    summary: str | None
    cards: list[Card]


@dataclass
class HomeData:
    pack_name: str | None
    goal: str | None
    city_name: str
    country_name: str
    aspirations: list[Card]
    stages: list[StageGroup]
    last_updated: datetime | None
    illustrative: bool
    indicators: int
    areas: int
    table: Table


def _goal(session: Session) -> tuple[str | None, str | None]:
    """The loaded pack's name and goal (the goal is read from a built-in pack's file)."""
    pack = session.scalars(select(LoadedPack)).first()
    if pack is None:
        return None, None
    goal = None
    try:
        import yaml

        from healthycity.packs.reader import PACKS_DIR

        path = PACKS_DIR / pack.pack_id / "pack.yaml"
        if path.is_file():
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            goal = document.get("goal") if isinstance(document, dict) else None
    except (OSError, ValueError, ImportError):  # the goal is a nicety, never an error
        goal = None
    return pack.name, str(goal) if goal else None


def home(session: Session, cache: PageCache) -> HomeData:
    version = data_version(session)
    return cache.get((version, "home"), lambda: _home(session, cache, version))


def _home(session: Session, cache: PageCache, version: str) -> HomeData:
    geo = _geography(session, cache, version)
    summaries = _summaries(session, cache, version)
    links = _links(session)
    name, goal = _goal(session)
    cards = []
    for aspiration in session.scalars(select(m.Aspiration).order_by(m.Aspiration.number)):
        link = (m.LINK_ASPIRATION, aspiration.slug)
        cards.append(
            Card(
                f"/aspirations/{aspiration.slug}",
                aspiration.number,
                aspiration.title,
                _summarise(links.get(link, []), summaries, link),
            )
        )
    commitments_by_priority: dict[str | None, list[m.Commitment]] = defaultdict(list)
    for commitment in session.scalars(select(m.Commitment).order_by(m.Commitment.sort_order)):
        commitments_by_priority[commitment.priority_slug].append(commitment)
    stages: list[StageGroup] = []
    stage_rows = session.scalars(select(m.LifeStage).order_by(m.LifeStage.sort_order)).all()
    priorities = session.scalars(select(m.VisionPriority).order_by(m.VisionPriority.number)).all()
    staged = {stage.slug for stage in stage_rows}
    for stage in [*stage_rows, None]:
        group = []
        for priority in priorities:
            if stage is not None and priority.life_stage_slug != stage.slug:
                continue
            if stage is None and priority.life_stage_slug in staged:
                continue
            commitments = commitments_by_priority.get(priority.slug, [])
            ids: list[str] = []
            for commitment in commitments:
                link = (m.LINK_COMMITMENT, commitment.slug)
                ids.extend(links.get(link, []))
            status = _summarise(ids, summaries, None)
            # Targets count once per commitment link, not once per indicator.
            status.achieved = status.on_track = status.off_track = 0
            status.not_set = status.not_enough_data = 0
            for commitment in commitments:
                link = (m.LINK_COMMITMENT, commitment.slug)
                for indicator_id in links.get(link, []):
                    summary = summaries.get(indicator_id)
                    for target in summary.targets if summary else []:
                        if (target.link_kind, target.link_slug) == link:
                            status.add_target(str(target.status))
            href = f"/commitments/{commitments[0].slug}" if commitments else "/"
            group.append(Card(href, priority.number, priority.name, status))
        if group:
            stages.append(
                StageGroup(
                    stage.name if stage else "Other priorities",
                    stage.summary if stage else None,
                    group,
                )
            )
    data = q.data_status(session)
    rows: list[list[Any]] = []
    for card in cards:
        rows.append(_card_row("aspiration", card))
    for stage_group in stages:
        for card in stage_group.cards:
            rows.append(_card_row(f"vision priority ({stage_group.name})", card))
    table = Table(
        columns=[
            "kind",
            "number",
            "title",
            "link",
            "indicators",
            "with_data",
            "better",
            "similar",
            "worse",
            "not_compared",
            "achieved",
            "on_track",
            "off_track",
            "not_set",
            "not_enough_data",
        ],
        rows=rows,
    )
    return HomeData(
        pack_name=name,
        goal=goal,
        city_name=geo.city_name,
        country_name=geo.country_name,
        aspirations=cards,
        stages=stages,
        last_updated=data.last_updated,
        illustrative=data.illustrative,
        indicators=len(summaries),
        areas=len(geo.boroughs),
        table=table,
    )


def _card_row(kind: str, card: Card) -> list[Any]:
    s = card.status
    return [
        kind,
        card.number,
        card.title,
        card.href,
        s.indicators,
        s.with_data,
        s.better,
        s.similar,
        s.worse,
        s.other,
        s.achieved,
        s.on_track,
        s.off_track,
        s.not_set,
        s.not_enough_data,
    ]


# -------------------------------------------------------- aspirations and commitments


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


def aspiration(session: Session, cache: PageCache, slug: str) -> ThemeData:
    version = data_version(session)
    return cache.get(
        (version, "aspiration", slug), lambda: _aspiration(session, cache, version, slug)
    )


def _aspiration(session: Session, cache: PageCache, version: str, slug: str) -> ThemeData:
    row = None if unusable_key(slug) else session.get(m.Aspiration, slug)
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


def commitment(session: Session, cache: PageCache, slug: str) -> ThemeData:
    version = data_version(session)
    return cache.get(
        (version, "commitment", slug), lambda: _commitment(session, cache, version, slug)
    )


def _commitment(session: Session, cache: PageCache, version: str, slug: str) -> ThemeData:
    row = None if unusable_key(slug) else session.get(m.Commitment, slug)
    if row is None:
        raise NotFound(f"There is no commitment called {slug!r}.")
    priority = session.get(m.VisionPriority, row.priority_slug) if row.priority_slug else None
    stage = (
        session.get(m.LifeStage, priority.life_stage_slug)
        if priority is not None and priority.life_stage_slug
        else None
    )
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
    geo = _geography(session, cache, version)
    summaries = _summaries(session, cache, version)
    ids = _links(session).get((kind, slug), [])
    link = (kind, slug)
    lines = [_line(summaries[i], geo, link) for i in ids if i in summaries]
    status = _summarise(ids, summaries, link)
    heat = _heat_map(session, geo, [summaries[i] for i in ids if i in summaries])
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
                "; ".join(f"{t.statement} ({t.status_text})" for t in line.targets),
                line.spread_text,
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


def _short(name: str, limit: int = 38) -> str:
    return name if len(name) <= limit else name[: limit - 1].rstrip() + "…"


def _heat_map(
    session: Session, geo: Geography, summaries: Sequence[q.IndicatorSummary]
) -> Chart | None:
    if not geo.boroughs or not summaries:
        return None
    codes = [b.code for b in geo.boroughs]
    short_names = dict(
        session.execute(
            select(m.Indicator.id, m.Indicator.short_name).where(
                m.Indicator.id.in_([s.indicator.id for s in summaries])
            )
        ).all()
    )
    cells: list[cs.HeatCell] = []
    rows: list[list[Any]] = []
    columns: list[str] = []
    for summary in summaries:
        if summary.breakdown is None:
            continue
        latest = q.latest_values(
            session,
            summary.indicator.id,
            benchmark=geo.country.code if geo.country else q.ENGLAND,
            area_codes=codes,
            breakdown=summary.breakdown,
        )
        if latest is None or not latest.rows:
            continue
        short = short_names.get(summary.indicator.id) or summary.indicator.name
        label = f"{len(columns) + 1}. {_short(short)}"
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


# ------------------------------------------------------------------------- indicator


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


@dataclass
class Option:
    value: str
    text: str
    selected: bool


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


@dataclass
class IndicatorPage:
    id: str
    name: str
    unit: str | None
    metadata: list[tuple[str, str]]
    links: list[tuple[str, str]]
    benchmark: str
    benchmark_name: str
    benchmark_options: list[Option]
    comparison: str
    comparison_options: list[Option]
    method_text: str
    breakdown: q.Breakdown | None
    breakdown_options: list[Option]
    period: str | None
    period_options: list[Option]
    area: str | None
    area_options: list[Option]
    headline: str
    rows: list[AreaRow]
    charts: list[Chart]
    map_note: str
    trend_text: str
    trend_tag: str
    targets: list[TargetLine]
    breakdown_rows: list[BreakdownRow]
    illustrative: bool
    has_data: bool
    city_name: str
    country_name: str
    query: str
    table: Table

    def chart(self, name: str) -> Chart | None:
        return next((c for c in self.charts if c.name == name), None)


def _options(values: Sequence[tuple[str, str]], chosen: str | None) -> list[Option]:
    return [Option(v, t, v == chosen) for v, t in values]


def benchmark_options(geo: Geography) -> list[tuple[str, str]]:
    options = [("england", geo.country_name)]
    if geo.city is not None:
        options.append(("london", geo.city.name))
    if geo.sub_regions:
        options.append(("sub-region", "Each area's sub-region"))
    return options


def check_benchmark(geo: Geography, benchmark: str) -> str:
    allowed = [v for v, _ in benchmark_options(geo)]
    if benchmark not in allowed:
        raise BadChoice(
            "Choose a benchmark from the list: " + ", ".join(t for _, t in benchmark_options(geo))
        )
    return benchmark


def _benchmark_for(geo: Geography, benchmark: str, code: str) -> str | None:
    """The area code each area is compared with, for the reader's choice."""
    country = geo.country.code if geo.country else q.ENGLAND
    city = geo.city.code if geo.city else q.LONDON
    if benchmark == "england":
        return country
    if benchmark == "london":
        return city
    sub = geo.sub_region_of(code)
    if sub is not None:
        return sub.code
    area = geo.areas.get(code)
    if area is not None and area.area_type == SUB_REGION:
        return city
    return None


def _benchmark_label(geo: Geography, benchmark: str) -> str:
    if benchmark == "london":
        return geo.city_name
    if benchmark == "sub-region":
        return "its sub-region"
    return geo.country_name


def unusable_key(key: str) -> bool:
    """A key no row can have (control characters, absurd length): answer 404 at once
    rather than hand PostgreSQL a NUL byte it refuses."""
    return len(key) > _MAX_QUERY or any(ord(c) < 32 for c in key)


def check_text(value: str | None, name: str, limit: int = _MAX_QUERY) -> str | None:
    if value is None:
        return None
    if len(value) > limit or any(ord(c) < 32 for c in value):
        raise BadChoice(f"The {name} given is not valid.")
    return value


def indicator_page(
    session: Session,
    cache: PageCache,
    indicator_id: str,
    *,
    benchmark: str = "england",
    area: str | None = None,
    sex: str | None = None,
    age: str | None = None,
    period: str | None = None,
    comparison: str | None = None,
) -> IndicatorPage:
    for name, value in (("area", area), ("sex", sex), ("age", age), ("period", period)):
        check_text(value, name)
    method = check_comparison(comparison)
    version = data_version(session)
    key = (version, "indicator", indicator_id, benchmark, area or "", sex, age, period, method)
    return cache.get(
        key,
        lambda: _indicator_page(
            session,
            cache,
            version,
            indicator_id,
            benchmark=benchmark,
            area=area or None,
            sex=sex or None,
            age=age or None,
            period=period or None,
            comparison=method,
        ),
    )


def _metadata(row: m.Indicator) -> list[tuple[str, str]]:
    items: list[tuple[str, Any]] = [
        ("Indicator ID", row.id),
        ("Definition", row.definition),
        ("Rationale", row.rationale),
        ("Methodology", row.methodology),
        ("Unit", row.unit),
        ("Value type", _VALUE_TYPE_WORDS.get(row.value_type, row.value_type)),
        ("Multiplier", fmt(row.multiplier, 0) if row.multiplier else None),
        ("Polarity", polarity_words(row.polarity)),
        ("Numerator", row.numerator_definition),
        ("Numerator source", row.numerator_source),
        ("Denominator", row.denominator_definition),
        ("Denominator source", row.denominator_source),
        ("Standard population", row.standard_population),
        ("Confidence intervals", row.confidence_interval_method),
        ("Disclosure control", row.disclosure_control),
        ("Caveats", row.caveats),
        ("Data source", row.data_source),
        ("Frequency", row.frequency),
        ("Age", row.age),
        ("Sexes", ", ".join(row.sexes) if row.sexes else None),
        ("Published for", ", ".join(a.replace("_", " ") for a in row.area_levels or []) or None),
        ("Fingertips indicator ID", row.fingertips_id),
        ("Where the definition comes from", _SOURCE_WORDS.get(row.source, row.source)),
        ("Last updated (as published)", row.last_updated),
        (
            "Data loaded here",
            row.data_loaded_at.strftime("%-d %B %Y") if row.data_loaded_at else None,
        ),
    ]
    for key, value in sorted((row.extra or {}).items()):
        if isinstance(value, str | int | float) and str(value).strip():
            items.append((str(key), value))
    return [(label, str(value)) for label, value in items if value not in (None, "")]


def _indicator_page(
    session: Session,
    cache: PageCache,
    version: str,
    indicator_id: str,
    *,
    benchmark: str,
    area: str | None,
    sex: str | None,
    age: str | None,
    period: str | None,
    comparison: str = "default",
) -> IndicatorPage:
    row = None if unusable_key(indicator_id) else session.get(m.Indicator, indicator_id)
    if row is None:
        raise NotFound(f"There is no indicator with the ID {indicator_id!r}.")
    geo = _geography(session, cache, version)
    check_benchmark(geo, benchmark)
    info = q.indicator_info(row)
    decimals = info.decimals
    country = geo.country.code if geo.country else q.ENGLAND
    city = geo.city.code if geo.city else q.LONDON
    if area is not None and area not in geo.areas:
        raise NotFound(f"There is no area with the code {area!r}.")

    # Which series: the headline, unless the reader chose a sex or age.
    found = q.breakdowns(session, indicator_id)
    headline = q.headline_breakdown(session, indicator_id)
    chosen = headline
    if sex is not None or age is not None:
        wanted = [
            b
            for b in found
            if (sex is None or b.sex == sex)
            and (age is None or b.age == age)
            and not b.category_type
            and not b.category
        ]
        if not wanted:
            raise BadChoice("There are no data for that sex and age: choose from the list.")
        if headline is not None:
            wanted.sort(key=lambda b: (b.sex != headline.sex, b.age != headline.age))
        chosen = wanted[0]
    plain = [b for b in found if not b.category_type and not b.category]
    breakdown_options = _options(
        [(f"{b.sex}|{b.age}", f"{b.sex}, {b.age}") for b in plain],
        f"{chosen.sex}|{chosen.age}" if chosen else None,
    )

    known = q.periods(session, indicator_id, chosen) if chosen else []
    if period is not None and period not in {p for p, _ in known}:
        raise BadChoice("There are no data for that time period: choose from the list.")
    latest = (
        q.latest_values(
            session,
            indicator_id,
            benchmark=country,
            breakdown=chosen,
            period=period,
            comparison=comparison,
        )
        if chosen
        else None
    )
    points = {r.point.area_code: r for r in latest.rows} if latest else {}
    if latest and latest.benchmark is not None:
        points.setdefault(latest.benchmark.area_code, q.AreaValue(latest.benchmark, None))
    shown_period = latest.period if latest else None

    # The areas on the map and the bars: the city's boroughs with data, or else the
    # commonest local area type in the file (an indicator from anywhere gets a page).
    shown = [b for b in geo.boroughs if b.code in points]
    if not shown:
        kinds: dict[str, int] = defaultdict(int)
        for code in points:
            ref = geo.areas.get(code)
            if ref is not None and ref.area_type not in (COUNTRY, REGION):
                kinds[ref.area_type] += 1
        if kinds:
            commonest = max(sorted(kinds), key=lambda k: kinds[k])
            shown = sorted(
                (geo.areas[c] for c in points if geo.areas[c].area_type == commonest),
                key=lambda a: a.name,
            )

    offered = benchmark_options(geo)
    if not any(s.code in points for s in geo.sub_regions):
        offered = [o for o in offered if o[0] != "sub-region"]
        if benchmark == "sub-region":
            raise BadChoice(
                "This indicator has no figures for the sub-regions, so areas cannot be "
                "compared with them: choose England or the city."
            )
    benchmark_name = _benchmark_label(geo, benchmark)

    # CI overlap needs the benchmark's own interval: offered only when the benchmark
    # each shown area is compared with has one.
    bench_codes = {_benchmark_for(geo, benchmark, a.code) for a in shown}
    references = [points[t].point for t in bench_codes if t is not None and t in points]
    overlap = any(r.lower_ci95 is not None and r.upper_ci95 is not None for r in references)
    if comparison == "ci-overlap" and not overlap and points:
        raise BadChoice(
            f"{benchmark_name} has no confidence interval for this indicator, so intervals "
            "cannot be compared for overlap: choose another comparison method."
        )
    method_text = method_words(info, comparison, benchmark_name)

    def judged(code: str) -> tuple[str, str]:
        """(outcome, benchmark name) for one area under the reader's benchmark."""
        here = points.get(code)
        target = _benchmark_for(geo, benchmark, code)
        if here is None or target is None or target == code:
            return "not compared", benchmark_name
        name = geo.areas[target].name if target in geo.areas else target
        if target == country and benchmark == "england":
            return outcome_of(here.comparison), name
        reference = points.get(target)
        if reference is None:
            return "not compared", name
        return outcome_of(q.compare_point(info, here.point, reference.point, comparison)), name

    def area_row(code: str, emphasis: bool = False) -> AreaRow | None:
        here = points.get(code)
        ref = geo.areas.get(code)
        if here is None or ref is None:
            return None
        p = here.point
        outcome, against = judged(code)
        return AreaRow(
            code=code,
            name=ref.name,
            area_type=ref.area_type,
            period=p.period,
            value=p.value,
            value_text=fmt(p.value, decimals),
            lower=p.lower_ci95,
            upper=p.upper_ci95,
            interval_text=interval(p.lower_ci95, p.upper_ci95, decimals),
            count_text=fmt(p.count, 0) if p.count is not None else "",
            denominator_text=fmt(p.denominator, 0) if p.denominator is not None else "",
            outcome=outcome,
            comparison_text=comparison_words(outcome, against),
            comparison_tag=outcome_tag(outcome),
            benchmark_name=against,
            note="" if _is_demo_note(p.value_note) else (p.value_note or ""),
            emphasis=emphasis,
        )

    summary_codes = [country, city, *[s.code for s in geo.sub_regions]]
    rows = [r for r in (area_row(c, True) for c in summary_codes) if r is not None]
    rows += [r for r in (area_row(a.code) for a in shown) if r is not None]

    charts: list[Chart] = []
    map_note = ""
    if shown and latest is not None:
        chart, map_note = _map_chart(
            session, geo, info, shown, area_row, benchmark_name, method_text
        )
        if chart is not None:
            charts.append(chart)
        bars = _compare_chart(
            geo, info, shown, points, area_row, benchmark, benchmark_name, method_text
        )
        if bars is not None:
            charts.append(bars)

    # Trend: the city, the country and the chosen area.
    series_codes = [c for c in (city, country, area) if c is not None]
    series_codes = list(dict.fromkeys(series_codes))
    series = q.time_series(session, indicator_id, series_codes, breakdown=chosen) if chosen else {}
    trend_chart = _trend_chart(geo, info, series)
    if trend_chart is not None:
        charts.append(trend_chart)
    city_series = series.get(city, [])
    city_trend = q.trend_of(info, city_series) if city_series else None
    targets = [
        TargetLine(
            t.statement, str(t.status), target_words(t.status), target_tag(t.status), t.method
        )
        for t in q.target_progress(info, list(row.targets), city_series)
    ]

    breakdown_rows = _breakdown_rows(session, geo, info, found, chosen, country, city, comparison)

    city_row = next((r for r in rows if r.code == city), None)
    if city_row is not None and shown_period:
        headline_text = (
            f"{geo.city_name}: {with_unit(city_row.value_text, info.unit)} in {shown_period}"
            + (f" (95% interval {city_row.interval_text})" if city_row.interval_text else "")
            + f". {city_row.comparison_text}."
        )
    elif shown_period:
        headline_text = f"Latest data: {shown_period}."
    else:
        headline_text = "No data have been loaded for this indicator yet."

    links: list[tuple[str, str]] = []
    for link in row.links:
        if link.kind == m.LINK_ASPIRATION:
            asp = session.get(m.Aspiration, link.slug)
            if asp is not None:
                links.append((f"/aspirations/{asp.slug}", f"Aspiration {asp.number}: {asp.title}"))
        elif link.kind == m.LINK_COMMITMENT:
            com = session.get(m.Commitment, link.slug)
            if com is not None:
                pri = (
                    session.get(m.VisionPriority, com.priority_slug) if com.priority_slug else None
                )
                text = f"Commitment: {pri.name}" if pri is not None else "Shared commitment"
                links.append((f"/commitments/{com.slug}", text))

    area_choices = [("", "No area")] + [(a.code, a.name) for a in shown]
    if area is not None and area not in {c for c, _ in area_choices}:
        area_choices.append((area, geo.areas[area].name))
    query_parts = []
    if benchmark != "england":
        query_parts.append(f"benchmark={benchmark}")
    if comparison != "default":
        query_parts.append(f"comparison={comparison}")
    table = Table(
        columns=[
            "area_code",
            "area",
            "area_type",
            "period",
            "value",
            "lower_95",
            "upper_95",
            "compared_with",
            "comparison",
            "comparison_method",
            "value_note",
        ],
        rows=[
            [
                r.code,
                r.name,
                r.area_type,
                r.period,
                r.value,
                r.lower,
                r.upper,
                r.benchmark_name,
                r.comparison_text,
                method_words(info, comparison, r.benchmark_name),
                r.note,
            ]
            for r in rows
        ],
    )
    return IndicatorPage(
        id=info.id,
        name=info.name,
        unit=info.unit,
        metadata=_metadata(row),
        links=links,
        benchmark=benchmark,
        benchmark_name=benchmark_name,
        benchmark_options=_options(offered, benchmark),
        comparison=comparison,
        comparison_options=_options(comparison_options(info, overlap=overlap), comparison),
        method_text=method_text,
        breakdown=chosen,
        breakdown_options=breakdown_options,
        period=shown_period,
        period_options=_options([(p, p) for p, _ in reversed(known)], shown_period),
        area=area,
        area_options=_options(area_choices, area or ""),
        headline=headline_text,
        rows=rows,
        charts=charts,
        map_note=map_note,
        trend_text=trend_words(city_trend),
        trend_tag=trend_tag(city_trend),
        targets=targets,
        breakdown_rows=breakdown_rows,
        illustrative=bool(latest and latest.illustrative),
        has_data=bool(points),
        city_name=geo.city_name,
        country_name=geo.country_name,
        query="&".join(query_parts),
        table=table,
    )


def _map_chart(
    session: Session,
    geo: Geography,
    info: q.IndicatorInfo,
    shown: Sequence[AreaRef],
    area_row: Callable[[str], AreaRow | None],
    benchmark_name: str,
    method_text: str,
) -> tuple[Chart | None, str]:
    from healthycity.outcomes.boundaries import boundaries_for

    rows = [r for r in (area_row(a.code) for a in shown) if r is not None]
    if not rows:
        return None, ""
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        counts[chart_outcome(r.outcome)] += 1
    tally = ", ".join(f"{n} {o}" for o, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    legend = cs.legend_title(method_text, [chart_outcome(r.outcome) for r in rows])
    table = Table(
        ["area_code", "area", "period", "value", "comparison", "comparison_method"],
        [[r.code, r.name, r.period, r.value, r.comparison_text, method_text] for r in rows],
    )
    shapes = boundaries_for(session, [r.code for r in rows])
    period = rows[0].period
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
        return Chart("map", "Map", spec, description, table), "Boundaries loaded from a file."
    tiled = [r for r in rows if geo.areas[r.code].tile_col is not None]
    if not tiled:
        return None, (
            "No map: these areas have no tile positions in the city pack and no boundaries "
            "have been loaded for them (healthycity load boundaries FILE)."
        )
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
        f"Tile map of {len(tiles)} areas for {info.name}, {period}: one square per area, "
        f"placed roughly where it lies and coloured by comparison with {benchmark_name}: "
        f"{tally}. {method_text}."
    )
    note = "Each square is one area, placed roughly where it lies; the table names them all."
    return Chart("map", "Map", spec, description, table), note


def _compare_chart(
    geo: Geography,
    info: q.IndicatorInfo,
    shown: Sequence[AreaRef],
    points: dict[str, q.AreaValue],
    area_row: Callable[..., AreaRow | None],
    benchmark: str,
    benchmark_name: str,
    method_text: str,
) -> Chart | None:
    codes = [a.code for a in shown]
    city = geo.city.code if geo.city else None
    if city is not None and benchmark != "london" and city in points:
        codes.append(city)
    rows = [r for r in (area_row(c) for c in codes) if r is not None and r.value is not None]
    if not rows:
        return None
    bars = []
    for r in rows:
        target = _benchmark_for(geo, benchmark, r.code)
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
            [r.code, r.name, r.period, r.value, r.lower, r.upper, r.comparison_text, method_text]
            for r in ordered
        ],
    )
    return Chart("compare", "Compare areas", spec, description, table)


def _trend_chart(
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


def _breakdown_rows(
    session: Session,
    geo: Geography,
    info: q.IndicatorInfo,
    found: Sequence[q.Breakdown],
    chosen: q.Breakdown | None,
    country: str,
    city: str,
    comparison: str = "default",
) -> list[BreakdownRow]:
    """The city's latest value for each sex, age and category the data have (up to 60
    series, those without a category first: two sexes by ten deprivation deciles of two
    kinds, as the demo data have, still fit). A category only the country is published
    by (England's county deciles, say) is left out: the city has no value to show."""
    if len(found) <= 1:
        return []
    rows: list[BreakdownRow] = []
    ordered = sorted(found, key=lambda b: bool(b.category_type or b.category))
    for b in ordered[:60]:
        latest = q.latest_values(
            session,
            info.id,
            benchmark=country,
            area_codes=[city],
            breakdown=b,
            comparison=comparison,
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
            if comparison != "default":
                wanted["comparison"] = comparison
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


# ------------------------------------------------------------------------- areas


@dataclass
class SpineLine:
    indicator_id: str
    name: str
    period: str
    value_text: str
    benchmark_text: str
    lowest_text: str
    highest_text: str
    peers: int
    outcome: str
    comparison_text: str
    comparison_tag: str
    gap: float | None


@dataclass
class AreaPage:
    code: str
    name: str
    area_type: str
    type_words: str
    parent: AreaRef | None
    children: list[AreaRef]
    population_text: str
    benchmark: str
    benchmark_name: str
    benchmark_options: list[Option]
    comparison: str
    comparison_options: list[Option]
    method_text: str
    lines: list[SpineLine]
    worst: list[SpineLine]
    best: list[SpineLine]
    charts: list[Chart]
    peer_words: str
    illustrative: bool
    table: Table

    def chart(self, name: str) -> Chart | None:
        return next((c for c in self.charts if c.name == name), None)


def _headline(session: Session, cache: PageCache, version: str, indicator_id: str) -> Any:
    """The indicator's headline breakdown, remembered per data version."""
    return cache.get(
        (version, "headline", indicator_id),
        lambda: q.headline_breakdown(session, indicator_id),
    )


def area_profile(
    session: Session,
    cache: PageCache,
    version: str,
    area_code: str,
    benchmark: str,
    comparison: str | None = None,
) -> list[q.SpineRow]:
    """``queries.area_profile`` in three queries instead of five per indicator.

    Same rules — each indicator's headline series, the area's latest period, the
    benchmark at that period, the spread and judgements across areas of the same type —
    but the area's rows, then every peer's and the benchmark's rows at those periods,
    are read in bulk, so an area page costs milliseconds however many indicators exist.
    (A test holds it equal to the queries module's version.)
    """
    from sqlalchemy import tuple_

    geo = _geography(session, cache, version)
    area = geo.areas.get(area_code)
    if area is None:
        return []
    mine = session.scalars(select(m.Observation).where(m.Observation.area_code == area_code)).all()
    latest: dict[str, m.Observation] = {}
    heads: dict[str, q.Breakdown] = {}
    for obs in mine:
        head = heads.get(obs.indicator_id)
        if head is None:
            found = _headline(session, cache, version, obs.indicator_id)
            if found is None:
                continue
            head = heads[obs.indicator_id] = found
        if (obs.sex, obs.age, obs.category_type, obs.category) != (
            head.sex,
            head.age,
            head.category_type,
            head.category,
        ):
            continue
        best = latest.get(obs.indicator_id)
        if best is None or obs.time_period_sortable >= best.time_period_sortable:
            latest[obs.indicator_id] = obs
    if not latest:
        return []
    peer_codes = {a.code for a in geo.areas.values() if a.area_type == area.area_type}
    pairs = [(i, o.time_period_sortable) for i, o in latest.items()]
    others = session.scalars(
        select(m.Observation).where(
            tuple_(m.Observation.indicator_id, m.Observation.time_period_sortable).in_(pairs),
            m.Observation.area_code.in_([*peer_codes, benchmark]),
        )
    ).all()
    by_indicator: dict[str, list[m.Observation]] = defaultdict(list)
    for obs in others:
        head = heads[obs.indicator_id]
        here = latest[obs.indicator_id]
        if (obs.sex, obs.age, obs.category_type, obs.category) == (
            head.sex,
            head.age,
            head.category_type,
            head.category,
        ) and obs.period == here.period:
            by_indicator[obs.indicator_id].append(obs)
    rows = session.scalars(select(m.Indicator).where(m.Indicator.id.in_(list(latest)))).all()
    found_rows: list[tuple[tuple[bool, int, str], q.SpineRow]] = []
    for row in rows:
        info = q.indicator_info(row)
        if q.is_population(info):
            continue
        point = q.point_of(latest[row.id], area)
        at_period = by_indicator.get(row.id, [])
        ref_obs = next((o for o in at_period if o.area_code == benchmark), None)
        reference = q.point_of(ref_obs, geo.areas.get(benchmark)) if ref_obs else None
        peers = [
            q.point_of(o, geo.areas.get(o.area_code))
            for o in at_period
            if o.area_code in peer_codes and o.value is not None
        ]
        judged = (
            None
            if reference is None or reference.area_code == area_code
            else q.compare_point(info, point, reference, comparison)
        )
        spine = q.SpineRow(
            indicator=info,
            breakdown=heads[row.id],
            period=point.period,
            area=point,
            benchmark=reference,
            comparison=judged,
            peers=q.spread(
                [p.value for p in peers if p.value is not None],
                q.compare_points(info, peers, reference, comparison),
            ),
            peer_type=area.area_type,
        )
        found_rows.append(((row.sort_order is None, row.sort_order or 0, row.name), spine))
    return [spine for _, spine in sorted(found_rows, key=lambda pair: pair[0])]


_TYPE_WORDS = {
    COUNTRY: "Country",
    REGION: "Region",
    SUB_REGION: "Sub-region",
    LOCAL_AUTHORITY: "Local authority",
}


def area_page(
    session: Session,
    cache: PageCache,
    area_code: str,
    *,
    benchmark: str = "england",
    comparison: str | None = None,
) -> AreaPage:
    method = check_comparison(comparison)
    version = data_version(session)
    return cache.get(
        (version, "area", area_code, benchmark, method),
        lambda: _area_page(session, cache, version, area_code, benchmark, method),
    )


def area_method_words(comparison: str, benchmark_name: str) -> str:
    """The method in words for a page of many indicators, whose default levels differ."""
    from healthycity.outcomes.compare import plan

    if comparison == "default":
        return (
            f"Compared with {benchmark_name} using each indicator's default confidence "
            "intervals (95% unless its published data use 99.8%)"
        )
    return plan(comparison).describe(benchmark_name)


def _area_page(
    session: Session,
    cache: PageCache,
    version: str,
    area_code: str,
    benchmark: str,
    comparison: str = "default",
) -> AreaPage:
    geo = _geography(session, cache, version)
    ref = geo.areas.get(area_code)
    if ref is None:
        raise NotFound(f"There is no area with the code {area_code!r}.")
    check_benchmark(geo, benchmark)
    target = _benchmark_for(geo, benchmark, area_code)
    if target is None or target == area_code:
        target = geo.country.code if geo.country else q.ENGLAND
    benchmark_name = geo.areas[target].name if target in geo.areas else target
    profile = area_profile(session, cache, version, area_code, target, comparison)
    method_text = area_method_words(comparison, benchmark_name)
    lines: list[SpineLine] = []
    items: list[cs.SpineItem] = []
    for spine in profile:
        info = spine.indicator
        d = info.decimals
        outcome = outcome_of(spine.comparison)
        peers = spine.peers
        bench = spine.benchmark.value if spine.benchmark else None
        value = spine.area.value
        gap = None
        if value is not None and bench not in (None, 0):
            assert bench is not None
            gap = (value - bench) / abs(bench)
            if info.polarity == m.LOW_IS_GOOD:
                gap = -gap
        lines.append(
            SpineLine(
                indicator_id=info.id,
                name=info.name,
                period=spine.period,
                value_text=with_unit(fmt(value, d), info.unit),
                benchmark_text=with_unit(fmt(bench, d), info.unit),
                lowest_text=fmt(peers.minimum, d),
                highest_text=fmt(peers.maximum, d),
                peers=peers.count,
                outcome=outcome,
                comparison_text=comparison_words(outcome, benchmark_name),
                comparison_tag=outcome_tag(outcome),
                gap=gap,
            )
        )
        if (
            value is not None
            and bench is not None
            and peers.minimum is not None
            and peers.maximum is not None
            and peers.q1 is not None
            and peers.q3 is not None
        ):
            low_good = info.polarity == m.LOW_IS_GOOD

            def place(
                v: float,
                centre: float = bench,
                low: float = peers.minimum,
                high: float = peers.maximum,
                flip: bool = low_good,
            ) -> float:
                return cs.spine_position(v, centre, low, high, low_is_good=flip)

            ends = sorted([place(peers.minimum), place(peers.maximum)])
            quarts = sorted([place(peers.q1), place(peers.q3)])
            items.append(
                cs.SpineItem(
                    _short(info.name, 48),
                    ends[0],
                    quarts[0],
                    quarts[1],
                    ends[1],
                    place(value),
                    chart_outcome(outcome),
                    fmt(value, d),
                )
            )
    judged = [x for x in lines if x.gap is not None and base_outcome(x.outcome) == "worse"]
    worst = sorted(judged, key=lambda x: x.gap or 0.0)[:5]
    good = [x for x in lines if x.gap is not None and base_outcome(x.outcome) == "better"]
    best = sorted(good, key=lambda x: -(x.gap or 0.0))[:5]
    peer_type = _TYPE_WORDS.get(ref.area_type, ref.area_type.replace("_", " ")).lower()
    peer_words = (
        f"The grey bars show the range across every {peer_type} with data "
        f"(light: lowest to highest; dark: the middle half); the red line is {benchmark_name}."
    )
    charts: list[Chart] = []
    if items:
        counts: dict[str, int] = defaultdict(int)
        for item in items:
            counts[item.outcome] += 1
        tally = ", ".join(f"{n} {o}" for o, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        description = (
            f"Spine chart of {len(items)} indicators for {ref.name} against {benchmark_name}, "
            f"better to the right: {tally}. {method_text}."
        )
        charts.append(
            Chart(
                "spine",
                "Spine chart",
                cs.spine_chart(
                    items,
                    benchmark_name=benchmark_name,
                    legend=cs.legend_title(method_text, [i.outcome for i in items]),
                ),
                description,
                Table(
                    [
                        "indicator_id",
                        "indicator",
                        "period",
                        "value",
                        "benchmark",
                        "lowest",
                        "highest",
                        "comparison",
                        "comparison_method",
                    ],
                    [
                        [
                            x.indicator_id,
                            x.name,
                            x.period,
                            x.value_text,
                            x.benchmark_text,
                            x.lowest_text,
                            x.highest_text,
                            x.comparison_text,
                            method_text,
                        ]
                        for x in lines
                    ],
                ),
                note=peer_words,
            )
        )
    pyramid = _pyramid(session, ref)
    if pyramid is not None:
        charts.append(pyramid)
    area_row = session.get(Area, area_code)
    population = ""
    if area_row is not None and area_row.population:
        population = f"{area_row.population:,}" + (
            f" ({area_row.population_note})" if area_row.population_note else ""
        )
    children = sorted(
        (a for a in geo.areas.values() if a.parent_code == area_code), key=lambda a: a.name
    )
    table = Table(
        [
            "indicator_id",
            "indicator",
            "period",
            "value",
            "benchmark",
            "benchmark_value",
            "lowest_peer",
            "highest_peer",
            "peers",
            "comparison",
            "comparison_method",
        ],
        [
            [
                x.indicator_id,
                x.name,
                x.period,
                x.value_text,
                benchmark_name,
                x.benchmark_text,
                x.lowest_text,
                x.highest_text,
                x.peers,
                x.comparison_text,
                method_text,
            ]
            for x in lines
        ],
    )
    options = benchmark_options(geo)
    if ref.area_type not in (LOCAL_AUTHORITY,):
        options = [o for o in options if o[0] != "sub-region"]
    return AreaPage(
        code=ref.code,
        name=ref.name,
        area_type=ref.area_type,
        type_words=_TYPE_WORDS.get(ref.area_type, ref.area_type.replace("_", " ").capitalize()),
        parent=geo.areas.get(ref.parent_code) if ref.parent_code else None,
        children=children,
        population_text=population,
        benchmark=benchmark,
        benchmark_name=benchmark_name,
        benchmark_options=_options(options, benchmark),
        comparison=comparison,
        comparison_options=_options(
            [("default", "Each indicator's default"), *comparison_options_all()[1:]],
            comparison,
        ),
        method_text=method_text,
        lines=lines,
        worst=worst,
        best=best,
        charts=charts,
        peer_words=peer_words,
        illustrative=any(s.area.illustrative for s in profile),
        table=table,
    )


_AGE_START = re.compile(r"(\d+)")


def _age_order(age: str) -> int | None:
    match = _AGE_START.search(age)
    return int(match.group(1)) if match else None


def _pyramid(session: Session, area: AreaRef) -> Chart | None:
    """A population pyramid from any population-count indicator broken down by sex and
    age band for this area (for example Fingertips' resident population, id 92708)."""
    found = session.execute(
        select(m.Indicator.id, m.Indicator.source).where(
            func.lower(m.Indicator.name).like("%population%"),
            m.Indicator.value_type.in_((m.COUNT, m.OTHER)),
        )
    ).all()
    # Real population figures before the demonstration data's made-up ones.
    candidates = [i for i, _ in sorted(found, key=lambda r: (r[1] == m.SOURCE_DEMO, r[0]))]
    for indicator_id in candidates:
        latest = session.execute(
            select(func.max(m.Observation.time_period_sortable)).where(
                m.Observation.indicator_id == indicator_id,
                m.Observation.area_code == area.code,
                m.Observation.sex.in_(("Male", "Female")),
            )
        ).scalar()
        if latest is None:
            continue
        rows = session.execute(
            select(m.Observation.sex, m.Observation.age, m.Observation.value, m.Observation.period)
            .where(
                m.Observation.indicator_id == indicator_id,
                m.Observation.area_code == area.code,
                m.Observation.time_period_sortable == latest,
                m.Observation.sex.in_(("Male", "Female")),
                m.Observation.category_type == "",
            )
            .order_by(m.Observation.age)
        ).all()
        bars = []
        for sex, age, value, _period in rows:
            order = _age_order(age)
            if order is None or value is None or "+" in age and order == 0:
                continue
            bars.append(cs.PyramidBar(age, order, sex, float(value)))
        ages = {b.age for b in bars}
        if len(ages) < 4:
            continue
        # Drop overlapping bands (e.g. "All ages", "18+ yrs"): keep the finest partition.
        bars = [b for b in bars if not b.age.lower().startswith("all")]
        period = rows[0][3]
        total = sum(b.population for b in bars)
        males = sum(b.population for b in bars if b.sex == "Male")
        description = (
            f"Population pyramid of {area.name}, {period}: {fmt(total, 0)} people in "
            f"{len(ages)} age bands, {fmt(100 * males / total if total else None, 1)}% male."
        )
        spec = cs.population_pyramid(bars, sexes=("Male", "Female"))
        table = Table(
            ["age", "sex", "people"],
            [[b.age, b.sex, b.population] for b in sorted(bars, key=lambda b: (b.order, b.sex))],
        )
        return Chart("pyramid", "Population by age and sex", spec, description, table)
    return None


# ------------------------------------------------------------------------- inequalities


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


@dataclass
class GapLine:
    indicator_id: str
    name: str
    unit: str | None
    period: str | None
    areas: int
    best_name: str
    best_text: str
    worst_name: str
    worst_text: str
    gap: float | None
    gap_text: str
    ratio_text: str
    relative_gap: float | None
    judged: bool
    sii_text: str
    sii_note: str
    sii: SIIFigure | None = None
    sii_words: str = ""


@dataclass
class InequalitiesPage:
    lines: list[GapLine]
    city_name: str
    chart: Chart | None
    table: Table
    illustrative: bool
    sii_chart: Chart | None = None

    @property
    def charts(self) -> list[Chart]:
        return [c for c in (self.chart, self.sii_chart) if c is not None]


def inequalities(session: Session, cache: PageCache) -> InequalitiesPage:
    version = data_version(session)
    return cache.get((version, "inequalities"), lambda: _inequalities(session, cache, version))


def _difference_words(value: float, info: q.IndicatorInfo) -> str:
    """A difference in the indicator's unit: "2.5 percentage points", "8.1 years"."""
    unit = (info.unit or "").strip()
    if unit == "%":
        return f"{fmt(value, info.decimals)} percentage points"
    return with_unit(fmt(value, info.decimals), info.unit)


def _inequalities(session: Session, cache: PageCache, version: str) -> InequalitiesPage:
    geo = _geography(session, cache, version)
    summaries = _summaries(session, cache, version)
    codes = [b.code for b in geo.boroughs]
    lines: list[GapLine] = []
    illustrative = False
    for summary in summaries.values():
        info = summary.indicator
        if summary.breakdown is None or not codes or q.is_population(info):
            continue
        latest = q.latest_values(
            session,
            info.id,
            benchmark=geo.country.code if geo.country else q.ENGLAND,
            area_codes=codes,
            breakdown=summary.breakdown,
        )
        if latest is None:
            continue
        valued = [r.point for r in latest.rows if r.point.value is not None]
        if len(valued) < 2:
            continue
        illustrative = illustrative or latest.illustrative
        high_good = info.polarity != m.LOW_IS_GOOD
        ordered = sorted(valued, key=lambda p: p.value or 0.0, reverse=high_good)
        best, worst = ordered[0], ordered[-1]
        judged = info.polarity in (m.HIGH_IS_GOOD, m.LOW_IS_GOOD)
        assert best.value is not None and worst.value is not None
        gap = abs(best.value - worst.value)
        low = min(best.value, worst.value)
        high = max(best.value, worst.value)
        ratio = high / low if low > 0 else None
        city_value = summary.city.value if summary.city else None
        relative = gap / abs(city_value) * 100 if city_value else None
        figure, sii_note = _sii(session, info, geo, summary.breakdown)
        sii_text = sii_words = ""
        if figure is not None:
            d = info.decimals
            sii_text = (
                f"{fmt(figure.value, d)} (95% interval {fmt(figure.lower, d)} to "
                f"{fmt(figure.upper, d)})"
            )
            if round(figure.value, d if d is not None else 1) == 0:
                sii_words = "No gap between the most and least deprived on the fitted line."
            else:
                sii_words = (
                    f"{_difference_words(abs(figure.value), info)} "
                    f"{'higher' if figure.value > 0 else 'lower'} at the least deprived end "
                    "than at the most deprived."
                )
        lines.append(
            GapLine(
                indicator_id=info.id,
                name=info.name,
                unit=info.unit,
                period=latest.period,
                areas=len(valued),
                best_name=best.area_name,
                best_text=with_unit(fmt(best.value, info.decimals), info.unit),
                worst_name=worst.area_name,
                worst_text=with_unit(fmt(worst.value, info.decimals), info.unit),
                gap=gap,
                gap_text=_difference_words(gap, info),
                ratio_text=f"{ratio:.2f}" if ratio is not None else "",
                relative_gap=relative,
                judged=judged,
                sii_text=sii_text,
                sii_note=sii_note,
                sii=figure,
                sii_words=sii_words,
            )
        )
    chart = None
    charted = [x for x in lines if x.relative_gap is not None]
    if charted:
        bars = [
            cs.Bar(
                _short(x.name, 60),
                round(float(x.relative_gap or 0.0), 1),
                None,
                None,
                "not compared",
                None,
            )
            for x in charted
        ]
        widest = max(charted, key=lambda x: x.relative_gap or 0.0)
        description = (
            f"Bar chart of the gap between the highest and lowest area for {len(charted)} "
            f"indicators, as a percentage of the {geo.city_name} value. The widest is "
            f"{widest.name} ({fmt(widest.relative_gap, 0)}%)."
        )
        spec = cs.compare_bars(bars, unit="% of the city value", benchmark_name="")
        chart = Chart(
            "gaps",
            "Gap between areas, relative to the city value",
            spec,
            description,
            Table(
                ["indicator_id", "indicator", "gap_as_percent_of_city_value"],
                [[x.indicator_id, x.name, x.relative_gap] for x in charted],
            ),
        )
    table = Table(
        [
            "indicator_id",
            "indicator",
            "period",
            "areas",
            "best_or_highest",
            "best_value",
            "worst_or_lowest",
            "worst_value",
            "gap",
            "ratio",
            "slope_index_of_inequality",
            "sii_note",
            "sii",
            "sii_lower_95",
            "sii_upper_95",
            "rii",
            "sii_period",
            "sii_groups",
        ],
        [
            [
                x.indicator_id,
                x.name,
                x.period,
                x.areas,
                x.best_name,
                x.best_text,
                x.worst_name,
                x.worst_text,
                x.gap,
                x.ratio_text,
                x.sii_text,
                x.sii_note,
                *(
                    [
                        x.sii.value,
                        x.sii.lower,
                        x.sii.upper,
                        x.sii.rii,
                        x.sii.period,
                        len(x.sii.groups),
                    ]
                    if x.sii
                    else [None] * 6
                ),
            ]
            for x in lines
        ],
    )
    return InequalitiesPage(
        lines, geo.city_name, chart, table, illustrative, _sii_chart(lines, geo.city_name)
    )


def _sii_chart(lines: Sequence[GapLine], city_name: str) -> Chart | None:
    """Small multiples of every SII on the page: the groups' values along the population
    from most to least deprived, and the fitted line whose slope is the SII."""
    with_sii = [x for x in lines if x.sii is not None]
    if not with_sii:
        return None
    points: list[cs.GradientPoint] = []
    fits: list[cs.GradientLine] = []
    rows: list[list[Any]] = []
    panels: set[str] = set()
    for x in with_sii:
        figure = x.sii
        assert figure is not None
        # Panels are keyed by their title, so two names cut to the same words must differ.
        panel = _short(x.name, 40)
        if panel in panels:
            panel = f"{_short(x.name, 30)} ({x.indicator_id})"
        panels.add(panel)
        fits.append(cs.GradientLine(panel, figure.at_most_deprived, figure.at_least_deprived))
        for g in figure.groups:
            points.append(
                cs.GradientPoint(panel, g.category, g.position, g.value, g.lower, g.upper)
            )
            fitted = figure.at_most_deprived + figure.value * g.position
            rows.append(
                [
                    x.indicator_id,
                    x.name,
                    figure.period,
                    figure.breakdown,
                    g.rank,
                    g.category,
                    g.population,
                    round(g.position, 6),
                    g.value,
                    g.lower,
                    g.upper,
                    fitted,
                    figure.value,
                    figure.lower,
                    figure.upper,
                ]
            )
    higher = sum(1 for x in with_sii if x.sii and x.sii.value > 0)
    description = (
        f"Charts of {len(with_sii)} indicators in {city_name} by deprivation group, from the "
        "most deprived (left) to the least deprived (right), each with the fitted line whose "
        f"slope is the slope index of inequality. On {higher} of them the value is higher at "
        f"the least deprived end; on {len(with_sii) - higher}, at the most deprived end."
    )
    return Chart(
        "sii",
        "Values by deprivation group, with the slope index of inequality",
        cs.deprivation_gradients(points, fits),
        description,
        Table(
            [
                "indicator_id",
                "indicator",
                "period",
                "breakdown",
                "deprivation_rank",
                "deprivation_group",
                "population",
                "population_midpoint",
                "value",
                "lower_ci95",
                "upper_ci95",
                "fitted_value",
                "sii",
                "sii_lower_95",
                "sii_upper_95",
            ],
            rows,
        ),
        note="Rank 1 is the most deprived group; the midpoint is where the group sits along "
        "the population, 0 being the most deprived end and 1 the least.",
    )


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


def _sii(
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
    city = geo.city.code if geo.city else q.LONDON
    rows = session.execute(
        select(
            m.Observation.category_type,
            m.Observation.category,
            m.Observation.value,
            m.Observation.lower_ci95,
            m.Observation.upper_ci95,
            m.Observation.denominator,
            m.Observation.period,
            m.Observation.time_period_sortable,
        ).where(
            m.Observation.indicator_id == info.id,
            m.Observation.area_code == city,
            m.Observation.sex == breakdown.sex,
            m.Observation.age == breakdown.age,
            func.lower(m.Observation.category_type).like("%depriv%"),
        )
    ).all()
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


# ------------------------------------------------------------------------- search


@dataclass
class SearchHit:
    kind: str
    href: str
    title: str
    detail: str
    score: int


@dataclass
class SearchPage:
    query: str
    indicators: list[SearchHit]
    areas: list[SearchHit]
    table: Table


@dataclass
class _Index:
    indicators: list[tuple[str, str, str]] = field(default_factory=list)
    areas: list[tuple[str, str, str]] = field(default_factory=list)


def _index(session: Session) -> _Index:
    index = _Index()
    for row in session.execute(
        select(m.Indicator.id, m.Indicator.name, m.Indicator.definition).order_by(m.Indicator.name)
    ):
        index.indicators.append((row[0], row[1], row[2] or ""))
    for code, name, area_type in session.execute(
        select(Area.code, Area.name, Area.area_type).order_by(Area.name)
    ):
        index.areas.append((code, name, area_type))
    return index


def _score(query: str, words: list[str], key: str, name: str, extra: str) -> int:
    lowered = name.lower()
    if query == key.lower():
        return 100
    if lowered == query:
        return 90
    if lowered.startswith(query):
        return 70
    if all(w in lowered for w in words):
        return 50
    if all(w in f"{lowered} {extra.lower()} {key.lower()}" for w in words):
        return 20
    return 0


def search(session: Session, cache: PageCache, query: str | None) -> SearchPage:
    text = (check_text(query, "search") or "").strip()
    version = data_version(session)
    index = cache.get((version, "search-index"), lambda: _index(session))
    lowered = " ".join(text.lower().split())
    words = lowered.split()
    indicators: list[SearchHit] = []
    areas: list[SearchHit] = []
    for key, name, definition in index.indicators:
        score = _score(lowered, words, key, name, definition) if words else 1
        if score:
            indicators.append(
                SearchHit("indicator", f"/indicators/{key}", name, f"Indicator {key}", score)
            )
    for code, name, area_type in index.areas:
        score = _score(lowered, words, code, name, "") if words else 1
        if score:
            kind = _TYPE_WORDS.get(area_type, area_type.replace("_", " ").capitalize())
            areas.append(SearchHit("area", f"/areas/{code}", name, f"{kind}, {code}", score))
    indicators.sort(key=lambda h: (-h.score, h.title))
    areas.sort(key=lambda h: (-h.score, h.title))
    table = Table(
        ["kind", "title", "detail", "link"],
        [[h.kind, h.title, h.detail, h.href] for h in [*indicators, *areas]],
    )
    return SearchPage(text, indicators, areas, table)


# ------------------------------------------------------------------------- site map


def site_paths(session: Session) -> list[str]:
    """Every page of the public site, for the static export."""
    paths = ["/", "/inequalities", "/search"]
    paths += [
        f"/aspirations/{s}"
        for s in session.scalars(select(m.Aspiration.slug).order_by(m.Aspiration.number))
    ]
    paths += [
        f"/commitments/{s}"
        for s in session.scalars(select(m.Commitment.slug).order_by(m.Commitment.sort_order))
    ]
    paths += [
        f"/indicators/{i}" for i in session.scalars(select(m.Indicator.id).order_by(m.Indicator.id))
    ]
    with_data = set(session.scalars(select(m.Observation.area_code).distinct()))
    for code, area_type in session.execute(select(Area.code, Area.area_type).order_by(Area.code)):
        if area_type in (SUB_REGION, LOCAL_AUTHORITY, REGION, COUNTRY) or code in with_data:
            paths.append(f"/areas/{code}")
    return paths
