"""Reads of the store: an indicator's series, latest values, summaries and profiles."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthycity.geography.models import Area
from healthycity.geography.service import DEFAULT_CITY, ENGLAND
from healthycity.outcomes import models as m
from healthycity.outcomes.queries.published import missing_reason, real_data
from healthycity.outcomes.queries.values import (
    AreaValue,
    Breakdown,
    DataStatus,
    IndicatorInfo,
    IndicatorSummary,
    Judgement,
    LatestTable,
    Point,
    SpineRow,
    Spread,
    Trend,
    compare_point,
    compare_points,
    target_progress,
    trend_of,
)

# ---------------------------------------------------------------------------- helpers


def indicator_info(row: m.Indicator) -> IndicatorInfo:
    return IndicatorInfo(
        id=row.id,
        name=row.name,
        unit=row.unit,
        value_type=row.value_type,
        multiplier=row.multiplier,
        polarity=row.polarity,
        decimals=row.decimals,
        source=row.source,
        fingertips_id=row.fingertips_id,
        definition=row.definition,
        data_loaded_at=row.data_loaded_at,
        comparison_level=row.comparison_level,
    )


def point_of(obs: m.Observation, area: Any) -> Point:
    """An observation as a `Point`; ``area`` is anything with ``name`` and ``area_type``."""
    return Point(
        area_code=obs.area_code,
        area_name=area.name if area is not None else obs.area_code,
        area_type=area.area_type if area is not None else "unknown",
        period=obs.period,
        time_period_sortable=obs.time_period_sortable,
        value=obs.value,
        lower_ci95=obs.lower_ci95,
        upper_ci95=obs.upper_ci95,
        lower_ci998=obs.lower_ci998,
        upper_ci998=obs.upper_ci998,
        count=obs.count,
        denominator=obs.denominator,
        value_note=obs.value_note,
        illustrative=obs.illustrative,
        published_england=obs.compared_to_england,
        published_trend=obs.recent_trend,
        breakdown=Breakdown(obs.sex, obs.age, obs.category_type, obs.category),
        published_region=obs.compared_to_region,
    )


def _observations(
    session: Session,
    indicator_id: str,
    breakdown: Breakdown,
    *,
    area_codes: Iterable[str] | None = None,
    sortable: int | None = None,
) -> list[Point]:
    query = (
        select(m.Observation, Area)
        .join(Area, Area.code == m.Observation.area_code)
        .where(
            m.Observation.indicator_id == indicator_id,
            m.Observation.sex == breakdown.sex,
            m.Observation.age == breakdown.age,
            m.Observation.category_type == breakdown.category_type,
            m.Observation.category == breakdown.category,
        )
        .order_by(m.Observation.time_period_sortable, m.Observation.area_code)
    )
    if area_codes is not None:
        query = query.where(m.Observation.area_code.in_(list(area_codes)))
    if sortable is not None:
        query = query.where(m.Observation.time_period_sortable == sortable)
    return [point_of(obs, area) for obs, area in session.execute(query).all()]


def breakdowns(session: Session, indicator_id: str) -> list[Breakdown]:
    """Every breakdown an indicator has data for, most common first."""
    rows = session.execute(
        select(
            m.Observation.sex,
            m.Observation.age,
            m.Observation.category_type,
            m.Observation.category,
            func.count(),
        )
        .where(m.Observation.indicator_id == indicator_id)
        .group_by(
            m.Observation.sex,
            m.Observation.age,
            m.Observation.category_type,
            m.Observation.category,
        )
    ).all()
    ordered = sorted(rows, key=lambda r: (-r[4], r[0], r[1], r[2], r[3]))
    return [Breakdown(sex, age, ctype, cat) for sex, age, ctype, cat, _ in ordered]


def headline_breakdown(session: Session, indicator_id: str) -> Breakdown | None:
    """Persons, no category, at the indicator's usual age; else the commonest series."""
    found = breakdowns(session, indicator_id)
    if not found:
        return None
    indicator = session.get(m.Indicator, indicator_id)
    preferred_age = indicator.age if indicator is not None else None
    plain = [b for b in found if not b.category_type and not b.category]
    for candidates in (
        [b for b in plain if b.sex == m.ALL_PERSONS and b.age == preferred_age],
        [b for b in plain if b.sex == m.ALL_PERSONS],
        plain,
        found,
    ):
        if candidates:
            return candidates[0]
    return None


