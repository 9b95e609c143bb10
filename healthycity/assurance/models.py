"""Assurance tables: the tests (from the city pack) and the proposals assessed against them.

Why these shapes:
- The tests are data, not code: the Mayor's six assurances and NHS England's four tests
  are rows loaded from the pack (``framework`` says which), and the bed test's conditions
  likewise, so another city can bring its own.
- A proposal keeps its figures as columns (beds now and proposed, investment required and
  identified, social-care cost) because the rules read them; evidence is text.
- One verdict per proposal per test, with rationale and evidence; the rules that bind
  verdicts to the figures live in `assurance.service`.
- Everything is `Audited`; verdicts and bed-test evidence appear in the proposal's history.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from healthycity.core.audit import Audited
from healthycity.core.db import Base, Money
from healthycity.core.models import utcnow

MAYOR = "mayor"
NHS = "nhs"
FRAMEWORK_LABELS = {
    MAYOR: "The Mayor's six assurances",
    NHS: "NHS England's tests for service change",
}

DRAFT, SUBMITTED, UNDER_REVIEW, ASSESSED, PUBLISHED = (
    "draft",
    "submitted",
    "under_review",
    "assessed",
    "published",
)
STATUSES: tuple[str, ...] = (DRAFT, SUBMITTED, UNDER_REVIEW, ASSESSED, PUBLISHED)
STATUS_LABELS = {
    DRAFT: "Draft",
    SUBMITTED: "Submitted",
    UNDER_REVIEW: "Under review",
    ASSESSED: "Assessed",
    PUBLISHED: "Published",
}

MET, PARTLY_MET, NOT_MET, NOT_ENOUGH_EVIDENCE = (
    "met",
    "partly_met",
    "not_met",
    "not_enough_evidence",
)
VERDICTS: tuple[str, ...] = (MET, PARTLY_MET, NOT_MET, NOT_ENOUGH_EVIDENCE)
VERDICT_LABELS = {
    MET: "Met",
    PARTLY_MET: "Partly met",
    NOT_MET: "Not met",
    NOT_ENOUGH_EVIDENCE: "Not enough evidence",
}


class AssuranceTest(Base):
    """A test a service change must pass: one of the Mayor's assurances or an NHS test.

    Loaded from the pack only, so not audited as a workspace record.
    """

    __tablename__ = "assurance_test"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    framework: Mapped[str] = mapped_column(String(20))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    # The rule this test carries, if any: "bed_test" or "investment" (see service.RULES).
    rule: Mapped[str | None] = mapped_column(String(40))
    pack_id: Mapped[str | None] = mapped_column(String(64))


class BedTestCondition(Base):
    """A condition of the bed test; a bed closure must meet at least one."""

    __tablename__ = "bed_test_condition"

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text)
    pack_id: Mapped[str | None] = mapped_column(String(64))


class Proposal(Audited, Base):
    """A proposed change to health services, on its way to a published assessment."""

    __tablename__ = "service_change_proposal"
    __audit_type__ = "proposal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    sponsor: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str | None] = mapped_column(Text)
    services: Mapped[str] = mapped_column(Text)
    affected_boroughs: Mapped[list[str]] = mapped_column(JSON, default=list)
    beds_now: Mapped[int] = mapped_column(Integer, default=0)
    beds_proposed: Mapped[int] = mapped_column(Integer, default=0)
    investment_required: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    investment_identified: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    social_care_cost_impact: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    social_care_note: Mapped[str | None] = mapped_column(Text)
    engagement_evidence: Mapped[str | None] = mapped_column(Text)
    clinical_evidence: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=DRAFT)
    overall_summary: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assessed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    assessed_by: Mapped[str | None] = mapped_column(String(254))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    verdicts: Mapped[list[Verdict]] = relationship(
        cascade="all, delete-orphan", order_by="Verdict.id"
    )
    bed_evidence: Mapped[list[BedEvidence]] = relationship(
        cascade="all, delete-orphan", order_by="BedEvidence.condition_slug"
    )

    @property
    def bed_change(self) -> int:
        return self.beds_proposed - self.beds_now

    @property
    def investment_gap(self) -> Decimal:
        return self.investment_required - self.investment_identified


class Verdict(Audited, Base):
    """An assessor's verdict on one test for one proposal, with rationale and evidence."""

    __tablename__ = "proposal_verdict"
    __audit_type__ = "verdict"
    __table_args__ = (UniqueConstraint("proposal_id", "test_slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("service_change_proposal.id", ondelete="CASCADE"), index=True
    )
    test_slug: Mapped[str] = mapped_column(ForeignKey("assurance_test.slug"))
    verdict: Mapped[str] = mapped_column(String(30))
    rationale: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str | None] = mapped_column(Text)
    assessor: Mapped[str | None] = mapped_column(String(254))

    def audit_parent(self) -> tuple[str, str] | None:
        return ("proposal", str(self.proposal_id))


class BedEvidence(Audited, Base):
    """The evidence a proposal offers that it meets one condition of the bed test."""

    __tablename__ = "proposal_bed_evidence"
    __audit_type__ = "bed_evidence"

    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("service_change_proposal.id", ondelete="CASCADE"), primary_key=True
    )
    condition_slug: Mapped[str] = mapped_column(
        ForeignKey("bed_test_condition.slug"), primary_key=True
    )
    evidence: Mapped[str] = mapped_column(Text)

    def audit_parent(self) -> tuple[str, str] | None:
        return ("proposal", str(self.proposal_id))
