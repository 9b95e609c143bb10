"""Portfolio tables: programmes and their money, milestones, confidence, risks and leads;
and the devolution register (MoU areas, pledges, pilots, transformation funds).

Why these shapes:
- Money is `Numeric(14, 2)` read as `Decimal`, never float: budgets must add up to the
  penny on both engines (the London pack's lines total £15,525,236.00).
- A programme's slug is its key: it is what the pack, URLs, imports and the ownership
  rule of the access policy (a programme lead owns programmes by slug) all use.
- Spend is one row per programme per month holding the actual (once known) and the
  forecast, so "forecast outturn" is actuals to date plus forecasts for the rest.
- Delivery confidence assessments are rows in a history, never overwritten.
- Every table is `Audited`: each change is written to the audit trail with the
  programme (or fund) it belongs to, so a programme's page shows its whole history.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from healthycity.core.audit import Audited
from healthycity.core.db import Base, Money

PROGRAMME_KIND = "programme"
PORTFOLIO_LINE_KIND = "portfolio_line"

# The Infrastructure and Projects Authority's five-point Delivery Confidence Assessment.
DCA_RATINGS: tuple[str, ...] = ("Green", "Amber/Green", "Amber", "Amber/Red", "Red")

MILESTONE_KINDS: tuple[str, ...] = ("milestone", "deliverable")
# Where a milestone stands, as the programme office reports it.
MILESTONE_STATUS_LABELS: dict[str, str] = {
    "not_started": "Not started",
    "on_track": "On track",
    "at_risk": "At risk",
    "late": "Late",
    "done": "Done",
}
MILESTONE_STATUSES: tuple[str, ...] = tuple(MILESTONE_STATUS_LABELS)
RISK_STATUSES: tuple[str, ...] = ("open", "closed")
STAKEHOLDER_ROLES: tuple[str, ...] = ("sro", "hlp_lead", "spg_lead", "ccg_lead")
STAKEHOLDER_ROLE_LABELS: dict[str, str] = {
    "sro": "CCG lead SRO",
    "hlp_lead": "Partnership programme lead",
    "spg_lead": "Sub-regional (SPG) lead",
    "ccg_lead": "CCG lead",
}
LEAD_STATUSES: tuple[str, ...] = ("named", "tbc", "not_applicable", "other")
UPDATE_KINDS: tuple[str, ...] = ("introduction", "highlight", "progress", "event")
PLEDGE_STATUSES: tuple[str, ...] = ("not_started", "in_progress", "at_risk", "delivered")
PLEDGE_STATUS_LABELS: dict[str, str] = {
    "not_started": "Not started",
    "in_progress": "In progress",
    "at_risk": "At risk",
    "delivered": "Delivered",
}
# The three categories of London's transformation funding (seed 001).
FUND_CATEGORIES: tuple[tuple[str, str], ...] = (
    ("contracts-issued", "Contracts already issued"),
    ("purpose-defined", "Purpose already defined"),
    ("unallocated", "Unallocated"),
)
# Where a grant from the fund stands; a withdrawn grant no longer counts against the fund.
GRANT_STATUS_LABELS: dict[str, str] = {
    "proposed": "Proposed",
    "approved": "Approved",
    "paid": "Paid",
    "withdrawn": "Withdrawn",
}
GRANT_STATUSES: tuple[str, ...] = tuple(GRANT_STATUS_LABELS)
GRANT_COUNTED: frozenset[str] = frozenset({"proposed", "approved", "paid"})
# Where a forum's meeting stands.
MEETING_STATUS_LABELS: dict[str, str] = {
    "scheduled": "Scheduled",
    "held": "Held",
    "postponed": "Postponed",
    "cancelled": "Cancelled",
}
MEETING_STATUSES: tuple[str, ...] = tuple(MEETING_STATUS_LABELS)


class Programme(Audited, Base):
    """A transformation programme, or a portfolio line (support costs) with a budget."""

    __tablename__ = "programme"
    __audit_type__ = "programme"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default=PROGRAMME_KIND)
    number: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(300))
    theme: Mapped[str | None] = mapped_column(String(200))
    vision: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    sro: Mapped[str | None] = mapped_column(String(200))
    whole_life_budget: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    budget_note: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    challenges: Mapped[list[str]] = mapped_column(JSON, default=list)
    focus_areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    local_actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    collaborative_actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    aspirations: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The collaboration agreement's shared objectives the programme serves (slugs).
    objectives: Mapped[list[str]] = mapped_column(JSON, default=list)
    pack_id: Mapped[str | None] = mapped_column(String(64))
    # Digest of the pack entry last applied: the pack overwrites workspace edits only
    # when its own entry for the record has changed (see portfolio.pack_loading).
    pack_digest: Mapped[str | None] = mapped_column(String(64))

    baselines: Mapped[list[BudgetBaseline]] = relationship(
        cascade="all, delete-orphan", order_by="BudgetBaseline.financial_year"
    )
    spend: Mapped[list[MonthlySpend]] = relationship(
        cascade="all, delete-orphan", order_by="MonthlySpend.month"
    )
    milestones: Mapped[list[Milestone]] = relationship(
        cascade="all, delete-orphan", order_by="(Milestone.baseline_date, Milestone.id)"
    )
    confidence: Mapped[list[ConfidenceAssessment]] = relationship(
        cascade="all, delete-orphan",
        order_by="(ConfidenceAssessment.assessed_on, ConfidenceAssessment.id)",
    )
    risks: Mapped[list[Risk]] = relationship(cascade="all, delete-orphan", order_by="Risk.id")
    stakeholders: Mapped[list[Stakeholder]] = relationship(
        cascade="all, delete-orphan", order_by="(Stakeholder.role, Stakeholder.position)"
    )
    indicators: Mapped[list[ProgrammeIndicator]] = relationship(
        cascade="all, delete-orphan", order_by="ProgrammeIndicator.indicator_id"
    )
    updates: Mapped[list[ProgressUpdate]] = relationship(
        cascade="all, delete-orphan", order_by="(ProgressUpdate.period, ProgressUpdate.position)"
    )

    @property
    def is_portfolio_line(self) -> bool:
        return self.kind == PORTFOLIO_LINE_KIND


class _ProgrammeChild(Audited):
    """Records that belong to a programme: their history shows on the programme's page."""

    if TYPE_CHECKING:
        programme_slug: str

    def audit_parent(self) -> tuple[str, str] | None:
        return ("programme", self.programme_slug)


