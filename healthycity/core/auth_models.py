"""Tables for accounts, sign-in sessions, API tokens, sign-in throttling, password reset
links and the audit trail.

Sessions and tokens are stored as SHA-256 digests of the random value the client holds,
so a copy of the database cannot be replayed as a login. Audit records keep the actor's
label as text and no foreign key: deleting an account must never delete its history.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from healthycity.core.audit import Audited
from healthycity.core.db import Base
from healthycity.core.models import utcnow

# The roles of the workspace (docs/decisions/0006-accounts-roles-audit.md).
VIEWER = "viewer"
PROGRAMME_LEAD = "programme_lead"
PORTFOLIO_OFFICE = "portfolio_office"
ASSESSOR = "assessor"
ADMIN = "admin"
ESTATES = "estates"
ROLES: tuple[str, ...] = (VIEWER, PROGRAMME_LEAD, PORTFOLIO_OFFICE, ASSESSOR, ADMIN, ESTATES)
ROLE_LABELS: dict[str, str] = {
    VIEWER: "Viewer",
    PROGRAMME_LEAD: "Programme lead",
    PORTFOLIO_OFFICE: "Portfolio office",
    ASSESSOR: "Assessor",
    ADMIN: "Administrator",
    ESTATES: "Estates",
}


class Account(Audited, Base):
    """A person who can sign in: a local password, an OIDC identity, or both."""

    __tablename__ = "account"
    __audit_type__ = "account"
    __audit_redact__ = frozenset({"password_hash"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    ownerships: Mapped[list[AccountOwnership]] = relationship(
        cascade="all, delete-orphan", order_by="AccountOwnership.record_key", lazy="selectin"
    )

    def owned(self, record_type: str) -> frozenset[str]:
        """The keys of the records of ``record_type`` this account owns (a lead's programmes)."""
        return frozenset(o.record_key for o in self.ownerships if o.record_type == record_type)


class AccountOwnership(Audited, Base):
    """A record an account owns, which the policy's ownership rule consults.

    Kept in core, by record type and key, so the policy needs no import of the modules
    whose records are owned (today: programmes owned by their programme leads).
    """

    __tablename__ = "account_ownership"
    __audit_type__ = "account_ownership"
    __table_args__ = (UniqueConstraint("account_id", "record_type", "record_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    record_type: Mapped[str] = mapped_column(String(40))
    record_key: Mapped[str] = mapped_column(String(100))

    def audit_parent(self) -> tuple[str, str] | None:
        return ("account", str(self.account_id))


class WebSession(Base):
    """A signed-in browser: the cookie holds a random id whose digest is the key."""

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    via: Mapped[str] = mapped_column(String(16), default="password")


class ApiToken(Base):
    """A bearer token for scripts; only its digest is stored, the secret is shown once."""

    __tablename__ = "api_token"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignInThrottle(Base):
    """Failed sign-ins counted for one email address or one client address.

    Kept in the database, not in memory, so every worker process sees the same count and
    a guesser cannot spread attempts over processes. ``scope`` is "account" (the email
    typed, whether or not an account has it, so a lock says nothing about which emails
    exist) or "address" (the client's IP address; for IPv6, its /64 network).
    """

    __tablename__ = "sign_in_throttle"

    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    key: Mapped[str] = mapped_column(String(254), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    # Indexed: rows gone quiet for a day are pruned by it (core.throttle._prune).
    window_started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Locks in a row without a success or an unlock between them: each doubles the next.
    lockouts: Mapped[int] = mapped_column(Integer, default=0)


class PasswordReset(Base):
    """A one-time password reset link an administrator issued; only its digest is kept.

    The row is deleted when the link is used, when another link is issued for the same
    account, or when the password is changed some other way, so a link works once at most.
    """

    __tablename__ = "password_reset"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    issued_by: Mapped[str] = mapped_column(String(254))
