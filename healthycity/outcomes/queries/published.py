"""Reads about where figures come from: judgements as published, disagreements with
ours, why a city figure is missing, and how many indicators show real figures.

- A row without an interval but with the publisher's comparison is judged "as
  published" (``values.Judgement.as_published``); with an interval ours is used, and
  ``published_disagreements`` lists where the publisher said otherwise.
- ``missing_reason`` says why the city (London) has no figure: no row in the data, and
  the boroughs have no counts to compute one from (``healthycity.outcomes.aggregate``).
- ``real_data`` counts the indicators that show published figures, for the banner
  ("N of M indicators show published figures").
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthycity.geography.models import Area
from healthycity.geography.service import ENGLAND
from healthycity.outcomes import models as m
from healthycity.outcomes.queries.values import (
    Breakdown,
    Point,
    compare_points,
    published_for,
    published_outcome,
)


@dataclass(frozen=True)
class Disagreement:
    """An area whose published judgement differs from ours (both made on an interval)."""

    area_code: str
    area_name: str
    period: str
    breakdown: Breakdown
    ours: str
    published: str
    benchmark_code: str


@dataclass(frozen=True)
class RealData:
    """How many of the site's indicators show published (real) figures."""

    real: int
    illustrative: int
    without_data: int
    total: int

    @property
    def banner(self) -> str:
        return f"{self.real} of {self.total} indicators show published figures"


def published_disagreements(
    session: Session, indicator_id: str, *, benchmark: str = ENGLAND
) -> list[Disagreement]:
    """Every row where our judgement against ``benchmark`` (England, or a region) differs
    from the publisher's, newest period first."""
    from healthycity.outcomes.queries.reading import indicator_info, point_of

    row = session.get(m.Indicator, indicator_id)
    if row is None:
        return []
    info = indicator_info(row)
    found = session.execute(
        select(m.Observation, Area)
        .join(Area, Area.code == m.Observation.area_code)
        .where(m.Observation.indicator_id == indicator_id)
        .order_by(m.Observation.time_period_sortable.desc(), m.Observation.area_code)
    ).all()
    points = [point_of(obs, area) for obs, area in found]
    groups: dict[tuple[Breakdown, str], list[Point]] = {}
    for point in points:
        groups.setdefault((point.breakdown, point.period), []).append(point)
    listed: list[Disagreement] = []
    for (breakdown, period), members in groups.items():
        reference = next((p for p in members if p.area_code == benchmark), None)
        if reference is None:
            continue
        for point, judged in zip(members, compare_points(info, members, reference), strict=True):
            if judged is None or judged.as_published:
                continue
            text = published_for(point, reference)
            said = published_outcome(text)
            ours = judged.outcome.split(" (")[0]
            if said is not None and text is not None and said != ours:
                listed.append(
                    Disagreement(
                        point.area_code,
                        point.area_name,
                        period,
                        breakdown,
                        ours,
                        text,
                        benchmark,
                    )
                )
    return listed


def missing_reason(
    session: Session, indicator_id: str, area_code: str, breakdown: Breakdown | None = None
) -> str | None:
    """Why ``area_code`` (the city, a sub-region) has no figure for an indicator, or None
    when it has one. Its parts are its local authorities."""
    from healthycity.outcomes.queries.reading import areas_within

    conditions = [m.Observation.indicator_id == indicator_id]
    if breakdown is not None:
        conditions += [
            m.Observation.sex == breakdown.sex,
            m.Observation.age == breakdown.age,
            m.Observation.category_type == breakdown.category_type,
            m.Observation.category == breakdown.category,
        ]
    own = session.execute(
        select(func.count()).where(
            *conditions, m.Observation.area_code == area_code, m.Observation.value.is_not(None)
        )
    ).scalar_one()
    if own:
        return None
    area = session.get(Area, area_code)
    name = area.name if area is not None else area_code
    parts = [a.code for a in areas_within(session, area_code, "local_authority")]
    with_values, with_counts = session.execute(
        select(
            func.count(m.Observation.value),
            func.count(m.Observation.denominator),
        ).where(*conditions, m.Observation.area_code.in_(parts))
    ).one()
    if not with_values:
        return f"no figure for {name}: the data have no {name} row and none for its boroughs"
    if not with_counts:
        return (
            f"no figure for {name}: the data have no {name} row, and the boroughs' rows "
            "have no counts and denominators to compute one from"
        )
    indicator = session.get(m.Indicator, indicator_id)
    kind = indicator.value_type if indicator is not None else m.OTHER
    if kind == m.DSR:
        return (
            f"no figure for {name}: the data have no {name} row, and a directly "
            "standardised rate is computed from its boroughs only when every borough with "
            "data has a count and population for each of the 19 ESP2013 age bands"
        )
    if kind not in (m.PROPORTION, m.CRUDE_RATE):
        return (
            f"no figure for {name}: the data have no {name} row, and a {kind} is not "
            "computed from its boroughs here"
        )
    return (
        f"no figure for {name}: the data have no {name} row, and not every borough with "
        "data has its count and denominator, so no total is computed from a partial set"
    )


def real_data(session: Session) -> RealData:
    """Indicators showing published figures, illustrative ones and those without data
    (the demo's own population indicator is not counted)."""
    ids = set(
        session.scalars(select(m.Indicator.id).where(m.Indicator.source != m.SOURCE_DEMO)).all()
    )
    kinds = session.execute(
        select(m.Observation.indicator_id, m.Observation.illustrative).distinct()
    ).all()
    real = {i for i, illustrative in kinds if not illustrative and i in ids}
    shown = {i for i, illustrative in kinds if illustrative and i in ids} - real
    return RealData(
        real=len(real),
        illustrative=len(shown),
        without_data=len(ids - real - shown),
        total=len(ids),
    )
