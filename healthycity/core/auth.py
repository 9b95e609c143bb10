"""Accounts, passwords, sessions, API tokens and the one place access is decided.

Access is default-deny and decided only by `authorize()`: a policy table of
role × record type × action, each row allowing the action on every record ("all") or
only on records the account owns ("own" — a programme lead and their programmes). The
table is data, enforced by pycasbin (DESIGN.md: policy as data), so the whole policy can
be read, reviewed and tested as one list (docs/decisions/0006-accounts-roles-audit.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import secrets
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from healthycity.core import passwords
from healthycity.core.auth_models import (
    ADMIN,
    ASSESSOR,
    ESTATES,
    PORTFOLIO_OFFICE,
    PROGRAMME_LEAD,
    ROLES,
    VIEWER,
    Account,
    AccountOwnership,
    ApiToken,
    WebSession,
)

if TYPE_CHECKING:
    import casbin  # type: ignore[import-untyped]

# --------------------------------------------------------------------------- vocabulary

VIEW, CREATE, EDIT, DELETE, ASSESS, PUBLISH = (
    "view",
    "create",
    "edit",
    "delete",
    "assess",
    "publish",
)
ACTIONS: tuple[str, ...] = (VIEW, CREATE, EDIT, DELETE, ASSESS, PUBLISH)

# Record types the policy speaks about; each module's records use these names.
ACCOUNT = "account"
PROGRAMME = "programme"
BUDGET = "budget"
SPEND = "spend"
MILESTONE = "milestone"
CONFIDENCE = "confidence"
RISK = "risk"
STAKEHOLDER = "stakeholder"
PROGRESS = "progress_update"
DEVOLUTION_AREA = "devolution_area"
PLEDGE = "pledge"
PILOT = "pilot"
FUND = "fund"
PROPOSAL = "proposal"
CONSULTATION = "consultation"
POLL = "poll"
DISPOSAL = "disposal"
ESTATE_SITE = "estate_site"
MEETING = "forum_meeting"
DECISION = "forum_decision"
GRANT = "fund_grant"
RECORD_TYPES: tuple[str, ...] = (
    ACCOUNT,
    PROGRAMME,
    BUDGET,
    SPEND,
    MILESTONE,
    CONFIDENCE,
    RISK,
    STAKEHOLDER,
    PROGRESS,
    DEVOLUTION_AREA,
    PLEDGE,
    PILOT,
    FUND,
    PROPOSAL,
    CONSULTATION,
    POLL,
    DISPOSAL,
    ESTATE_SITE,
    MEETING,
    DECISION,
    GRANT,
)
# Records owned through a programme: the ownership rule applies to these.
PROGRAMME_RECORDS = frozenset(
    {PROGRAMME, BUDGET, SPEND, MILESTONE, CONFIDENCE, RISK, STAKEHOLDER, PROGRESS}
)
ALL, OWN = "all", "own"

# Fields of a record that are policy objects of their own, named ``<type>.<field>``: the
# right to edit the record does not include them. A programme's number, its senior
# responsible owner and its whole-life budget (its baseline) are the portfolio office's,
# so a programme lead who may edit their programme still may not change these.
PROTECTED_FIELDS: dict[str, tuple[str, ...]] = {
    PROGRAMME: ("number", "sro", "whole_life_budget"),
}


def field_object(record_type: str, name: str) -> str:
    """The policy object of one protected field, like ``programme.sro``."""
    return f"{record_type}.{name}"


def _rows() -> list[tuple[str, str, str, str]]:
    """The policy table. Anything not listed here is refused."""
    rows: list[tuple[str, str, str, str]] = []
    data_types = [t for t in RECORD_TYPES if t != ACCOUNT]
    # Everyone signed in may read the workspace's records; only administrators see accounts.
    for role in ROLES:
        rows += [(role, t, VIEW, ALL) for t in data_types]
    rows.append((ADMIN, ACCOUNT, VIEW, ALL))
    rows += [(ADMIN, ACCOUNT, a, ALL) for a in (CREATE, EDIT, DELETE)]
    # The portfolio office keeps the whole portfolio, the devolution register and drafts.
    office_types = [t for t in data_types if t != CONFIDENCE]
    rows += [(PORTFOLIO_OFFICE, t, a, ALL) for t in office_types for a in (CREATE, EDIT, DELETE)]
    # A delivery confidence assessment is history: added, never edited or removed.
    rows.append((PORTFOLIO_OFFICE, CONFIDENCE, CREATE, ALL))
    rows.append((ASSESSOR, CONFIDENCE, CREATE, ALL))
    rows.append((PROGRAMME_LEAD, CONFIDENCE, CREATE, OWN))
    # A programme lead keeps their own programmes; baselines stay with the portfolio office:
    # the budget records here, a programme's protected fields in `FIELD_POLICY`.
    rows.append((PROGRAMME_LEAD, PROGRAMME, EDIT, OWN))
    rows += [(PROGRAMME_LEAD, SPEND, a, OWN) for a in (CREATE, EDIT)]
    for record_type in (MILESTONE, RISK, STAKEHOLDER, PROGRESS):
        rows += [(PROGRAMME_LEAD, record_type, a, OWN) for a in (CREATE, EDIT, DELETE)]
    # Assessors judge service-change proposals and publish their assessments.
    rows += [(ASSESSOR, PROPOSAL, ASSESS, ALL), (ASSESSOR, PROPOSAL, PUBLISH, ALL)]
    # The portfolio office publishes and closes consultations and the response to them.
    rows.append((PORTFOLIO_OFFICE, CONSULTATION, PUBLISH, ALL))
    # The estates role keeps the disposals pipeline (the portfolio office does too, above).
    rows += [(ESTATES, DISPOSAL, a, ALL) for a in (CREATE, EDIT, DELETE)]
    # ...and the sites it adds by hand, which ERIC does not cover (GP premises, NHS
    # Property Services, Community Health Partnerships).
    rows += [(ESTATES, ESTATE_SITE, a, ALL) for a in (CREATE, EDIT, DELETE)]
    return rows


POLICY: tuple[tuple[str, str, str, str], ...] = tuple(_rows())


def _field_rows() -> list[tuple[str, str, str, str]]:
    """Who may set each protected field (``PROTECTED_FIELDS``); nobody else may, even
    with the right to edit the record. Same shape as `POLICY`, objects ``type.field``."""
    rows: list[tuple[str, str, str, str]] = []
    for name in PROTECTED_FIELDS[PROGRAMME]:
        obj = field_object(PROGRAMME, name)
        rows += [(PORTFOLIO_OFFICE, obj, a, ALL) for a in (CREATE, EDIT)]
    return rows


FIELD_POLICY: tuple[tuple[str, str, str, str], ...] = tuple(_field_rows())

_MODEL = """
[request_definition]
r = role, obj, act, owned, owner

