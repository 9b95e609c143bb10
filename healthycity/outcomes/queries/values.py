"""The values the read functions return, and the judgements made on them at read time.

Plain frozen dataclasses (no ORM objects escape), so pages can cache them and render
them in a template, a chart spec or a CSV alike. Judgements (better / similar / worse,
trends, progress to target) use the statistics team's functions
(``healthycity.outcomes.compare``, ``trend``, ``targets``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import partial

from healthycity.outcomes import models as m

# The start of the value note of a figure computed from its parts (London from its
# boroughs); written by ``healthycity.outcomes.aggregate``.
COMPUTED_NOTE = "Computed from the boroughs"
# The method of a judgement taken from the publisher because the data have no interval.
AS_PUBLISHED = "as published"


@dataclass(frozen=True)
class Breakdown:
    """Which series of an indicator: sex, age and category (empty: no category)."""

    sex: str = m.ALL_PERSONS
    age: str = m.ALL_AGES
    category_type: str = ""
    category: str = ""

    @property
    def label(self) -> str:
        parts = [self.sex, self.age]
        if self.category:
            parts.append(self.category)
        return ", ".join(parts)


@dataclass(frozen=True)
class IndicatorInfo:
    """What a page needs to say about an indicator, without the ORM."""

    id: str
    name: str
    unit: str | None
    value_type: str
    multiplier: float | None
    polarity: str | None
    decimals: int | None
    source: str
    fingertips_id: str | None
    definition: str | None
    data_loaded_at: datetime | None
    comparison_level: float | None = None


@dataclass(frozen=True)
class Point:
    """One observation as pages use it."""

    area_code: str
    area_name: str
    area_type: str
    period: str
    time_period_sortable: int
    value: float | None
    lower_ci95: float | None
    upper_ci95: float | None
    lower_ci998: float | None
    upper_ci998: float | None
    count: float | None
    denominator: float | None
    value_note: str | None
    illustrative: bool
    published_england: str | None = None
    published_trend: str | None = None
    breakdown: Breakdown = field(default_factory=Breakdown)
    published_region: str | None = None

    @property
    def computed(self) -> bool:
        """Computed here from its parts (``healthycity.outcomes.aggregate``), not published."""
        return bool(self.value_note and self.value_note.startswith(COMPUTED_NOTE))


@dataclass(frozen=True)
class AreaValue:
    """An area's value with this project's comparison against the benchmark."""

    point: Point
    comparison: Judgement | None


@dataclass
class LatestTable:
    """The latest period of an indicator across areas, each compared with the benchmark."""

    indicator: IndicatorInfo
    breakdown: Breakdown
    period: str | None
    benchmark: Point | None
    rows: list[AreaValue]
    illustrative: bool


@dataclass
class Spread:
    """How values are spread across a set of peer areas (for spine charts and ranges)."""

    count: int
    minimum: float | None
    q1: float | None
    median: float | None
    q3: float | None
    maximum: float | None
    better: int = 0
    similar: int = 0
    worse: int = 0
    not_compared: int = 0
    # Of the judged areas, how many carry the publisher's judgement (no interval here).
    as_published: int = 0


@dataclass
class IndicatorSummary:
    """One line of an indicator list: latest city and country values, judgement, trend."""

    indicator: IndicatorInfo
    breakdown: Breakdown | None
    period: str | None
    city: Point | None
    country: Point | None
    comparison: Judgement | None
    trend: Trend | None
    targets: list[TargetProgress]
    boroughs: Spread | None
    illustrative: bool
    # Why the city has no figure (``queries.missing_reason``), when it has none.
    city_missing: str | None = None
    # How many of the city's periods have a value (what the recent trend could use).
    city_points: int = 0


@dataclass
class SpineRow:
    """One indicator on an area's spine chart."""

    indicator: IndicatorInfo
    breakdown: Breakdown
    period: str
    area: Point
    benchmark: Point | None
    comparison: Judgement | None
    peers: Spread
    peer_type: str


@dataclass
class DataStatus:
    """What the site says about its data: how fresh, and whether illustrative."""

    last_updated: datetime | None
    illustrative: bool
    real_observations: int
    illustrative_observations: int
    releases: int
    # Indicators showing published figures, of all the site's indicators (issue 12).
    real_indicators: int = 0
    indicators: int = 0

    @property
    def real_text(self) -> str:
        """For the banner: "N of M indicators show published figures"."""
        return f"{self.real_indicators} of {self.indicators} indicators show published figures"


# ---------------------------------------------------------------------------- judgements


@dataclass(frozen=True)
class Judgement:
    """An area compared with a benchmark: ``outcome`` is better / similar / worse, or
    higher / similar / lower where no judgement applies, or "not compared"; the method
    and confidence level say how (Fingertips' rules, from ``healthycity.outcomes.compare``).
    """

    outcome: str
    benchmark_code: str
    benchmark_value: float | None
    method: str
    confidence: float | None
    choice: str = "default"
    # True when the data have no interval and the publisher's own judgement is shown
    # (``published`` holds its words, e.g. Fingertips' "Better 95%").
    as_published: bool = False
    published: str | None = None

    @property
    def label(self) -> str:
        """The outcome as a page shows it: "better", or "better (as published)"."""
        return f"{self.outcome} ({AS_PUBLISHED})" if self.as_published else self.outcome


