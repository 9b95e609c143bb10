"""The partnership's delivery in the review: what it spent, how confident it is, what it
promised in the devolution agreement, which service changes it assessed, and what it did
with what Londoners said.

Only what is public by nature, read through each module's public face:
``portfolio.overview`` (programme money and delivery confidence ratings — never the
assessors' commentary, risks or notes), the devolution register, the published service
change assessments (``assurance.service.published``) and the closed consultations with
a published "you said, we did" (``engagement.service.public``). Drafts, proposals not
yet published and anything else private to the workspace never reach the review.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from healthycity.portfolio import overview, service

DCA_ORDER = ("Green", "Amber/Green", "Amber", "Amber/Red", "Red")


@dataclass(frozen=True)
class ProgrammeMoney:
    slug: str
    name: str
    budget: Decimal
    baseline: Decimal | None
    spend: Decimal
    outturn: Decimal
    variance_pct: Decimal | None
    rating: str | None
    rated_on: date | None


@dataclass(frozen=True)
class PilotStatus:
    name: str
    theme: str
    status: str | None


@dataclass(frozen=True)
class ServiceChange:
    id: int
    title: str
    published: date | None
    verdicts: list[tuple[str, str]]  # (test, verdict label), the Mayor's and the NHS's

    @property
    def href(self) -> str:
        return f"/service-changes/{self.id}"


@dataclass(frozen=True)
class YouSaid:
    slug: str
    title: str
    closed: date
    we_did: str

    @property
    def href(self) -> str:
        return f"/consultations/{self.slug}"


@dataclass
class Delivery:
    financial_year: str
    programmes: list[ProgrammeMoney]
    ratings: list[tuple[str, int]]
    unrated: int
    pledges_agreed: int | None
    pledges_recorded: int
    pledges_delivered: int
    pilots: list[PilotStatus]
    service_changes: list[ServiceChange] = field(default_factory=list)
    you_said: list[YouSaid] = field(default_factory=list)

    @property
    def budget(self) -> Decimal:
        return sum((p.budget for p in self.programmes), Decimal("0.00"))

    @property
    def baseline(self) -> Decimal:
        return sum((p.baseline or Decimal("0.00") for p in self.programmes), Decimal("0.00"))

    @property
    def spend(self) -> Decimal:
        return sum((p.spend for p in self.programmes), Decimal("0.00"))

    @property
    def outturn(self) -> Decimal:
        return sum((p.outturn for p in self.programmes), Decimal("0.00"))


def _service_changes(session: Session, year: int) -> list[ServiceChange]:
    from healthycity.assurance import service as assurance

    found = []
    for proposal in assurance.published(session):
        when = proposal.published_at.date() if proposal.published_at else None
        if when is not None and when.year > year:
            continue
        rows = assurance.verdict_rows(session, proposal)
        found.append(
            ServiceChange(proposal.id, proposal.title, when, [(r.test.name, r.label) for r in rows])
        )
    return found


def _you_said(session: Session, year: int) -> list[YouSaid]:
    from healthycity.engagement import service as engagement

    return [
        YouSaid(c.slug, c.title, c.closes_on, c.we_did)
        for c in engagement.public(session)
        if c.we_did and c.closes_on.year <= year
    ]


def delivery(session: Session, year: int) -> Delivery:
    """Delivery as at 31 December ``year``: money for the financial year that date falls
    in (or the latest with a baseline before it), each programme's latest rating by then."""
    end = date(year, 12, 31)
    financial_year = service.financial_year_of(end)
    summary = overview.summarise(session, financial_year, as_of=end)
    if not any(p.finance.baseline is not None for p in summary.programmes):
        fallback = service.default_year(session)
        if fallback <= financial_year:
            financial_year = fallback
            summary = overview.summarise(session, financial_year, as_of=end)
    programmes = []
    for row in summary.programmes:
        rated = [c for c in row.confidence if c.assessed_on <= end]
        latest = max(rated, key=lambda c: (c.assessed_on, c.id)) if rated else None
        programmes.append(
            ProgrammeMoney(
                slug=row.programme.slug,
                name=row.programme.name,
                budget=row.programme.whole_life_budget,
                baseline=row.finance.baseline,
                spend=row.finance.actual_to_date,
                outturn=row.finance.outturn,
                variance_pct=row.finance.variance_pct,
                rating=latest.rating if latest else None,
                rated_on=latest.assessed_on if latest else None,
            )
        )
    counts = Counter(p.rating for p in programmes if p.rating)
    register = overview.register(session)
    return Delivery(
        financial_year=financial_year,
        programmes=programmes,
        ratings=[(r, counts.get(r, 0)) for r in DCA_ORDER],
        unrated=sum(1 for p in programmes if p.rating is None),
        pledges_agreed=register.expected,
        pledges_recorded=register.recorded,
        pledges_delivered=register.delivered,
        pilots=[PilotStatus(p.name, p.theme, p.status) for p in register.pilots],
        service_changes=_service_changes(session, year),
        you_said=_you_said(session, year),
    )