def periods(session: Session, indicator_id: str, breakdown: Breakdown) -> list[tuple[str, int]]:
    """The periods an indicator has data for, oldest first, as (label, sortable)."""
    rows = session.execute(
        select(m.Observation.period, m.Observation.time_period_sortable)
        .where(
            m.Observation.indicator_id == indicator_id,
            m.Observation.sex == breakdown.sex,
            m.Observation.age == breakdown.age,
            m.Observation.category_type == breakdown.category_type,
            m.Observation.category == breakdown.category,
        )
        .distinct()
    ).all()
    return sorted(((p, s) for p, s in rows), key=lambda r: (r[1], r[0]))


def areas_within(session: Session, ancestor: str, area_type: str | None = None) -> list[Area]:
    """Areas below ``ancestor`` at any depth (boroughs sit under sub-regions), by name."""
    children: dict[str | None, list[Area]] = defaultdict(list)
    for area in session.scalars(select(Area)):
        children[area.parent_code].append(area)
    found: list[Area] = []
    stack = [ancestor]
    seen = {ancestor}
    while stack:
        for child in children.get(stack.pop(), []):
            if child.code in seen:
                continue
            seen.add(child.code)
            stack.append(child.code)
            if area_type is None or child.area_type == area_type:
                found.append(child)
    return sorted(found, key=lambda a: a.name)


def _compare(
    indicator: IndicatorInfo,
    point: Point,
    benchmark: Point | None,
    comparison: str | None = None,
) -> Judgement | None:
    if benchmark is None or point.area_code == benchmark.area_code:
        return None
    return compare_point(indicator, point, benchmark, comparison)


# ---------------------------------------------------------------------------- queries


def latest_values(
    session: Session,
    indicator_id: str,
    *,
    benchmark: str = ENGLAND,
    area_codes: Sequence[str] | None = None,
    breakdown: Breakdown | None = None,
    period: str | None = None,
    comparison: str | None = None,
) -> LatestTable | None:
    """An indicator's latest period (or ``period``) for the areas asked, each compared
    with ``benchmark`` by the reader's ``comparison`` method (``compare.Choice``);
    ``area_codes`` None means every area with data."""
    row = session.get(m.Indicator, indicator_id)
    if row is None:
        return None
    info = indicator_info(row)
    chosen = breakdown or headline_breakdown(session, indicator_id)
    if chosen is None:
        return LatestTable(info, Breakdown(), None, None, [], False)
    known = periods(session, indicator_id, chosen)
    if period is not None:
        known = [p for p in known if p[0] == period]
    if not known:
        return LatestTable(info, chosen, None, None, [], False)
    label, sortable = known[-1]
    codes = None if area_codes is None else [*area_codes, benchmark]
    points = _observations(session, indicator_id, chosen, area_codes=codes, sortable=sortable)
    points = [p for p in points if p.period == label]
    reference = next((p for p in points if p.area_code == benchmark), None)
    wanted = set(area_codes) if area_codes is not None else None
    shown = [p for p in points if wanted is None or p.area_code in wanted]
    judged = compare_points(info, shown, reference, comparison)
    rows = [AreaValue(p, j) for p, j in zip(shown, judged, strict=True)]
    illustrative = any(p.illustrative for p in points)
    return LatestTable(info, chosen, label, reference, rows, illustrative)


