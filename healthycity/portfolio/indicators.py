"""Outcome indicators as the workspace shows them, read through `outcomes.queries`.

The outcomes module owns indicators and their judgements; this adapter only asks it.
When it cannot answer (not installed yet, no data loaded, or a failure inside it) the
workspace still works: it lists the linked indicator ids and says why there is no status.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from sqlalchemy.orm import Session

from healthycity.geography.service import city_code

log = logging.getLogger(__name__)
UNAVAILABLE = "Indicator values are not available: the outcomes data have not been loaded."


@dataclass(frozen=True)
class IndicatorStatus:
    id: str
    name: str
    period: str | None = None
    value: float | None = None
    unit: str | None = None
    comparison: str | None = None
    trend: str | None = None


@dataclass(frozen=True)
class BoroughValue:
    indicator: str
    area_code: str
    area_name: str
    period: str | None
    value: float | None
    london: float | None
    comparison: str | None


def _queries() -> ModuleType | None:
    try:
        from healthycity.outcomes import queries
    except Exception:  # noqa: BLE001 - another module's absence must not break these pages
        return None
    return queries


def _label(judgement: Any) -> str | None:
    """A judgement or trend as words ("Better", "Decreasing and getting better")."""
    if judgement is None:
        return None
    for name in ("label", "outcome", "text", "value", "name"):
        value = getattr(judgement, name, None)
        if isinstance(value, str) and value:
            return value[:1].upper() + value[1:]
    return None


def programme_indicators(
    session: Session, indicator_ids: Sequence[str], aspirations: Sequence[str]
) -> tuple[list[IndicatorStatus], str | None]:
    """The current status of a programme's indicators: those linked to it directly and
    those measuring the aspirations it supports. Returns (statuses, a note if degraded)."""
    queries = _queries()
    fallback = [IndicatorStatus(id=i, name=i) for i in indicator_ids]
    if queries is None or not hasattr(queries, "indicator_summaries"):
        return fallback, UNAVAILABLE
    try:
        summaries = list(queries.indicator_summaries(session, indicator_ids=list(indicator_ids)))
        for slug in aspirations:
            summaries += queries.indicator_summaries(session, link_kind="aspiration", slug=slug)
    except Exception:  # noqa: BLE001 - degrade to the ids, never fail the programme page
        log.warning("outcomes.queries could not answer for the programme page", exc_info=True)
        return fallback, UNAVAILABLE
    seen: set[str] = set()
    statuses = []
    for summary in summaries:
        info = summary.indicator
        if info.id in seen:
            continue
        seen.add(info.id)
        city = summary.city
        statuses.append(
            IndicatorStatus(
                id=info.id,
                name=info.name,
                period=summary.period,
                value=getattr(city, "value", None),
                unit=info.unit,
                comparison=_label(summary.comparison),
                trend=_label(summary.trend),
            )
        )
    if not statuses:
        return fallback, (UNAVAILABLE if indicator_ids or aspirations else None)
    note = None if any(s.value is not None for s in statuses) else UNAVAILABLE
    return statuses, note


def borough_values(
    session: Session, area_codes: Sequence[str], limit: int = 12
) -> tuple[list[BoroughValue], str | None]:
    """For a service change's affected boroughs: each pack indicator's latest value there
    and how it compares with London's (the health-inequality assurance's evidence)."""
    queries = _queries()
    if queries is None or not hasattr(queries, "latest_values"):
        return [], UNAVAILABLE
    rows: list[BoroughValue] = []
    try:
        city = city_code(session)
        summaries = list(queries.indicator_summaries(session))[:limit]
        for summary in summaries:
            table = queries.latest_values(
                session, summary.indicator.id, benchmark=city, area_codes=list(area_codes)
            )
            if table is None or table.period is None:
                continue
            london = table.benchmark.value if table.benchmark is not None else None
            for row in table.rows:
                rows.append(
                    BoroughValue(
                        indicator=summary.indicator.name,
                        area_code=row.point.area_code,
                        area_name=row.point.area_name,
                        period=table.period,
                        value=row.point.value,
                        london=london,
                        comparison=_label(row.comparison),
                    )
                )
    except Exception:  # noqa: BLE001 - the assessment page must still open
        log.warning("outcomes.queries could not answer for the inequality view", exc_info=True)
        return [], UNAVAILABLE
    return rows, (None if rows else UNAVAILABLE)
