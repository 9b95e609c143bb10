"""The annual strategic review: London's progress against its aspirations and shared
commitments in one calendar year, generated from the data (seed 000, §2.10.2).

What "the review of YYYY" means: for every indicator, the city's latest figure for a
period that had ended by 31 December YYYY (a financial year 2018/19 ends on 31 March
2019, a three-year range 2016 - 18 on 31 December 2018). An indicator whose latest such
figure ended in YYYY has *new data this year*; one whose figure is older is still shown,
marked as such. A year in which no indicator's period ended has no review, and says so.

Every number comes from the outcomes module's read functions (``outcomes.queries``),
the same ones behind each indicator's page and the open data API, so the review and the
indicator pages cannot disagree: comparisons with England are Fingertips' (the England
value against the city's 95% interval), trends are the recent trend over the last five
points, progress to target is the least-squares projection, each with its method. The
review adds only the change since the previous review (``review_stats``), the borough
variation and the slope index of inequality across deprivation groups
(``review_variation``), the delivery (``review_delivery``) and the plain-English summary
(``review_summary``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from healthycity.geography.service import ENGLAND, city_code
from healthycity.outcomes import queries as q
from healthycity.reports.review_stats import Change, change_between
from healthycity.reports.review_variation import Variation, variation


class NoReview(LookupError):
    """There is nothing to review for that year: the message says why and what exists."""


@dataclass(frozen=True)
class TargetLine:
    statement: str
    status: str
    method: str
    target_value: float | None
    target_period: str | None
    projected: float | None


@dataclass
class Figure:
    """One indicator in the review: latest value, England, trend, targets, change."""

    indicator_id: str
    name: str
    unit: str | None
    polarity: str | None
    decimals: int | None
    period: str | None
    period_end: date | None
    value: float | None = None
    lower95: float | None = None
    upper95: float | None = None
    england: float | None = None
    comparison: str | None = None
    comparison_method: str | None = None
    trend: str | None = None
    trend_method: str | None = None
    targets: list[TargetLine] = field(default_factory=list)
    change: Change | None = None
    new_data: bool = False
    illustrative: bool = False
    variation: Variation | None = None
    missing: str | None = None

    @property
    def href(self) -> str:
        return f"/indicators/{self.indicator_id}"


@dataclass
class Theme:
    """An aspiration or a shared commitment, with its indicators' figures."""

    kind: str  # aspiration | commitment
    slug: str
    number: int | None
    title: str
    figures: list[Figure]

    @property
    def href(self) -> str:
        return f"/{self.kind}s/{self.slug}"


@dataclass
class Review:
    year: int
    partnership: str
    city: str
    city_code: str
    aspirations: list[Theme]
    commitments: list[Theme]
    figures: dict[str, Figure]
    years: list[int]
    illustrative: bool
    previous_year: int | None
    delivery: Any = None
    cities: list[Any] = field(default_factory=list)
    summary: Any = None
    foreword: Any = None
    commentary: Any = None


# ---------------------------------------------------------------------------- periods

_QUARTER = re.compile(r"(\d{4})\s*/\s*\d{2}\s*Q([1-4])", re.IGNORECASE)


