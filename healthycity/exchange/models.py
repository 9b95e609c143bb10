"""The exchange's tables.

Each table holds one kind of fact the exchange must remember between requests:
which local exchanges exist (nodes), who is who across them (persons and links, with a
review queue for uncertain matches), the grounds for access (relationships, consents,
break-glass grants and their alerts), and the audit chain. Clinical records are *not*
stored here: they stay in the local exchanges and are read live.
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
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from healthycity.exchange.db import ExchangeBase


class Node(ExchangeBase):
    """A local exchange: a FHIR R4 server the exchange federates over."""

    __tablename__ = "exchange_node"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    base_url: Mapped[str] = mapped_column(String(500))
    sub_region: Mapped[str] = mapped_column(String(100), default="")
    # The *name* of the environment variable holding the node's bearer credential; the
    # secret itself never goes into the database (backups, replicas, audit dumps).
    credential_env: Mapped[str | None] = mapped_column(String(200), nullable=True)
    timeout_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(20), default="unknown")
    last_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class Person(ExchangeBase):
    """An enterprise person: one human, however many local records they have."""

    __tablename__ = "exchange_person"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    nhs_number: Mapped[str | None] = mapped_column(String(10), unique=True, nullable=True)
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    # Upper-cased, letters only: what the PDS-style family+birthdate search compares.
    family_key: Mapped[str | None] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    sex: Mapped[str | None] = mapped_column(String(20))
    postcode: Mapped[str | None] = mapped_column(String(16))
    address_line: Mapped[str | None] = mapped_column(String(300))
    # Compared when present (migration 0004); normalised as identity.Demographics does.
    town: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(40))
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Moved by database triggers whenever a consent, relationship, break-glass grant or
    # record link of this person changes (migration 0002): a decision taken on grounds
    # read at version N still stands if the version is still N.
    grounds_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (Index("ix_exchange_person_family_birth", "family_key", "birth_date"),)


class PersonLink(ExchangeBase):
    """One local Patient record at one node, linked to an enterprise person."""

    __tablename__ = "exchange_person_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("exchange_person.id"), index=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("exchange_node.id"))
    local_id: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(20))  # nhs-number | probabilistic | manual
    probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    demographics: Mapped[dict[str, str | None]] = mapped_column(JSON)
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    linked_by: Mapped[str] = mapped_column(String(200))

    __table_args__ = (UniqueConstraint("node_id", "local_id"),)


class ReviewItem(ExchangeBase):
    """A possible match a person must decide: link to the candidate, or keep apart."""

    __tablename__ = "exchange_review_item"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("exchange_node.id"))
    local_id: Mapped[str] = mapped_column(String(200))
    candidate_person_id: Mapped[str] = mapped_column(ForeignKey("exchange_person.id"))
    probability: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[str | None] = mapped_column(String(200))


class Relationship(ExchangeBase):
    """A legitimate relationship between a person and an organisation or practitioner."""

    __tablename__ = "exchange_relationship"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("exchange_person.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # gp | care-team | referral | encounter
    organisation: Mapped[str | None] = mapped_column(String(20))  # ODS code
    practitioner: Mapped[str | None] = mapped_column(String(200))  # token subject
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Where the row came from: "manual" (entered by hand), or "node:<name>" when it was
    # derived from that node's records (access/relationships/), which replaces only its own.
    source: Mapped[str] = mapped_column(String(120), default="manual", server_default="manual")


class ConsentRecord(ExchangeBase):
    """A citizen's stated wishes, as the FHIR Consent resource they (or staff) recorded."""

    __tablename__ = "exchange_consent"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("exchange_person.id"), index=True)
    resource: Mapped[dict[str, object]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_by: Mapped[str] = mapped_column(String(200))


class ConsentVersion(ExchangeBase):
    """One version of a Consent as it stood (its status moves; what it says does not),
    kept so ``Consent/{id}/_history/{vid}`` answers for every version ever returned."""

    __tablename__ = "exchange_consent_version"

    consent_id: Mapped[int] = mapped_column(
        ForeignKey("exchange_consent.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource: Mapped[dict[str, object]] = mapped_column(JSON)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class BreakGlassGrant(ExchangeBase):
    """Emergency access: one user, one person, a stated reason and a hard expiry."""

    __tablename__ = "exchange_break_glass"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    organisation: Mapped[str | None] = mapped_column(String(20))
    person_id: Mapped[str] = mapped_column(ForeignKey("exchange_person.id"))
    reason: Mapped[str] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_exchange_break_glass_subject_person", "subject", "person_id"),)


class Alert(ExchangeBase):
    """Something a privacy officer must look at (every break-glass raises one)."""

    __tablename__ = "exchange_alert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(200))
    person_id: Mapped[str | None] = mapped_column(String(36))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AuditRecord(ExchangeBase):
    """One FHIR AuditEvent in the hash chain. Rows are only ever inserted.

    ``seq`` is assigned by the writer under the chain-head lock (not autoincrement) so
    that a gap is itself evidence of deletion. Every column except ``hash`` is covered by
    ``hash``; ``prev_hash`` ties the row to its predecessor.
    """

    __tablename__ = "exchange_audit_event"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recorded: Mapped[str] = mapped_column(String(40))  # ISO 8601 UTC, exactly as hashed
    person_id: Mapped[str | None] = mapped_column(String(36), index=True)
    agent_subject: Mapped[str] = mapped_column(String(200))
    agent_role: Mapped[str] = mapped_column(String(40))
    agent_organisation: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(2))
    body: Mapped[str] = mapped_column(Text)  # the AuditEvent JSON, canonical form
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(ExchangeBase):
    """The single row naming the newest link of the chain; writers lock it to append.

    ``legacy_until``: the rows up to this one were written before the chain was keyed
    (migration 0005) and carry a plain SHA-256 link; every checkpoint seals it.
    """

    __tablename__ = "exchange_audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    legacy_until: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