def published_outcome(text: str | None) -> str | None:
    """A publisher's comparison text as an outcome ("Better 95%" → "better"); None for
    "Not compared", quintile labels and anything else that is not a judgement."""
    if not text:
        return None
    lowered = text.strip().lower()
    for outcome in ("better", "similar", "worse", "higher", "lower"):
        if lowered.startswith(outcome):
            return outcome
    if lowered.startswith("same"):
        return "similar"
    return None


def published_for(point: Point, benchmark: Point) -> str | None:
    """The publisher's text judging ``point`` against ``benchmark``: "Compared to England"
    when the benchmark is England, "Compared to Region" when it is a region."""
    from healthycity.geography.service import ENGLAND

    if benchmark.area_code == ENGLAND:
        return point.published_england
    if benchmark.area_type == "region":
        return point.published_region
    return None


@dataclass(frozen=True)
class Trend:
    """The recent trend over the last five points (``healthycity.outcomes.trend``)."""

    outcome: str
    method: str
    points: int
    # Why the test could not decide ("cannot be calculated"), when it could not.
    reason: str | None = None


@dataclass(frozen=True)
class TargetProgress:
    """Progress to one target (``healthycity.outcomes.targets``): achieved, on track, off
    track, not set or not enough data, with the method used."""

    statement: str
    link_kind: str
    link_slug: str
    status: str
    method: str
    target_value: float | None
    target_period: str | None


def _limits(point: Point, level: float) -> tuple[float | None, float | None]:
    if level == 0.998:
        return point.lower_ci998, point.upper_ci998
    return point.lower_ci95, point.upper_ci95


def _judgements(
    indicator: IndicatorInfo,
    points: Sequence[Point],
    benchmark: Point,
    comparison: str | None = None,
) -> list[Judgement]:
    """Every point judged against ``benchmark`` by the reader's ``comparison`` (the
    indicator's default, one level at 95% or 99.8%, two levels, or CI overlap), with
    ``healthycity.outcomes.compare`` doing the judging (Fingertips' rules, PHE's
    technical guidance "Comparing values")."""
    from healthycity.outcomes.compare import Method, compare_many, plan
    from healthycity.outcomes.stats._levels import percent_text

    how = plan(comparison, indicator.comparison_level)

    def number(value: float | None) -> float:
        return float("nan") if value is None else value

    lows = {lv: [number(_limits(p, lv)[0]) for p in points] for lv in how.levels}
    highs = {lv: [number(_limits(p, lv)[1]) for p in points] for lv in how.levels}
    overlap = how.method is Method.CI_OVERLAP
    b_low, b_high = _limits(benchmark, how.levels[0])
    results = compare_many(
        [number(p.value) for p in points],
        lows,
        highs,
        number(benchmark.value),
        polarity=indicator.polarity or m.NO_JUDGEMENT,
        method=how.method,
        benchmark_lower=number(b_low) if overlap else None,
        benchmark_upper=number(b_high) if overlap else None,
    )
    method_text = (
        how.method.value
        if how.method is Method.TWO_LEVELS
        else f"{how.method.value} ({percent_text(how.levels[0])})"
    )
    judged = [
        Judgement(
            outcome=r.label,
            benchmark_code=benchmark.area_code,
            benchmark_value=benchmark.value,
            method=method_text,
            confidence=r.level if how.method is Method.TWO_LEVELS else how.levels[0],
            choice=how.choice.value,
        )
        for r in results
    ]
    for index, point in enumerate(points):
        low, high = _limits(point, how.levels[0])
        if point.value is None or (low is not None and high is not None):
            continue  # our own judgement stands where there is an interval
        text = published_for(point, benchmark)
        outcome = published_outcome(text)
        if outcome is not None:
            judged[index] = Judgement(
                outcome=outcome,
                benchmark_code=benchmark.area_code,
                benchmark_value=benchmark.value,
                method=AS_PUBLISHED,
                confidence=None,
                choice=how.choice.value,
                as_published=True,
                published=text,
            )
    return judged


def compare_point(
    indicator: IndicatorInfo, point: Point, benchmark: Point, comparison: str | None = None
) -> Judgement:
    """``point`` compared with ``benchmark`` by the reader's ``comparison``; by default
    Fingertips' one-level test at the indicator's comparison level (95% unless the
    published data showed 99.8%)."""
    return _judgements(indicator, [point], benchmark, comparison)[0]