[policy_definition]
p = role, obj, act, scope

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = r.role == p.role && r.obj == p.obj && r.act == p.act && \
    (p.scope == "all" || owns(r.owned, r.owner))
"""


def _owns(owned: frozenset[str], owner: str | None) -> bool:
    return owner is not None and owner in owned


@lru_cache(maxsize=1)
def _enforcer() -> casbin.Enforcer:
    import casbin

    model = casbin.Model()
    model.load_model_from_text(_MODEL)
    enforcer = casbin.Enforcer(model)
    # A refusal is an ordinary answer, not a warning: keep casbin from logging each one.
    enforcer.logger.setLevel(logging.ERROR)
    enforcer.add_function("owns", _owns)
    enforcer.add_policies([list(row) for row in POLICY + FIELD_POLICY])
    return enforcer


@dataclass(frozen=True)
class Principal:
    """The signed-in person a request acts for."""

    account_id: int
    email: str
    display_name: str
    role: str
    programmes: frozenset[str] = field(default_factory=frozenset)
    via: str = "session"
    csrf_token: str | None = None

    @property
    def label(self) -> str:
        return f"{self.display_name} <{self.email}>"


class Forbidden(PermissionError):
    """The policy does not allow this principal this action on this record.

    It carries what was refused (action, record type, owner, fields) so the refusal can
    be written to the audit trail by whoever ends the request (core.web.workspace).
    """

    def __init__(
        self,
        message: str,
        *,
        action: str | None = None,
        record_type: str | None = None,
        owner: str | None = None,
        fields: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.action = action
        self.record_type = record_type
        self.owner = owner
        self.fields = fields
        self.audited = False


def is_allowed(
    principal: Principal | None, action: str, record_type: str, owner: str | None = None
) -> bool:
    """Ask the policy. ``owner`` is the programme a record belongs to, when it has one."""
    if principal is None:
        return False
    owned = principal.programmes if record_type in PROGRAMME_RECORDS else frozenset()
    return bool(_enforcer().enforce(principal.role, record_type, action, owned, owner))


def could_ever(principal: Principal | None, action: str, record_type: str) -> bool:
    """May this principal do ``action`` to *some* record of this type (any they own)?

    Used to refuse at once, before reading input, a role that never may; the decision on
    a particular record is still `authorize`'s.
    """
    if principal is None:
        return False
    if is_allowed(principal, action, record_type, owner=None):
        return True
    if record_type in PROGRAMME_RECORDS and principal.programmes:
        return is_allowed(principal, action, record_type, owner=min(principal.programmes))
    return False


def authorize(
    principal: Principal | None, action: str, record_type: str, owner: str | None = None
) -> None:
    """Raise `Forbidden` unless the policy allows it: the single check every change passes."""
    if not is_allowed(principal, action, record_type, owner):
        who = principal.role if principal else "anonymous"
        base, _, name = record_type.partition(".")
        if name:
            message = (
                f"{who} may not change a {base.replace('_', ' ')}'s "
                f"{name.replace('_', ' ')}: it is kept by the portfolio office"
            )
        else:
            message = f"{who} may not {action} {record_type.replace('_', ' ')} records"
        refusal = Forbidden(
            message,
            action=action,
            record_type=base,
            owner=owner,
            fields=(name,) if name else (),
        )
        _note_refusal(refusal)
        raise refusal


def protected_changes(
    record_type: str, before: dict[str, Any] | None, after: dict[str, Any]
) -> tuple[str, ...]:
    """The protected fields of ``record_type`` whose value ``after`` differs from ``before``.

    ``before`` is None for a new record: then a protected field counts as changed when
    it is given at all (a value other than None, zero or empty).
    """
    changed = []
    for name in PROTECTED_FIELDS.get(record_type, ()):
        if name not in after:
            continue
        if before is None:
            if after[name] not in (None, 0, "", [], ()):
                changed.append(name)
        elif after[name] != before.get(name):
            changed.append(name)
    return tuple(changed)


def authorize_fields(
    principal: Principal | None,
    action: str,
    record_type: str,
    owner: str | None,
    changed: tuple[str, ...],
) -> None:
    """Raise `Forbidden` unless the principal may set every protected field in ``changed``."""
    for name in changed:
        authorize(principal, action, field_object(record_type, name), owner)


# Refusals seen while a unit of work runs, so it can audit them after rolling back (an
# import refuses row by row and reports them all, so they never reach an error handler).
_REFUSALS: ContextVar[list[Forbidden] | None] = ContextVar("healthycity_refusals", default=None)


def _note_refusal(refusal: Forbidden) -> None:
    seen = _REFUSALS.get()
    if seen is not None:
        seen.append(refusal)


@contextlib.contextmanager
def collecting_refusals() -> Iterator[list[Forbidden]]:
    """Collect every `Forbidden` that `authorize` raises inside the block."""
    seen: list[Forbidden] = []
    token = _REFUSALS.set(seen)
    try:
        yield seen
    finally:
        _REFUSALS.reset(token)


# ----------------------------------------------------------------------------- settings


class AuthSettings(BaseSettings):
    """Sign-in settings (``HEALTHYCITY_*``). OIDC is off until issuer, id and secret are set."""

    model_config = SettingsConfigDict(env_prefix="HEALTHYCITY_", extra="ignore", frozen=True)

    oidc_issuer: str | None = Field(None, description="OpenID Connect issuer URL")
    oidc_client_id: str | None = Field(None, description="OIDC client id")
    oidc_client_secret: str | None = Field(None, description="OIDC client secret")
    oidc_scopes: str = Field("openid email profile", description="scopes requested")
    oidc_create_accounts: bool = Field(
        False, description="create a viewer account on first OIDC sign-in (else refuse)"
    )
    session_hours: int = Field(8, ge=1, le=24 * 14, description="how long a sign-in lasts")
    sign_in_account_limit: int = Field(
        5,
        ge=1,
        le=1000,
        description="failed sign-ins to one email address within the window before it is locked",
    )
    sign_in_address_limit: int = Field(
        20,
        ge=1,
        le=100000,
        description="failed sign-ins from one client address (IPv6: its /64) within the "
        "window before the address is locked",
    )
    sign_in_window_minutes: int = Field(
        15, ge=1, le=24 * 60, description="the window, in minutes, failed sign-ins are counted in"
    )
    sign_in_lockout_minutes: int = Field(
        15,
        ge=1,
        le=24 * 60,
        description="how long a first lock lasts, in minutes; each further lock in a row "
        "doubles it, up to a day",
    )
    password_reset_minutes: int = Field(
        60, ge=5, le=7 * 24 * 60, description="how long a password reset link works, in minutes"
    )

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer and self.oidc_client_id and self.oidc_client_secret)


# ---------------------------------------------------------------------------- passwords

MIN_PASSWORD_LENGTH = passwords.MIN_LENGTH


class AccountError(ValueError):
    """An account could not be created or changed; the message says why and ``field``
    names the input it is about ("email", "password", "role" or "" for the whole)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


