"""The portfolio as the public and the programme office see it at a glance: spend to
date against profile, delivery confidence over time, milestones due and met, what each
programme serves, and the devolution register counted against the agreement.

Read-only, over the session given. Only fields that are public by nature are gathered
here (see `PRIVATE_FIELDS`): risks, contacts, notes and assessors stay in the workspace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.errors import NotFound
from healthycity.geography import service as geography
from healthycity.portfolio import service
from healthycity.portfolio.models import (
    FUND_CATEGORIES,
    PORTFOLIO_LINE_KIND,
    ConfidenceAssessment,
    DevolutionAgreement,
    DevolutionArea,
    Milestone,
    Pilot,
    Programme,
    TransformationFund,
)

ZERO = Decimal("0.00")

# Fields the workspace keeps private: never on a public page or in its twins. A test
# fills each with a marker and checks that no public answer carries it.
PRIVATE_FIELDS: dict[str, tuple[str, ...]] = {
    "programme_stakeholder": ("contact", "note"),
    "monthly_spend": ("note",),
    "milestone": ("notes",),
    "confidence_assessment": ("assessor", "commentary"),
    "programme_risk": ("title", "description", "owner", "mitigation"),
    "budget_baseline": ("variance_explanation",),
}


@dataclass(frozen=True)
class Link:
    """Something a programme serves: an aspiration or a shared objective."""

    slug: str
    title: str
    href: str | None


@dataclass(frozen=True)
class MilestoneCount:
    total: int
    due: int
    met: int
    slipped: int


@dataclass
class ProgrammeSummary:
    programme: Programme
    finance: service.YearFinance
    profile_to_date: Decimal
    confidence: list[ConfidenceAssessment]
    milestones: MilestoneCount
    aspirations: list[Link] = field(default_factory=list)
    objectives: list[Link] = field(default_factory=list)

    @property
    def latest_rating(self) -> str | None:
        return self.confidence[-1].rating if self.confidence else None


@dataclass
class PortfolioSummary:
    financial_year: str
    as_of: date
    programmes: list[ProgrammeSummary]

    @property
    def budget(self) -> Decimal:
        return sum((p.programme.whole_life_budget for p in self.programmes), ZERO)

    @property
    def baseline(self) -> Decimal:
        return sum((p.finance.baseline or ZERO for p in self.programmes), ZERO)

    @property
    def spend_to_date(self) -> Decimal:
        return sum((p.finance.actual_to_date for p in self.programmes), ZERO)

    @property
    def profile_to_date(self) -> Decimal:
        return sum((p.profile_to_date for p in self.programmes), ZERO)

    @property
    def outturn(self) -> Decimal:
        return sum((p.finance.outturn for p in self.programmes), ZERO)

    @property
    def spend_recorded(self) -> bool:
        return any(
            p.finance.actual_to_date or p.finance.forecast_remaining for p in self.programmes
        )


def milestone_count(milestones: Sequence[Milestone], as_of: date) -> MilestoneCount:
    return MilestoneCount(
        total=len(milestones),
        due=sum(1 for m in milestones if (m.forecast_date or m.baseline_date) <= as_of),
        met=sum(1 for m in milestones if m.actual_date is not None),
        slipped=sum(1 for m in milestones if m.slipped),
    )


def profile_to_date(finance: service.YearFinance, last_month: date | None) -> Decimal:
    """The baseline pro rata for the months up to the last month with an actual."""
    if finance.baseline is None or last_month is None:
        return ZERO
    months = sum(1 for m in finance.months if m.month <= last_month)
    return service.money(finance.baseline * months / 12)


def _aspiration_titles(session: Session) -> dict[str, str]:
    try:
        from healthycity.outcomes.models import Aspiration
    except Exception:  # noqa: BLE001 - the outcomes module may be absent
        return {}
    return {a.slug: f"{a.number}. {a.title}" for a in session.scalars(select(Aspiration))}


def last_actual_month(programmes: Sequence[Programme], financial_year: str) -> date | None:
    months = service.financial_year_months(financial_year)
    recorded = [
        r.month for p in programmes for r in p.spend if r.actual is not None and r.month in months
    ]
    return max(recorded) if recorded else None


def summarise(
    session: Session, financial_year: str | None = None, as_of: date | None = None
) -> PortfolioSummary:
    """Every programme and portfolio line for ``financial_year`` (the latest with a
    baseline by default), with what it serves, its confidence history and milestones."""
    year = financial_year or service.default_year(session)
    today = as_of or date.today()
    programmes = service.programmes(session)
    last = last_actual_month(programmes, year)
    titles = _aspiration_titles(session)
    objectives = {o.slug: o for o in geography.shared_objectives(session)}
    rows = []
    for p in programmes:
        finance = service.year_finance(p, year)
        rows.append(
            ProgrammeSummary(
                programme=p,
                finance=finance,
                profile_to_date=profile_to_date(finance, last),
                confidence=list(p.confidence),
                milestones=milestone_count(p.milestones, today),
                aspirations=[Link(s, titles.get(s, s), f"/aspirations/{s}") for s in p.aspirations],
                objectives=[
                    Link(s, f"{objectives[s].number}. {objectives[s].text}", None)
                    for s in p.objectives
                    if s in objectives
                ],
            )
        )
    return PortfolioSummary(financial_year=year, as_of=today, programmes=rows)


def programme_summary(session: Session, slug: str, as_of: date | None = None) -> ProgrammeSummary:
    summary = summarise(session, as_of=as_of)
    for row in summary.programmes:
        if row.programme.slug == slug:
            return row
    raise NotFound(f"no programme {slug!r}")


def confidence_history(session: Session) -> list[ConfidenceAssessment]:
    """Every delivery confidence assessment across the portfolio, oldest first."""
    query = select(ConfidenceAssessment).order_by(
        ConfidenceAssessment.assessed_on, ConfidenceAssessment.programme_slug
    )
    return list(session.scalars(query))


def is_line(programme: Programme) -> bool:
    return programme.kind == PORTFOLIO_LINE_KIND


# ------------------------------------------------------------------ devolution register


@dataclass(frozen=True)
class AreaCount:
    area: DevolutionArea
    recorded: int
    delivered: int


@dataclass
class Register:
    agreement: DevolutionAgreement | None
    areas: list[AreaCount]
    pilots: list[Pilot]
    funds: list[TransformationFund]

    @property
    def expected(self) -> int | None:
        return self.agreement.pledges if self.agreement else None

    @property
    def recorded(self) -> int:
        return sum(a.recorded for a in self.areas)

    @property
    def delivered(self) -> int:
        return sum(a.delivered for a in self.areas)


def register(session: Session) -> Register:
    areas = list(session.scalars(select(DevolutionArea).order_by(DevolutionArea.number)))
    return Register(
        agreement=session.get(DevolutionAgreement, "mou")
        or session.scalars(select(DevolutionAgreement)).first(),
        areas=[
            AreaCount(a, len(a.pledges), sum(1 for p in a.pledges if p.status == "delivered"))
            for a in areas
        ],
        pilots=list(session.scalars(select(Pilot).order_by(Pilot.number))),
        funds=list(session.scalars(select(TransformationFund).order_by(TransformationFund.period))),
    )


def fund_lines(fund: TransformationFund) -> list[dict[str, Any]]:
    """Each category of a fund: its amount, what is granted from it and what is left."""
    names = dict(FUND_CATEGORIES)
    lines = []
    for allocation in fund.allocations:
        grants = [g for g in fund.grants if g.category == allocation.category]
        # A withdrawn grant stays on record but no longer counts against the fund.
        granted = sum((g.amount for g in grants if g.counts), ZERO)
        lines.append(
            {
                "category": allocation.category,
                "name": names.get(allocation.category, allocation.name),
                "amount": allocation.amount,
                "granted": granted,
                "remaining": None if allocation.amount is None else allocation.amount - granted,
                "grants": grants,
            }
        )
    return lines