def period_end(label: str, sortable: int) -> date:
    """When a period ends (``outcomes.catalogue.period_end``), with financial-year
    quarters ("2017/18 Q1" ends 30 June 2017) and, failing both, the end of the year the
    sortable period starts in."""
    from healthycity.outcomes.catalogue import period_end as catalogue_end

    found = catalogue_end(label)
    if found is not None:
        return found
    quarter = _QUARTER.fullmatch(label.strip())
    if quarter:
        start, number = int(quarter.group(1)), int(quarter.group(2))
        month = 3 * number + 3  # Q1 ends June, Q2 September, Q3 December, Q4 March
        year = start if month <= 12 else start + 1
        month = month if month <= 12 else month - 12
        next_month = date(year + month // 12, month % 12 + 1, 1)
        return date.fromordinal(next_month.toordinal() - 1)
    return date(max(sortable // 10000, 1), 12, 31)


@dataclass
class _Series:
    """An indicator's headline series: every period with data (any area), and the
    city's own points, each with the date its period ends."""

    info: q.IndicatorInfo
    breakdown: q.Breakdown | None
    periods: list[tuple[str, date]]
    points: list[q.Point]
    ends: list[date]
    targets: list[Any]

    def upto(self, year: int) -> list[q.Point]:
        limit = date(year, 12, 31)
        return [p for p, end in zip(self.points, self.ends, strict=True) if end <= limit]

    def period_upto(self, year: int) -> tuple[str, date] | None:
        limit = date(year, 12, 31)
        return next((p for p in reversed(self.periods) if p[1] <= limit), None)


def _series(session: Session, indicator_id: str, city: str) -> _Series | None:
    row = q.indicator_row(session, indicator_id)
    if row is None:
        return None
    info = q.indicator_info(row)
    chosen = q.headline_breakdown(session, indicator_id)
    if chosen is None:
        return _Series(info, None, [], [], [], list(row.targets))
    periods = [
        (label, period_end(label, sortable))
        for label, sortable in q.periods(session, indicator_id, chosen)
    ]
    periods.sort(key=lambda p: p[1])
    points = [
        p
        for p in q.time_series(session, indicator_id, [city], breakdown=chosen)[city]
        if p.value is not None
    ]
    ends = [period_end(p.period, p.time_period_sortable) for p in points]
    return _Series(info, chosen, periods, points, ends, list(row.targets))


def every_series(session: Session, city: str | None = None) -> dict[str, _Series]:
    """Each indicator's headline series for the city (population series left out), in
    the catalogue's order: read once and shared by `review_years` and `build` (and, by
    the pages, across years while the data stay the same)."""
    city = city or city_code(session)
    found: dict[str, _Series] = {}
    for indicator_id in q.indicator_ids(session):
        series = _series(session, indicator_id, city)
        if series is not None and not q.is_population(series.info):
            found[indicator_id] = series
    return found


def years_of(every: dict[str, _Series]) -> list[int]:
    return sorted({end.year for series in every.values() for _, end in series.periods})


def review_years(session: Session) -> list[int]:
    """Years with a review: those in which some indicator's period ended (for the city
    or any of its areas)."""
    return years_of(every_series(session))


# ---------------------------------------------------------------------------- targets


def _projection(
    info: q.IndicatorInfo, target: Any, level: float | None, points: list[q.Point], ends: list[date]
) -> float | None:
    """Where the least-squares line through the last five points reaches at the target
    date: the same projection ``outcomes.targets`` judges "on track" by."""
    from healthycity.outcomes.stats.errors import StatsInputError
    from healthycity.outcomes.targets import progress_to_target

    when = target.target_date
    if when is None and target.target_period:
        from healthycity.outcomes.catalogue import period_end as catalogue_end

        when = catalogue_end(target.target_period)
    if level is None or when is None or len(points) < 3:
        return None

    def decimal_year(day: date) -> float:
        start = date(day.year, 1, 1).toordinal()
        return day.year + (day.toordinal() - start) / (date(day.year + 1, 1, 1).toordinal() - start)

    direction = {"increase": "at_least", "decrease": "at_most"}.get(target.direction or "")
    try:
        result = progress_to_target(
            [decimal_year(d) for d in ends],
            [float(p.value) for p in points if p.value is not None],
            target=level,
            target_time=decimal_year(when),
            direction=direction or "at_least",  # the projection does not depend on it
            polarity=info.polarity,
        )
    except StatsInputError:
        return None
    return result.projected


def _targets(series: _Series, points: list[q.Point], ends: list[date]) -> list[TargetLine]:
    lines = []
    progress = q.target_progress(series.info, series.targets, points)
    for target, found in zip(series.targets, progress, strict=True):
        projected = None
        if found.status in ("on track", "off track"):
            projected = _projection(series.info, target, found.target_value, points, ends)
        lines.append(
            TargetLine(
                statement=found.statement,
                status=str(found.status),
                method=found.method,
                target_value=found.target_value,
                target_period=found.target_period,
                projected=projected,
            )
        )
    return lines


# ---------------------------------------------------------------------------- figures


def _figure(session: Session, series: _Series, year: int, city: str) -> Figure:
    info = series.info
    figure = Figure(
        indicator_id=info.id,
        name=info.name,
        unit=info.unit,
        polarity=info.polarity,
        decimals=info.decimals,
        period=None,
        period_end=None,
    )
    points = series.upto(year)
    # The city's own latest figure; where the city has none, the areas' latest period.
    chosen = (points[-1].period, series.ends[len(points) - 1]) if points else None
    chosen = chosen or series.period_upto(year)
    if chosen is None:
        figure.missing = (
            f"No figure for a period ending by the end of {year}."
            if series.periods
            else "No data have been loaded for this indicator."
        )
        figure.targets = _targets(series, [], [])
        return figure
    label, end = chosen
    figure.period, figure.period_end, figure.new_data = label, end, end.year == year
    table = q.latest_values(
        session,
        info.id,
        benchmark=ENGLAND,
        area_codes=[city, *[a.code for a in q.areas_within(session, city)]],
        breakdown=series.breakdown,
        period=label,
    )
    if table is not None:
        figure.illustrative = table.illustrative
        figure.england = table.benchmark.value if table.benchmark else None
        figure.variation = variation(session, info, table, city, series.breakdown)
    if not points:
        # The areas have figures but the city has none (yet): say why, show the areas.
        reason = q.missing_reason(session, info.id, city, series.breakdown)
        figure.missing = reason or f"No city-wide figure for {label}."
        figure.targets = _targets(series, [], [])
        return figure
    ends = series.ends[: len(points)]
    latest = points[-1]
    figure.value, figure.lower95, figure.upper95 = (
        latest.value,
        latest.lower_ci95,
        latest.upper_ci95,
    )
    if table is not None:
        mine = next((r for r in table.rows if r.point.area_code == city), None)
        if mine is not None and mine.comparison is not None:
            figure.comparison = mine.comparison.label
            figure.comparison_method = mine.comparison.method
    trend = q.trend_of(info, points)
    if trend is not None:
        figure.trend, figure.trend_method = trend.outcome, trend.method
    figure.targets = _targets(series, points, ends)
    before = series.upto(year - 1)
    if before and before[-1].period != latest.period and latest.value is not None:
        prior = before[-1]
        assert prior.value is not None
        figure.change = change_between(
            (prior.period, prior.value, prior.lower_ci95, prior.upper_ci95),
            (latest.value, latest.lower_ci95, latest.upper_ci95),
            info.polarity,
        )
    return figure


def build(session: Session, year: int, every: dict[str, _Series] | None = None) -> Review:
    """The review of ``year``; raises `NoReview` when no indicator has a figure for a
    period ending in that year (the message lists the years that have one). ``every``:
    `every_series` of this session's data, when the caller already has it."""
    from healthycity.reports import review_delivery, review_summary, review_texts
    from healthycity.reports.cities import measures

    city = city_code(session)
    every = every_series(session, city) if every is None else every
    years = years_of(every)
    if year not in years:
        known = ", ".join(str(y) for y in years) if years else "none: no data are loaded"
        raise NoReview(
            f"There is no review for {year}: no indicator has a figure for a period ending "
            f"in {year}. Years with a review: {known}."
        )
    pack = q.loaded_pack(session)
    area = q.area_row(session, city)
    figures = {i: _figure(session, series, year, city) for i, series in every.items()}
    links = q.indicator_links(session)

    def themed(kind: str, slug: str) -> list[Figure]:
        return [figures[i] for k, s, i in links if k == kind and s == slug and i in figures]

    aspirations = [
        Theme("aspiration", a.slug, a.number, a.title, themed("aspiration", a.slug))
        for a in q.aspirations(session)
    ]
    commitments = [
        Theme("commitment", c.slug, n, c.statement, themed("commitment", c.slug))
        for n, c in enumerate(q.commitments(session), start=1)
    ]
    city_name = area.name if area is not None else city
    review = Review(
        year=year,
        partnership=pack.name if pack else "the partnership",
        city=city_name,
        city_code=city,
        aspirations=aspirations,
        commitments=commitments,
        figures=figures,
        years=years,
        illustrative=any(f.illustrative for f in figures.values()),
        previous_year=max((y for y in years if y < year), default=None),
    )
    review.delivery = review_delivery.delivery(session, year)
    review.cities = measures(session, city_name, up_to=year)
    review.summary = review_summary.summarise(review)
    review.foreword = review_texts.latest(session, year, "foreword")
    review.commentary = review_texts.latest(session, year, "commentary")
    return review