_HASHING: dict[str, int] = {}  # empty: argon2-cffi's defaults


def configure_password_hashing(*, time_cost: int, memory_kib: int, parallelism: int = 1) -> None:
    """Set argon2's cost for new hashes (existing hashes carry their own parameters).

    The default is argon2-cffi's (RFC 9106's low-memory profile). Tests lower it so that
    a suite creating hundreds of accounts stays fast; production should not.
    """
    _HASHING.update(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)
    _hasher.cache_clear()
    _DUMMY_HASH.clear()


@lru_cache(maxsize=1)
def _hasher() -> Any:
    from argon2 import PasswordHasher

    if not _HASHING:
        return PasswordHasher()
    return PasswordHasher(
        time_cost=_HASHING["time_cost"],
        memory_cost=_HASHING["memory_cost"],
        parallelism=_HASHING["parallelism"],
    )


MAX_PASSWORD_LENGTH = passwords.MAX_LENGTH


def check_password_policy(password: str, email: str | None = None) -> None:
    """Raise `AccountError` unless ``password`` is one the workspace accepts for the
    account ``email`` (the rules and why: `healthycity.core.passwords`, ASVS 4 §2.1)."""
    problem = passwords.problem(password, email=email)
    if problem is not None:
        raise AccountError(problem, "password")


