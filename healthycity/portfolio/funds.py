"""Grants from the transformation fund to pilots and programmes, which must reconcile
with the category they come from: refused with the category and the difference."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from healthycity.core.errors import Invalid
from healthycity.core.money import pounds
from healthycity.portfolio.models import (
    FUND_CATEGORIES,
    FundGrant,
    Pilot,
    Programme,
    TransformationFund,
)

RECIPIENT_KINDS = ("pilot", "programme")


def grant(
    session: Session,
    period: str,
    category: str,
    recipient_kind: str,
    recipient: str,
    amount: Decimal,
) -> FundGrant:
    """Give ``amount`` of one category of the year's fund to a pilot or a programme.

    Refused when the category's grants would add up to more than the category holds
    (the message names the category and the difference), when the category has no
    amount yet, or when the recipient does not exist.
    """
    names = dict(FUND_CATEGORIES)
    fund = session.get(TransformationFund, period)
    if fund is None:
        raise Invalid({"period": f"there is no transformation fund for {period}"})
    allocation = next((a for a in fund.allocations if a.category == category), None)
    if allocation is None or category not in names:
        raise Invalid({"category": f"{period} has no category {category!r}"})
    if recipient_kind not in RECIPIENT_KINDS:
        raise Invalid({"recipient_kind": "give a pilot or a programme"})
    model = Pilot if recipient_kind == "pilot" else Programme
    if session.get(model, recipient) is None:
        raise Invalid({"recipient": f"there is no {recipient_kind} {recipient!r}"})
    if amount <= 0:
        raise Invalid({"amount": "give an amount above £0"})
    name = names[category]
    if allocation.amount is None:
        raise Invalid({"category": f"{name} has no amount for {period} yet: split the fund first"})
    granted = sum((g.amount for g in fund.grants if g.category == category), Decimal("0.00"))
    if granted + amount > allocation.amount:
        over = granted + amount - allocation.amount
        raise Invalid(
            {
                "amount": f"{name}: grants would add up to {pounds(granted + amount)}, "
                f"{pounds(over)} more than the {pounds(allocation.amount)} the category holds"
            }
        )
    row = FundGrant(
        fund_period=period,
        category=category,
        recipient_kind=recipient_kind,
        recipient=recipient,
        amount=amount,
    )
    fund.grants.append(row)
    session.flush()
    return row