class BudgetBaseline(_ProgrammeChild, Base):
    """The agreed budget of a programme for one financial year ("2015/16")."""

    __tablename__ = "budget_baseline"
    __audit_type__ = "budget"
    __table_args__ = (UniqueConstraint("programme_slug", "financial_year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_slug: Mapped[str] = mapped_column(
        ForeignKey("programme.slug", ondelete="CASCADE"), index=True
    )
    financial_year: Mapped[str] = mapped_column(String(7))
    amount: Mapped[Decimal] = mapped_column(Money)
    # GMPP asks for an explanation whenever the forecast differs from it by over 5%.
    variance_explanation: Mapped[str | None] = mapped_column(Text)


class MonthlySpend(_ProgrammeChild, Base):
    """One month of one programme: actual spend once known, and the forecast."""

    __tablename__ = "monthly_spend"
    __audit_type__ = "spend"
    __table_args__ = (UniqueConstraint("programme_slug", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_slug: Mapped[str] = mapped_column(
        ForeignKey("programme.slug", ondelete="CASCADE"), index=True
    )
    month: Mapped[date] = mapped_column(Date)
    actual: Mapped[Decimal | None] = mapped_column(Money)
    forecast: Mapped[Decimal | None] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(Text)


class Milestone(_ProgrammeChild, Base):
    """A milestone or deliverable with baseline, forecast and actual dates."""

    __tablename__ = "milestone"
    __audit_type__ = "milestone"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_slug: Mapped[str] = mapped_column(
        ForeignKey("programme.slug", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20), default="milestone")
    title: Mapped[str] = mapped_column(String(300))
    baseline_date: Mapped[date] = mapped_column(Date)
    forecast_date: Mapped[date | None] = mapped_column(Date)
    actual_date: Mapped[date | None] = mapped_column(Date)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(String(20))
    owner: Mapped[str | None] = mapped_column(String(200))

    @property
    def slipped(self) -> bool:
        """The forecast has passed the baseline (and the milestone is not yet met)."""
        if self.actual_date is not None:
            return False
        return self.forecast_date is not None and self.forecast_date > self.baseline_date

    @property
    def current_status(self) -> str:
        """The status recorded, or — when none is — what the dates say."""
        if self.status:
            return self.status
        if self.actual_date is not None:
            return "done"
        return "late" if self.slipped else "not_started"


class ConfidenceAssessment(_ProgrammeChild, Base):
    """A Delivery Confidence Assessment on the IPA scale, with its assessor's commentary."""

    __tablename__ = "confidence_assessment"
    __audit_type__ = "confidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_slug: Mapped[str] = mapped_column(
        ForeignKey("programme.slug", ondelete="CASCADE"), index=True
    )
    assessed_on: Mapped[date] = mapped_column(Date)
    rating: Mapped[str] = mapped_column(String(20))
    assessor: Mapped[str] = mapped_column(String(200))
    commentary: Mapped[str] = mapped_column(Text)


class Risk(_ProgrammeChild, Base):
    """A programme risk scored by likelihood and impact (1-5 each)."""

    __tablename__ = "programme_risk"
    __audit_type__ = "risk"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_slug: Mapped[str] = mapped_column(
        ForeignKey("programme.slug", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    likelihood: Mapped[int] = mapped_column(Integer)
    impact: Mapped[int] = mapped_column(Integer)
    owner: Mapped[str | None] = mapped_column(String(200))
    mitigation: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open")

    @property
    def score(self) -> int:
        return self.likelihood * self.impact


class Stakeholder(_ProgrammeChild, Base):
    """One cell of the stakeholder map: a programme's lead for a sub-region or a CCG.

    ``group_code`` is the planning group (SEL, NCL, NWL, WELC, BHR, SWL) for SPG leads and the
    borough's area code for CCG leads; SROs and partnership leads have none.
    """

    __tablename__ = "programme_stakeholder"
    __audit_type__ = "stakeholder"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_slug: Mapped[str] = mapped_column(
        ForeignKey("programme.slug", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(20))
    group_code: Mapped[str | None] = mapped_column(String(20))
    people: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default="named")
    note: Mapped[str | None] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(String(254))
    position: Mapped[int] = mapped_column(Integer, default=0)


class ProgrammeIndicator(_ProgrammeChild, Base):
    """An outcome indicator a programme is expected to move (an outcomes indicator id)."""

    __tablename__ = "programme_indicator"
    __audit_type__ = "programme_indicator"

    programme_slug: Mapped[str] = mapped_column(
        ForeignKey("programme.slug", ondelete="CASCADE"), primary_key=True
    )
    indicator_id: Mapped[str] = mapped_column(String(100), primary_key=True)


class ProgressUpdate(Audited, Base):
    """Text for a progress report: a programme's progress, or (with no programme) the
    report's introduction, a highlight or an upcoming event."""

    __tablename__ = "progress_update"
    __audit_type__ = "progress_update"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_slug: Mapped[str | None] = mapped_column(
        ForeignKey("programme.slug", ondelete="CASCADE"), index=True
    )
    period: Mapped[str] = mapped_column(String(7), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="progress")
    title: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    event_date: Mapped[date | None] = mapped_column(Date)
    position: Mapped[int] = mapped_column(Integer, default=0)

    def audit_parent(self) -> tuple[str, str] | None:
        return ("programme", self.programme_slug) if self.programme_slug else None


# ---------------------------------------------------------------- devolution register


class DevolutionArea(Audited, Base):
    """One of the areas of power the devolution MoU moves to London."""

    __tablename__ = "devolution_area"
    __audit_type__ = "devolution_area"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    pack_id: Mapped[str | None] = mapped_column(String(64))
    # Digest of the pack entry last applied: the pack overwrites workspace edits only
    # when its own entry for the record has changed (see portfolio.pack_loading).
    pack_digest: Mapped[str | None] = mapped_column(String(64))

    pledges: Mapped[list[Pledge]] = relationship(
        cascade="all, delete-orphan", order_by="(Pledge.number, Pledge.id)"
    )


class Pledge(Audited, Base):
    """A pledge of the MoU: who owns it, where it stands, the evidence, when it is due."""

    __tablename__ = "devolution_pledge"
    __audit_type__ = "pledge"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_slug: Mapped[str] = mapped_column(
        ForeignKey("devolution_area.slug", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(Text)
    owner: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="not_started")
    evidence: Mapped[str | None] = mapped_column(Text)
    due_date: Mapped[date | None] = mapped_column(Date)

    def audit_parent(self) -> tuple[str, str] | None:
        return ("devolution_area", self.area_slug)


class Pilot(Audited, Base):
    """A devolution pilot: where, on which theme, with whom."""

    __tablename__ = "devolution_pilot"
    __audit_type__ = "pilot"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, default=0)
    name: Mapped[str] = mapped_column(String(200))
    theme: Mapped[str] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(Text)
    areas: Mapped[list[str]] = mapped_column(JSON, default=list)
    partners: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str | None] = mapped_column(String(200))
    # The pilot's milestones as the pack or the office records them: title, date, met.
    milestones: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    pack_id: Mapped[str | None] = mapped_column(String(64))
    # Digest of the pack entry last applied: the pack overwrites workspace edits only
    # when its own entry for the record has changed (see portfolio.pack_loading).
    pack_digest: Mapped[str | None] = mapped_column(String(64))


class TransformationFund(Audited, Base):
    """A year's transformation funding; its category allocations must add up to the total."""

    __tablename__ = "transformation_fund"
    __audit_type__ = "fund"

    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    total: Mapped[Decimal] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(Text)
    pack_id: Mapped[str | None] = mapped_column(String(64))
    # Digest of the pack entry last applied: the pack overwrites workspace edits only
    # when its own entry for the record has changed (see portfolio.pack_loading).
    pack_digest: Mapped[str | None] = mapped_column(String(64))

    allocations: Mapped[list[FundAllocation]] = relationship(
        cascade="all, delete-orphan", order_by="FundAllocation.position"
    )
    grants: Mapped[list[FundGrant]] = relationship(
        cascade="all, delete-orphan", order_by="FundGrant.id"
    )


class FundAllocation(Audited, Base):
    """The amount of a fund in one category; NULL while the split is not known."""

    __tablename__ = "fund_allocation"
    __audit_type__ = "fund_allocation"

    fund_period: Mapped[str] = mapped_column(
        ForeignKey("transformation_fund.period", ondelete="CASCADE"), primary_key=True
    )
    category: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    position: Mapped[int] = mapped_column(Integer, default=0)

    def audit_parent(self) -> tuple[str, str] | None:
        return ("fund", self.fund_period)


class DevolutionAgreement(Base):
    """The devolution agreement itself: what the register counts its pledges against."""

    __tablename__ = "devolution_agreement"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    signed: Mapped[date | None] = mapped_column(Date)
    pledges: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(Text)
    pack_id: Mapped[str | None] = mapped_column(String(64))


class FundGrant(Audited, Base):
    """Money of one fund category given to a pilot or a programme.

    The grants of a category must not add up to more than the category holds.
    """

    __tablename__ = "fund_grant"
    __audit_type__ = "fund_grant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fund_period: Mapped[str] = mapped_column(
        ForeignKey("transformation_fund.period", ondelete="CASCADE"), index=True
    )
    category: Mapped[str] = mapped_column(String(40))
    recipient_kind: Mapped[str] = mapped_column(String(20))  # pilot | programme
    # The pilot's or programme's slug the money is for.
    recipient: Mapped[str] = mapped_column(String(100))
    amount: Mapped[Decimal] = mapped_column(Money)
    # Who receives the money (an organisation), when it was awarded, what for.
    recipient_name: Mapped[str | None] = mapped_column(String(200))
    awarded_on: Mapped[date | None] = mapped_column(Date)
    purpose: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="approved", server_default="approved")
    # The portfolio office's own note: never shown on a public page or twin.
    note: Mapped[str | None] = mapped_column(Text)

    @property
    def counts(self) -> bool:
        """Whether the grant counts against the fund (a withdrawn one does not)."""
        return self.status in GRANT_COUNTED

    def audit_parent(self) -> tuple[str, str] | None:
        return ("fund", self.fund_period)


# ------------------------------------------------------------------ governance forums


class ForumMeeting(Audited, Base):
    """A meeting of one of the partnership's forums (an organisation of kind "forum").

    Meetings of the boards are public by nature (their date, status and papers); only
    ``note`` is the portfolio office's own and never leaves the workspace.
    """

    __tablename__ = "forum_meeting"
    __audit_type__ = "forum_meeting"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    forum_slug: Mapped[str] = mapped_column(String(100), index=True)
    held_on: Mapped[date] = mapped_column(Date)
    title: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    # Links to the agenda, papers and minutes, one URL per entry.
    papers: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text)

    def audit_parent(self) -> tuple[str, str] | None:
        return ("forum", self.forum_slug)


class ForumDecision(Audited, Base):
    """What a forum decided, by whom, about which programmes and pledges.

    Only a decision marked ``published`` reaches the public pages; ``note`` never does.
    """

    __tablename__ = "forum_decision"
    __audit_type__ = "forum_decision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    forum_slug: Mapped[str] = mapped_column(String(100), index=True)
    meeting_id: Mapped[int | None] = mapped_column(
        ForeignKey("forum_meeting.id", ondelete="SET NULL"), index=True
    )
    decided_on: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(300))
    decision: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(300))
    programmes: Mapped[list[str]] = mapped_column(JSON, default=list)
    pledges: Mapped[list[int]] = mapped_column(JSON, default=list)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)

    def audit_parent(self) -> tuple[str, str] | None:
        return ("forum", self.forum_slug)