def hash_password(password: str, email: str | None = None) -> str:
    """Check the policy, then hash; only for a password being *set*."""
    check_password_policy(password, email)
    return _hash(password)


def _hash(password: str) -> str:
    return str(_hasher().hash(password))


# A hash of a random password, checked when the email is unknown, so a failed sign-in
# takes as long whether or not the account exists.
_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(str(_hasher().hash(secrets.token_urlsafe(16))))
    return _DUMMY_HASH[0]


def verify_password(session: Session, email: str, password: str) -> Account | None:
    """The active account with this email and password, or None (same cost either way)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    account = find_account(session, email)
    stored = account.password_hash if account and account.active else None
    try:
        _hasher().verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if account is None or stored is None or not account.active:
        return None
    if _hasher().check_needs_rehash(stored):
        # The same password at today's cost: not a new password, so not re-judged.
        account.password_hash = _hash(password)
    return account


def spend_verify_time(password: str) -> None:
    """Check ``password`` against the dummy hash and ignore the answer.

    For answers that need no password check (a locked email or address): doing the
    same argon2 work as a real check keeps the answer's timing from telling them apart.
    """
    from argon2.exceptions import InvalidHashError, VerificationError

    with contextlib.suppress(VerificationError, InvalidHashError):
        _hasher().verify(_dummy_hash(), password)


def password_matches(account: Account, password: str) -> bool:
    """Is ``password`` this account's (an account with no local password has none)?"""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        _hasher().verify(account.password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return account.password_hash is not None


