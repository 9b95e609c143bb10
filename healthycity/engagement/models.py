"""Engagement tables: consultations and their answers, moderation, refusals, polls.

Why these shapes:
- A consultation keeps its questions as one JSON document. The questions are read and
  written together (the form, the results, the published versions), and a published
  version is a frozen copy of that document, so versioning is a row, not a table tree.
- An answer (`Response`) holds no address and no email. Where a consultation asks for
  confirmation, only a keyed hash of the email is kept, to refuse a second answer; the
  receipt code is kept as a hash too, so the database cannot reveal it.
- Rate limits count `Attempt` rows keyed by a keyed hash of the client address; they are
  pruned as they leave the window, so no address history builds up.
- Refusals are counted (`Refusal`), never stored as answers: results cannot include them.
- Polls are separate tables on purpose: a poll has a sampling frame and a consultation
  does not, so the two are never pooled.
- Everything the partnership's staff change is `Audited`; public answers are not (their
  volume and their personal nature both argue against copying them into the trail).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from healthycity.core.audit import Audited
from healthycity.core.db import Base
from healthycity.core.models import utcnow

DRAFT, PUBLISHED, CLOSED = "draft", "published", "closed"
STATUS_LABELS = {DRAFT: "Draft", PUBLISHED: "Published", CLOSED: "Closed"}

HELD, SHOWN, REJECTED = "held", "published", "rejected"
MODERATION_LABELS = {HELD: "Held for moderation", SHOWN: "Published", REJECTED: "Not published"}


class Consultation(Audited, Base):
    """A consultation run by the partnership, from draft to closed with a response."""

    __tablename__ = "engagement_consultation"
    __audit_type__ = "consultation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    purpose: Mapped[str] = mapped_column(Text)
    audience: Mapped[str] = mapped_column(Text)
    opens_on: Mapped[date] = mapped_column(Date)
    closes_on: Mapped[date] = mapped_column(Date)
    # What it is about: "commitment:…", "indicator:…", "programme:…", "service-change:…".
    links: Mapped[list[str]] = mapped_column(JSON, default=list)
    privacy_notice: Mapped[str] = mapped_column(Text)
    retention_days: Mapped[int] = mapped_column(Integer)
    confirm_email: Mapped[bool] = mapped_column(Boolean, default=False)
    # Co-production: the public may propose or comment on indicators, and vote on them.
    co_production: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    questions: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default=DRAFT)
    version: Mapped[int] = mapped_column(Integer, default=0)
    # "You said, we did": the partnership's published response, after it closes.
    we_did: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConsultationVersion(Audited, Base):
    """A frozen copy of what the public was asked, made each time it is published."""

    __tablename__ = "engagement_consultation_version"
    __audit_type__ = "consultation_version"
    __table_args__ = (UniqueConstraint("consultation_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("engagement_consultation.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, object]] = mapped_column(JSON)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def audit_parent(self) -> tuple[str, str] | None:
        return ("consultation", str(self.consultation_id))


class Response(Base):
    """One person's answers. No address, no email: only hashes that cannot be reversed."""

    __tablename__ = "engagement_response"
    __table_args__ = (UniqueConstraint("consultation_id", "email_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("engagement_consultation.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, object]] = mapped_column(JSON)
    receipt_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email_hash: Mapped[str | None] = mapped_column(String(64))
    confirm_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=True)
    submitted_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )


class Moderation(Audited, Base):
    """A moderator's decision on one free-text answer, with the reason recorded."""

    __tablename__ = "engagement_moderation"
    __audit_type__ = "moderation"
    __table_args__ = (UniqueConstraint("response_id", "question"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("engagement_consultation.id", ondelete="CASCADE"), index=True
    )
    response_id: Mapped[int] = mapped_column(
        ForeignKey("engagement_response.id", ondelete="CASCADE"), index=True
    )
    question: Mapped[str] = mapped_column(String(60))
    decision: Mapped[str] = mapped_column(String(20), default=HELD)
    reason: Mapped[str | None] = mapped_column(Text)
    theme: Mapped[str | None] = mapped_column(String(100))
    moderator: Mapped[str | None] = mapped_column(String(254))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def audit_parent(self) -> tuple[str, str] | None:
        return ("consultation", str(self.consultation_id))


class Refusal(Base):
    """A submission refused as abuse or forgery: counted, never kept as an answer."""

    __tablename__ = "engagement_refusal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int | None] = mapped_column(
        ForeignKey("engagement_consultation.id", ondelete="CASCADE"), index=True
    )
    reason: Mapped[str] = mapped_column(String(30))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Attempt(Base):
    """An accepted submission, for rate limits: a keyed hash of the address, and when."""

    __tablename__ = "engagement_attempt"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("engagement_consultation.id", ondelete="CASCADE"), index=True
    )
    address_hash: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # What was accepted: an answer, a proposal or a vote; each has its own limit.
    kind: Mapped[str] = mapped_column(String(20), default="answer", server_default="answer")