def compare_points(
    indicator: IndicatorInfo,
    points: Sequence[Point],
    benchmark: Point | None,
    comparison: str | None = None,
) -> list[Judgement | None]:
    """``compare_point`` for many areas at once (vectorised); None for the benchmark
    itself or when there is no benchmark."""
    if benchmark is None:
        return [None] * len(points)
    judged = _judgements(indicator, points, benchmark, comparison)
    return [
        None if p.area_code == benchmark.area_code else j
        for p, j in zip(points, judged, strict=True)
    ]


def trend_of(indicator: IndicatorInfo, points: Sequence[Point]) -> Trend | None:
    """Fingertips' recent trend of a series (oldest first); None with fewer than five
    points. Proportions use the chi-squared test for trend when every point has its
    count and denominator, other measures (and proportions without counts) the
    weighted test on their 95% intervals."""
    from healthycity.outcomes.stats.errors import StatsInputError
    from healthycity.outcomes.trend import POINTS, recent_trend

    usable = [p for p in points if p.value is not None]
    if len(usable) < POINTS:
        return None
    last = usable[-POINTS:]
    counted = all(p.count is not None and p.denominator is not None for p in last)
    as_proportion = indicator.value_type == m.PROPORTION and counted
    try:
        result = recent_trend(
            polarity=indicator.polarity or m.NO_JUDGEMENT,
            values=[p.value for p in last],
            lower=[p.lower_ci95 for p in last],
            upper=[p.upper_ci95 for p in last],
            count=[p.count for p in last] if as_proportion else None,
            denominator=[p.denominator for p in last] if as_proportion else None,
            value_type=m.PROPORTION if as_proportion else indicator.value_type,
        )
    except StatsInputError:
        return None
    return Trend(
        outcome=result.outcome.value,
        method=result.description,
        points=len(last),
        reason=result.reason,
    )


def _decimal_year(day: date) -> float:
    start = date(day.year, 1, 1).toordinal()
    length = date(day.year + 1, 1, 1).toordinal() - start
    return day.year + (day.toordinal() - start) / length


def _progress(
    target: m.Target, status: str, method: str, level: float | None = None
) -> TargetProgress:
    return TargetProgress(
        statement=target.statement,
        link_kind=target.link_kind,
        link_slug=target.link_slug,
        status=status,
        method=method,
        target_value=level,
        target_period=target.target_period,
    )


def target_progress(
    indicator: IndicatorInfo,
    targets: Sequence[m.Target],
    points: Sequence[Point],
    missing: str | None = None,
) -> list[TargetProgress]:
    """Progress of a series (usually the city's) towards each target, by the statistics
    team's projection (``healthycity.outcomes.targets``). A target's period end is its
    date; a point's date is the end of its period. Relative and absolute changes are
    turned into a level from the baseline (the stored baseline value, else the value
    in the baseline period, else the first point). ``missing`` says why there are no
    points (``queries.missing_reason``); a target with no data then says so."""
    from healthycity.outcomes.catalogue import period_end
    from healthycity.outcomes.stats.errors import StatsInputError
    from healthycity.outcomes.targets import progress_to_target

    dated = [(period_end(p.period), p.value, p.period) for p in points if p.value is not None]
    series = [(_decimal_year(d), v, label) for d, v, label in dated if d is not None]
    found: list[TargetProgress] = []
    for target in targets:
        result = partial(_progress, target)
        if target.status == m.TARGET_NOT_SET:
            found.append(result("not set", "the source leaves the figure to be agreed"))
            continue
        if target.kind == "benchmark":
            found.append(result("not set", f"a position ({target.benchmark}), not judged here"))
            continue
        if not series and missing:
            found.append(result("not enough data", missing))
            continue
        direction = {"increase": "at_least", "decrease": "at_most"}.get(target.direction or "")
        baseline = target.baseline_value
        if baseline is None and series:
            at_base = [v for _, v, label in series if label == target.baseline_period]
            baseline = at_base[0] if at_base else series[0][1]
        level: float | None
        if target.kind in ("absolute", "zero"):
            level = 0.0 if target.kind == "zero" else target.value
            direction = direction or ("at_most" if target.kind == "zero" else None)
        elif baseline is None:
            found.append(result("not enough data", "no baseline value in the data"))
            continue
        elif target.kind == "relative_change":
            sign = -1.0 if target.direction == "decrease" else 1.0
            level = baseline * (1.0 + sign * (target.value or 0.0) / 100.0)
        elif target.kind == "absolute_change":
            sign = -1.0 if target.direction == "decrease" else 1.0
            level = baseline + sign * (target.value or 0.0)
        else:  # a direction with no figure: better than the baseline
            level = baseline
        when = target.target_date or period_end(target.target_period)
        if when is None and series:
            when = period_end(points[-1].period)
        try:
            progress = progress_to_target(
                [t for t, _, _ in series],
                [v for _, v, _ in series],
                target=level,
                target_time=_decimal_year(when) if when is not None else None,
                direction=direction,
                polarity=indicator.polarity,
            )
        except StatsInputError as exc:
            found.append(result("not enough data", exc.reason, level))
            continue
        found.append(result(progress.status.value, progress.method, level))
    return found