def set_password(session: Session, account: Account, password: str, *, reset: bool) -> None:
    """Give ``account`` a new password and end everything the old one opened.

    Every sign-in session of the account ends and unused reset links are cancelled, so
    someone who knew the old password (or held an old link) is shut out at once. The
    email's failed sign-ins are forgotten and any lock on it lifted: whoever set the
    password has shown they may. API tokens are separate credentials and stay. Audited
    as "password reset" (``reset=True``: an administrator or a reset link) or "password
    changed" (the person themselves), with the session's actor.
    """
    from healthycity.core import throttle
    from healthycity.core.audit import PASSWORD_CHANGED, PASSWORD_RESET, record_event
    from healthycity.core.auth_models import PasswordReset

    account.password_hash = hash_password(password, account.email)
    ended = session.execute(delete(WebSession).where(WebSession.account_id == account.id))
    session.execute(delete(PasswordReset).where(PasswordReset.account_id == account.id))
    throttle.unlock(session, throttle.ACCOUNT_SCOPE, account.email)
    record_event(
        session,
        ACCOUNT,
        str(account.id),
        PASSWORD_RESET if reset else PASSWORD_CHANGED,
        {"sessions_ended": int(getattr(ended, "rowcount", 0) or 0)},
    )
    session.flush()


RESET_PREFIX = "hcr_"


def issue_reset_link(session: Session, account: Account, *, minutes: int) -> str:
    """A one-time password reset token for ``account``, valid for ``minutes``.

    Only its digest is stored; any earlier unused link for the account stops working.
    Audited as "reset link issued" with the session's actor. Returns the token, which
    the caller shows once (it goes in the link: /workspace/reset-password?token=…).
    """
    from healthycity.core.audit import ACTOR_KEY, RESET_LINK_ISSUED, record_event
    from healthycity.core.auth_models import PasswordReset

    session.execute(delete(PasswordReset).where(PasswordReset.account_id == account.id))
    token = RESET_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires = now + timedelta(minutes=minutes)
    actor = session.info.get(ACTOR_KEY)
    session.add(
        PasswordReset(
            id=digest(token),
            account_id=account.id,
            created_at=now,
            expires_at=expires,
            issued_by=str(getattr(actor, "label", "unknown"))[:254],
        )
    )
    record_event(session, ACCOUNT, str(account.id), RESET_LINK_ISSUED, {"expires_at": expires})
    session.flush()
    return token


def reset_link_account(session: Session, token: str) -> Account | None:
    """The active account a reset token is for, while it is unused and unexpired."""
    from healthycity.core.auth_models import PasswordReset

    if not token.startswith(RESET_PREFIX) or len(token) > 200:
        return None
    row = session.get(PasswordReset, digest(token))
    if row is None or _aware(row.expires_at) <= datetime.now(UTC):
        return None
    account = session.get(Account, row.account_id)
    return account if account is not None and account.active else None


def use_reset_link(session: Session, token: str, password: str) -> Account | None:
    """Spend a reset token on a new password; None if the token is not (or no longer) good.

    The token's row is deleted with a condition on its expiry, and the answer is taken
    from how many rows that deleted: of two requests racing with one token, only one
    deletes it, so a link works once even across worker processes. The password is
    checked first (`AccountError`), so a refused password does not spend the link.
    """
    from healthycity.core.auth_models import PasswordReset

    account = reset_link_account(session, token)
    if account is None:
        return None
    check_password_policy(password, account.email)  # before anything is spent
    spent = session.execute(
        delete(PasswordReset).where(
            PasswordReset.id == digest(token), PasswordReset.expires_at > datetime.now(UTC)
        )
    )
    if int(getattr(spent, "rowcount", 0) or 0) != 1:
        return None
    set_password(session, account, password, reset=True)
    return account


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_account(session: Session, email: str) -> Account | None:
    return session.scalars(
        select(Account).where(Account.email == normalise_email(email))
    ).one_or_none()