def time_series(
    session: Session,
    indicator_id: str,
    area_codes: Sequence[str],
    *,
    breakdown: Breakdown | None = None,
) -> dict[str, list[Point]]:
    """Each area's points over time, oldest first (areas without data map to [])."""
    chosen = breakdown or headline_breakdown(session, indicator_id)
    series: dict[str, list[Point]] = {code: [] for code in area_codes}
    if chosen is None:
        return series
    for point in _observations(session, indicator_id, chosen, area_codes=area_codes):
        series[point.area_code].append(point)
    return series


def recent_trend(
    session: Session, indicator_id: str, area_code: str, *, breakdown: Breakdown | None = None
) -> Trend | None:
    """The recent trend of one area (the last five points, Fingertips' rule)."""
    row = session.get(m.Indicator, indicator_id)
    if row is None:
        return None
    points = time_series(session, indicator_id, [area_code], breakdown=breakdown)[area_code]
    return trend_of(indicator_info(row), points)


def spread(values: Sequence[float], judged: Sequence[Judgement | None] = ()) -> Spread:
    """Quartiles of ``values`` (linear interpolation) and counts of each judgement."""
    ordered = sorted(values)
    # Two-level labels ("better (99.8%)") count with their outcome ("better").
    counts = Counter(j.outcome.split(" (")[0] if j is not None else "not compared" for j in judged)

    def quantile(q: float) -> float | None:
        if not ordered:
            return None
        position = q * (len(ordered) - 1)
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return Spread(
        count=len(ordered),
        minimum=ordered[0] if ordered else None,
        q1=quantile(0.25),
        median=quantile(0.5),
        q3=quantile(0.75),
        maximum=ordered[-1] if ordered else None,
        better=counts.get("better", 0),
        similar=counts.get("similar", 0),
        worse=counts.get("worse", 0),
        not_compared=sum(n for k, n in counts.items() if k not in ("better", "similar", "worse")),
        as_published=sum(1 for j in judged if j is not None and j.as_published),
    )


def indicator_summaries(
    session: Session,
    *,
    link_kind: str | None = None,
    slug: str | None = None,
    indicator_ids: Sequence[str] | None = None,
    city: str = DEFAULT_CITY,
    country: str = ENGLAND,
) -> list[IndicatorSummary]:
    """The indicator list: each indicator's latest city and country values, the city's
    comparison with the country, its recent trend, its targets' progress and how the
    city's local authorities compare. Filter by a link (an aspiration or commitment
    slug) or by ids; pack indicators come in catalogue order, then the rest by name."""
    query = select(m.Indicator)
    if link_kind is not None or slug is not None:
        link = select(m.IndicatorLink.indicator_id)
        if link_kind is not None:
            link = link.where(m.IndicatorLink.kind == link_kind)
        if slug is not None:
            link = link.where(m.IndicatorLink.slug == slug)
        query = query.where(m.Indicator.id.in_(link))
    if indicator_ids is not None:
        query = query.where(m.Indicator.id.in_(list(indicator_ids)))
    rows = session.scalars(query).all()
    rows = sorted(rows, key=lambda r: (r.sort_order is None, r.sort_order or 0, r.name))
    boroughs = [a.code for a in areas_within(session, city, "local_authority")]
    summaries = []
    for row in rows:
        info = indicator_info(row)
        chosen = headline_breakdown(session, row.id)
        targets_rows = list(row.targets)
        if chosen is None:
            absent = missing_reason(session, row.id, city)
            summaries.append(
                IndicatorSummary(
                    info,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                    target_progress(info, targets_rows, [], absent),
                    None,
                    False,
                    absent,
                )
            )
            continue
        latest = latest_values(
            session, row.id, benchmark=country, area_codes=[city, *boroughs], breakdown=chosen
        )
        assert latest is not None
        by_code = {r.point.area_code: r for r in latest.rows}
        city_row = by_code.get(city)
        history = time_series(session, row.id, [city], breakdown=chosen)[city]
        missing = None if city_row else missing_reason(session, row.id, city, chosen)
        local = [r for r in latest.rows if r.point.area_code in set(boroughs)]
        values = [r.point.value for r in local if r.point.value is not None]
        summaries.append(
            IndicatorSummary(
                indicator=info,
                breakdown=chosen,
                period=latest.period,
                city=city_row.point if city_row else None,
                country=latest.benchmark,
                comparison=city_row.comparison if city_row else None,
                trend=trend_of(info, history),
                targets=target_progress(
                    info,
                    targets_rows,
                    history,
                    None if history else missing or missing_reason(session, row.id, city, chosen),
                ),
                boroughs=spread(values, [r.comparison for r in local]) if local else None,
                illustrative=latest.illustrative,
                city_missing=missing,
                city_points=sum(1 for p in history if p.value is not None),
            )
        )
    return summaries


