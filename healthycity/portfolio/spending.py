"""Entering a month's spend from the forms and the API: a month that already holds spend
is replaced only when the person confirms it (``replace``), so nothing is overwritten
silently; imports replace months by design (`service.record_spend`)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from healthycity.core.errors import Invalid
from healthycity.core.money import pounds
from healthycity.portfolio import schemas, service
from healthycity.portfolio.models import MonthlySpend


def _figure(value: Decimal | None) -> str:
    return "none" if value is None else pounds(value)


def record_month(session: Session, data: schemas.SpendIn) -> MonthlySpend:
    programme = service.get_programme(session, data.programme_slug) if data.programme_slug else None
    existing = (
        next((r for r in programme.spend if r.month == data.month), None) if programme else None
    )
    if existing is not None and not data.replace:
        raise Invalid(
            {
                "replace": f"{data.month:%B %Y} already has spend recorded (actual "
                f"{_figure(existing.actual)}, forecast {_figure(existing.forecast)}); choose "
                "“Yes, replace it” to overwrite it, or see the month's history first",
            }
        )
    return service.record_spend(session, data)