def create_account(
    session: Session,
    email: str,
    role: str,
    *,
    display_name: str | None = None,
    password: str | None = None,
    programmes: tuple[str, ...] = (),
) -> Account:
    """Add an account (the caller's session carries the acting person for the audit)."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError(f"{email!r} is not an email address", "email")
    if role not in ROLES:
        raise AccountError(f"unknown role {role!r}; choose one of {', '.join(ROLES)}", "role")
    if find_account(session, email) is not None:
        raise AccountError(f"an account for {email} already exists", "email")
    account = Account(
        email=email,
        display_name=(display_name or email.split("@")[0]).strip()[:200],
        role=role,
        password_hash=hash_password(password, email) if password is not None else None,
        active=True,
    )
    session.add(account)
    session.flush()
    set_programmes(session, account, programmes)
    return account


def set_programmes(session: Session, account: Account, programmes: tuple[str, ...]) -> None:
    """Make ``programmes`` exactly the programmes this account leads."""
    programme_type = PROGRAMME
    wanted = set(programmes)
    for ownership in list(account.ownerships):
        if ownership.record_type == programme_type and ownership.record_key not in wanted:
            account.ownerships.remove(ownership)
    have = account.owned(programme_type)
    for key in sorted(wanted - have):
        account.ownerships.append(AccountOwnership(record_type=programme_type, record_key=key))
    session.flush()


def principal_for(account: Account, *, via: str, csrf_token: str | None = None) -> Principal:
    return Principal(
        account_id=account.id,
        email=account.email,
        display_name=account.display_name,
        role=account.role,
        programmes=account.owned(PROGRAMME),
        via=via,
        csrf_token=csrf_token,
    )


# ----------------------------------------------------------------- sessions and tokens


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start_session(
    session: Session, account: Account, *, hours: int, via: str = "password"
) -> tuple[str, WebSession]:
    """Create a sign-in session; returns the cookie value (never stored) and the row."""
    now = datetime.now(UTC)
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    row = WebSession(
        id=digest(token),
        account_id=account.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + timedelta(hours=hours),
        via=via,
    )
    session.add(row)
    session.flush()
    return token, row


def _aware(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def principal_from_session(session: Session, token: str) -> Principal | None:
    if not token or len(token) > 200:
        return None
    row = session.get(WebSession, digest(token))
    if row is None or _aware(row.expires_at) <= datetime.now(UTC):
        return None
    account = session.get(Account, row.account_id)
    if account is None or not account.active:
        return None
    return principal_for(account, via="session", csrf_token=row.csrf_token)


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.id == digest(token)))


TOKEN_PREFIX = "hc_"  # noqa: S105 - a prefix that marks our tokens, not a secret


def issue_token(session: Session, account: Account, name: str, days: int | None = 90) -> str:
    """A bearer token for the JSON API; only its digest is kept.

    Audited as "token issued" on the account, with the token's name, its short id (the
    first characters of the digest, what `users tokens list` shows) and its expiry.
    """
    from healthycity.core.audit import TOKEN_ISSUED, record_event

    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    row = ApiToken(id=digest(secret), account_id=account.id, name=name[:100], expires_at=expires)
    session.add(row)
    record_event(
        session,
        ACCOUNT,
        str(account.id),
        TOKEN_ISSUED,
        {"name": row.name, "token": token_label(row), "expires_at": expires},
    )
    session.flush()
    return secret


TOKEN_LABEL_LENGTH = 12


def token_label(row: ApiToken) -> str:
    """A token's short public id: the start of its digest (it reveals nothing of it)."""
    return row.id[:TOKEN_LABEL_LENGTH]


def principal_from_token(session: Session, secret: str) -> Principal | None:
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        return None
    row = session.get(ApiToken, digest(secret))
    if row is None or (row.expires_at is not None and _aware(row.expires_at) <= datetime.now(UTC)):
        return None
    account = session.get(Account, row.account_id)
    if account is None or not account.active:
        return None
    return principal_for(account, via="token")


__all__ = [
    "ACTIONS",
    "ADMIN",
    "ASSESSOR",
    "PORTFOLIO_OFFICE",
    "PROGRAMME_LEAD",
    "RECORD_TYPES",
    "ROLES",
    "VIEWER",
    "Principal",
    "authorize",
    "is_allowed",
]
