"""Grants from the transformation fund to pilots and programmes, which must reconcile
with the fund they come from: refused with the category and the difference.

Two totals are held, both in exact pounds and pence (`Decimal`, stored `Numeric(14, 2)`):
the grants from one category never add up to more than the category holds, and the
grants from a year's fund never add up to more than its total. A withdrawn grant no
longer counts against either, so withdrawing one frees its money; a fund's split cannot
be changed to leave a category holding less than is already granted from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
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
from healthycity.portfolio.schemas import GrantIn

RECIPIENT_KINDS = ("pilot", "programme")
ZERO = Decimal("0.00")
GRANT_FIELDS = (
    "category",
    "recipient_kind",
    "recipient",
    "recipient_name",
    "amount",
    "awarded_on",
    "purpose",
    "status",
    "note",
)


def granted(grants: Iterable[FundGrant], category: str | None = None) -> Decimal:
    """What the counted (not withdrawn) grants add up to, in one category or in all."""
    return sum(
        (g.amount for g in grants if g.counts and (category is None or g.category == category)),
        ZERO,
    )


@dataclass(frozen=True)
class FundTotal:
    """A fund against its grants: what it holds, what is granted and what is left."""

    period: str
    total: Decimal
    granted: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.total - self.granted


def fund_total(fund: TransformationFund) -> FundTotal:
    return FundTotal(fund.period, fund.total, granted(fund.grants))


def _check(
    session: Session,
    fund: TransformationFund,
    category: str,
    recipient_kind: str,
    recipient: str,
    amount: Decimal,
    *,
    counts: bool,
    leaving: FundGrant | None = None,
) -> None:
    """Refuse a grant the fund cannot hold; ``leaving`` is the grant being changed, whose
    old amount no longer counts."""
    names = dict(FUND_CATEGORIES)
    period = fund.period
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
    if not counts:
        return
    others = [g for g in fund.grants if g is not leaving]
    in_category = granted(others, category) + amount
    if in_category > allocation.amount:
        over = in_category - allocation.amount
        raise Invalid(
            {
                "amount": f"{name}: grants would add up to {pounds(in_category)}, "
                f"{pounds(over)} more than the {pounds(allocation.amount)} the category holds"
            }
        )
    in_fund = granted(others) + amount
    if in_fund > fund.total:
        over = in_fund - fund.total
        raise Invalid(
            {
                "amount": f"the {period} fund: grants would add up to {pounds(in_fund)}, "
                f"{pounds(over)} more than its total of {pounds(fund.total)}"
            }
        )


def _fund(session: Session, period: str) -> TransformationFund:
    fund = session.get(TransformationFund, period)
    if fund is None:
        raise Invalid({"fund_period": f"there is no transformation fund for {period}"})
    return fund


def grant(
    session: Session,
    period: str,
    category: str,
    recipient_kind: str,
    recipient: str,
    amount: Decimal,
    *,
    recipient_name: str | None = None,
    awarded_on: date | None = None,
    purpose: str | None = None,
    status: str = "approved",
) -> FundGrant:
    """Give ``amount`` of one category of the year's fund to a pilot or a programme.

    Refused when the category's grants would add up to more than the category holds
    (the message names the category and the difference), when the fund's would add up
    to more than its total, when the category has no amount yet, or when the recipient
    does not exist.
    """
    fund = _fund(session, period)
    _check(
        session,
        fund,
        category,
        recipient_kind,
        recipient,
        amount,
        counts=status != "withdrawn",
    )
    row = FundGrant(
        fund_period=period,
        category=category,
        recipient_kind=recipient_kind,
        recipient=recipient,
        amount=amount,
        recipient_name=recipient_name,
        awarded_on=awarded_on,
        purpose=purpose,
        status=status,
    )
    fund.grants.append(row)
    session.flush()
    return row


def create_grant(session: Session, data: GrantIn) -> FundGrant:
    """A grant entered in the workspace or through the API (validated `GrantIn`)."""
    row = grant(
        session,
        data.fund_period,
        data.category,
        data.recipient_kind,
        data.recipient,
        data.amount,
        recipient_name=data.recipient_name,
        awarded_on=data.awarded_on,
        purpose=data.purpose,
        status=data.status,
    )
    row.note = data.note
    session.flush()
    return row


def update_grant(session: Session, row: FundGrant, data: GrantIn) -> None:
    """Change a grant; the fund is checked as if the old amount were gone."""
    if data.fund_period != row.fund_period:
        raise Invalid({"fund_period": "a grant's fund cannot be changed; withdraw it instead"})
    fund = _fund(session, row.fund_period)
    _check(
        session,
        fund,
        data.category,
        data.recipient_kind,
        data.recipient,
        data.amount,
        counts=data.status != "withdrawn",
        leaving=row,
    )
    for name in GRANT_FIELDS:
        setattr(row, name, getattr(data, name))
    session.flush()


def grant_input(row: FundGrant) -> dict[str, object]:
    """A grant's current values, as the edit form and a PATCH start from."""
    return {"fund_period": row.fund_period, **{n: getattr(row, n) for n in GRANT_FIELDS}}


def check_fund_covers_grants(fund: TransformationFund) -> None:
    """A fund's total and split may not fall below what is already granted from them."""
    names = dict(FUND_CATEGORIES)
    errors: dict[str, str] = {}
    for allocation in fund.allocations:
        given = granted(fund.grants, allocation.category)
        if given and (allocation.amount is None or allocation.amount < given):
            held = pounds(allocation.amount) if allocation.amount is not None else "nothing"
            errors[f"allocations.{allocation.category}"] = (
                f"{names.get(allocation.category, allocation.name)}: {pounds(given)} is "
                f"granted already, {held} would not cover it"
            )
    given = granted(fund.grants)
    if given > fund.total:
        errors["total"] = (
            f"{pounds(given)} is granted from the {fund.period} fund already, "
            f"{pounds(given - fund.total)} more than a total of {pounds(fund.total)}"
        )
    if errors:
        raise Invalid(errors)