class PollSeries(Audited, Base):
    """A poll asked the same way over time, with what a reader needs to judge it."""

    __tablename__ = "engagement_poll_series"
    __audit_type__ = "poll"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    question_wording: Mapped[str] = mapped_column(Text)
    sponsor: Mapped[str] = mapped_column(String(300))
    agency: Mapped[str] = mapped_column(String(300))
    population: Mapped[str] = mapped_column(Text)
    sampling_frame: Mapped[str] = mapped_column(Text)
    mode: Mapped[str] = mapped_column(String(200))
    indicator_id: Mapped[str | None] = mapped_column(String(100))


class PollWave(Audited, Base):
    """One fieldwork period of a poll series: its result and its own disclosure."""

    __tablename__ = "engagement_poll_wave"
    __audit_type__ = "poll_wave"
    __table_args__ = (UniqueConstraint("series_id", "fieldwork_start"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    series_id: Mapped[int] = mapped_column(
        ForeignKey("engagement_poll_series.id", ondelete="CASCADE"), index=True
    )
    fieldwork_start: Mapped[date] = mapped_column(Date)
    fieldwork_end: Mapped[date] = mapped_column(Date)
    sample_size: Mapped[int] = mapped_column(Integer)
    # The published (weighted) share agreeing, as a percentage.
    percent: Mapped[float] = mapped_column(Float)
    weighting: Mapped[str] = mapped_column(Text)
    design_effect: Mapped[float | None] = mapped_column(Float)
    margin_of_error: Mapped[float | None] = mapped_column(Float)

    def audit_parent(self) -> tuple[str, str] | None:
        return ("poll", str(self.series_id))


# Co-production of indicators: what a proposal is, who made it, and what became of it.
NEW_INDICATOR, CHANGE_MEASURE, COMMENT = "new", "change", "comment"
PROPOSAL_KINDS = {
    NEW_INDICATOR: "A new indicator",
    CHANGE_MEASURE: "A change to a commitment's or indicator's measure",
    COMMENT: "A comment on an indicator",
}
ADOPTED, ADOPTED_CHANGED, NOT_ADOPTED, CONSIDERING = (
    "adopted",
    "adopted_with_changes",
    "not_adopted",
    "considering",
)
DECISION_LABELS = {
    ADOPTED: "Adopted",
    ADOPTED_CHANGED: "Adopted with changes",
    NOT_ADOPTED: "Not adopted",
    CONSIDERING: "Under consideration",
}
AGREE, DISAGREE, PASS = "agree", "disagree", "pass"
VOTES = (AGREE, DISAGREE, PASS)


class IndicatorProposal(Audited, Base):
    """A proposal (or comment) on the outcomes framework's indicators, made by the public
    through a consultation or put to the public by the portfolio office.

    A public proposal is held until a moderator publishes it (with a reason either way);
    a published one can be voted on and gets the office's recorded decision. No
    personal data: the form asks for none and says so.
    """

    __tablename__ = "engagement_indicator_proposal"
    __audit_type__ = "indicator_proposal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("engagement_consultation.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(20))
    # "indicator:ID" or "commitment:slug" for a change or comment; None for a new one.
    about: Mapped[str | None] = mapped_column(String(120), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20))  # "public" or "office"
    moderation: Mapped[str] = mapped_column(String(20), default=HELD)
    moderation_reason: Mapped[str | None] = mapped_column(Text)
    decision: Mapped[str | None] = mapped_column(String(30))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[str | None] = mapped_column(String(254))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    def audit_parent(self) -> tuple[str, str] | None:
        return ("consultation", str(self.consultation_id))


class ProposalVote(Base):
    """Agree, disagree or pass (as Pol.is asks) on one published proposal, one per browser:
    ``voter_hash`` is a keyed hash of the browser's anonymous form token, so a second
    vote from the same browser replaces the first and nothing identifies the voter."""

    __tablename__ = "engagement_proposal_vote"
    __table_args__ = (UniqueConstraint("proposal_id", "voter_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    proposal_id: Mapped[int] = mapped_column(
        ForeignKey("engagement_indicator_proposal.id", ondelete="CASCADE"), index=True
    )
    vote: Mapped[str] = mapped_column(String(10))
    voter_hash: Mapped[str] = mapped_column(String(64))
    voted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Subscriber(Base):
    """A respondent who asked to be told when the partnership publishes its response.

    The address must be read back to send the email, so it is encrypted (Fernet, with a
    key derived from ``secret_key``), not hashed; ``email_hash`` finds it for erasure on
    request. It is deleted once the email is sent, with its answer (withdrawal), and when
    the retention period ends.
    """

    __tablename__ = "engagement_subscriber"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("engagement_consultation.id", ondelete="CASCADE"), index=True
    )
    response_id: Mapped[int] = mapped_column(
        ForeignKey("engagement_response.id", ondelete="CASCADE"), unique=True
    )
    email_encrypted: Mapped[str] = mapped_column(Text)
    email_hash: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