def is_population(info: IndicatorInfo) -> bool:
    """A population count (what the area page's pyramid draws): context, not an outcome.
    Set against England's or spread across areas it measures their size, not how they
    are doing, so the spine chart and the inequalities page leave it out."""
    return info.value_type in (m.COUNT, m.OTHER) and "population" in info.name.lower()


def area_profile(
    session: Session,
    area_code: str,
    *,
    benchmark: str = ENGLAND,
    indicator_ids: Sequence[str] | None = None,
    comparison: str | None = None,
) -> list[SpineRow]:
    """An area's spine chart: for every indicator with data for the area, its latest
    value, the benchmark's, our comparison and the spread across peer areas (areas of
    the same type with data for that period; for a London borough: every local
    authority loaded, all of England's when Fingertips data were imported)."""
    area = session.get(Area, area_code)
    if area is None:
        return []
    ids = session.scalars(
        select(m.Observation.indicator_id).where(m.Observation.area_code == area_code).distinct()
    ).all()
    if indicator_ids is not None:
        ids = [i for i in ids if i in set(indicator_ids)]
    peer_codes = set(
        session.scalars(select(Area.code).where(Area.area_type == area.area_type)).all()
    )
    found: list[SpineRow] = []
    for row in session.scalars(select(m.Indicator).where(m.Indicator.id.in_(list(ids)))):
        info = indicator_info(row)
        if is_population(info):
            continue
        chosen = headline_breakdown(session, row.id)
        if chosen is None:
            continue
        mine = time_series(session, row.id, [area_code], breakdown=chosen)[area_code]
        if not mine:
            continue
        latest = mine[-1]
        at_period = _observations(session, row.id, chosen, sortable=latest.time_period_sortable)
        at_period = [p for p in at_period if p.period == latest.period]
        reference = next((p for p in at_period if p.area_code == benchmark), None)
        peers = [p for p in at_period if p.area_code in peer_codes and p.value is not None]
        found.append(
            SpineRow(
                indicator=info,
                breakdown=chosen,
                period=latest.period,
                area=latest,
                benchmark=reference,
                comparison=_compare(info, latest, reference, comparison),
                peers=spread(
                    [p.value for p in peers if p.value is not None],
                    compare_points(info, peers, reference, comparison),
                ),
                peer_type=area.area_type,
            )
        )
    order = dict(session.execute(select(m.Indicator.id, m.Indicator.sort_order)).all())

    def catalogue_order(row: SpineRow) -> tuple[bool, int, str]:
        position = order.get(row.indicator.id)
        return (position is None, position or 0, row.indicator.name)

    return sorted(found, key=catalogue_order)


def data_status(session: Session) -> DataStatus:
    """When the data last changed and whether any of what is shown is illustrative."""
    counts = dict(
        session.execute(
            select(m.Observation.illustrative, func.count()).group_by(m.Observation.illustrative)
        ).all()
    )
    last = session.execute(select(func.max(m.DataRelease.loaded_at))).scalar()
    releases = session.execute(select(func.count()).select_from(m.DataRelease)).scalar_one()
    illustrative = int(counts.get(True, 0))
    real = real_data(session)
    return DataStatus(
        last_updated=last,
        illustrative=illustrative > 0,
        real_observations=int(counts.get(False, 0)),
        illustrative_observations=illustrative,
        releases=int(releases),
        real_indicators=real.real,
        indicators=real.total,
    )
