"""Sign-in throttling and lockout, counted in the database so every worker process agrees.

A password can be guessed only as fast as the sign-in form answers, so failures are
counted twice: per email address typed and per client address. Once either count
reaches its limit within the window, that email or address is locked for a while; each
further lock in a row doubles the wait, up to a day.

The email count is kept whether or not an account has that email. A lock therefore
looks the same for an address nobody uses as for a real account, and the lockout
message cannot be used to find out who has an account.

An attempt is counted *before* its password is checked (`reserve`) and settled after
(`failed` or `succeeded`). Checking a password takes tens of milliseconds of argon2, and
no database lock is held meanwhile; counting first means that many requests sent at
once still get no more guesses than the limit allows.

Every failure, refusal, lock and unlock goes into the audit trail (`core.audit`); the
records hang under the account when the email belongs to one, so the account's history
page shows them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core import audit
from healthycity.core.audit import Actor
from healthycity.core.auth_models import Account, SignInThrottle

ACCOUNT_SCOPE = "account"
ADDRESS_SCOPE = "address"
# The record types the audit trail files these events under.
AUDIT_TYPES: dict[str, str] = {ACCOUNT_SCOPE: "sign_in", ADDRESS_SCOPE: "sign_in_address"}
LONGEST_LOCK = timedelta(days=1)
# After a day with no failure, an email or address starts again from a short lock.
FORGET_AFTER = timedelta(days=1)
PRUNE_BATCH = 100


@dataclass(frozen=True)
class Limits:
    """How many failures are allowed, in what window, and how long a first lock lasts."""

    account: int = 5
    address: int = 20
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        """From `core.auth.AuthSettings` (read as attributes, so this module needs no import)."""
        return cls(
            account=settings.sign_in_account_limit,
            address=settings.sign_in_address_limit,
            window=timedelta(minutes=settings.sign_in_window_minutes),
            lockout=timedelta(minutes=settings.sign_in_lockout_minutes),
        )

    def limit(self, scope: str) -> int:
        return self.account if scope == ACCOUNT_SCOPE else self.address


@dataclass(frozen=True)
class Attempt:
    """One try at a password: the email typed, where it came from, and who to record."""

    email: str
    address: str
    actor: Actor | None = None

    def keys(self) -> list[tuple[str, str]]:
        # Always the same order, so two transactions never wait on each other's rows.
        return sorted([(ACCOUNT_SCOPE, self.email[:254]), (ADDRESS_SCOPE, self.address[:254])])

    @property
    def who(self) -> Actor:
        return self.actor or Actor(f"sign-in form (from {self.address})")


def client_address(host: str | None) -> str:
    """The key an address is counted under: an IPv6 client by its /64, as one host has it.

    Uvicorn already replaces the peer with ``X-Forwarded-For`` when the request comes
    through a trusted proxy (``FORWARDED_ALLOW_IPS``), so this is the real client.
    """
    if not host:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(host)
    except ValueError:
        return host[:254]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{parsed}/64", strict=False))
    return str(parsed)


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every stored time is UTC.
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _insert(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def _rows_for_update(
    session: Session, keys: Iterable[tuple[str, str]], now: datetime
) -> list[SignInThrottle]:
    """The rows for ``keys``, created if missing and locked until the transaction ends.

    ``INSERT … ON CONFLICT DO NOTHING`` makes a row exist without racing another
    process; ``SELECT … FOR UPDATE`` then holds it (PostgreSQL locks the row; SQLite
    already holds its one write lock from the insert). Should another process prune the
    row between the two, the insert is simply tried again.
    """
    insert = _insert(session)
    keys = list(keys)
    rows = []
    grew = False
    for scope, key in keys:
        row = None
        for _ in range(3):
            result = session.execute(
                insert(SignInThrottle)
                .values(scope=scope, key=key, failures=0, lockouts=0, window_started_at=now)
                .on_conflict_do_nothing()
            )
            grew = grew or bool(getattr(result, "rowcount", 0))
            row = session.scalars(
                select(SignInThrottle)
                .where(SignInThrottle.scope == scope, SignInThrottle.key == key)
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one_or_none()
            if row is not None:
                break
        if row is None:
            raise RuntimeError(f"could not keep a sign-in count for {scope} {key}")
        rows.append(row)
    if grew:
        _prune(session, now, keep=keys)
    return rows


def _prune(session: Session, now: datetime, *, keep: list[tuple[str, str]]) -> None:
    """Delete the rows that have gone quiet for a day: unlocked, no failure for a day, and
    their window long over. Such a row means the same as no row (`_roll_window` would
    reset it), so nothing is forgotten early; without this, every email a guesser ever
    typed would keep a row. Run when a new row is added, the only time the table grows.
    """
    from sqlalchemy import and_, delete, not_, or_, tuple_

    quiet = now - FORGET_AFTER
    # A bounded batch, skipping rows another sign-in holds: pruning never waits on (or
    # deadlocks with) an attempt in progress.
    victims = (
        select(SignInThrottle.scope, SignInThrottle.key)
        .where(
            *(not_(and_(SignInThrottle.scope == s, SignInThrottle.key == k)) for s, k in keep),
            SignInThrottle.window_started_at < quiet,
            or_(SignInThrottle.last_failure_at.is_(None), SignInThrottle.last_failure_at < quiet),
            or_(SignInThrottle.locked_until.is_(None), SignInThrottle.locked_until < now),
        )
        .limit(PRUNE_BATCH)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        delete(SignInThrottle)
        .where(tuple_(SignInThrottle.scope, SignInThrottle.key).in_(victims))
        .execution_options(synchronize_session=False)
    )


def _is_locked(row: SignInThrottle, now: datetime) -> bool:
    until = _aware(row.locked_until)
    return until is not None and until > now


def _roll_window(row: SignInThrottle, limits: Limits, now: datetime) -> None:
    """Start a new window once the last one has passed (never while locked)."""
    if _is_locked(row, now):
        return
    started = _aware(row.window_started_at) or now
    if started + limits.window <= now:
        row.failures = 0
        row.window_started_at = now
    last = _aware(row.last_failure_at)
    if row.lockouts and (last is None or last + FORGET_AFTER <= now):
        row.lockouts = 0


def _account_parent(session: Session, email: str) -> tuple[str, str] | None:
    account_id = session.scalar(select(Account.id).where(Account.email == email))
    return ("account", str(account_id)) if account_id is not None else None


def reserve(
    session: Session, attempt: Attempt, limits: Limits, now: datetime | None = None
) -> datetime | None:
    """Count this attempt before its password is checked, or refuse it.

    Returns None when the attempt may go ahead (it is already counted as a failure;
    `succeeded` takes it back), or the time until which it is refused. A refusal is
    audited; the password is not checked and the attempt is not counted again.
    """
    now = _now(now)
    rows = _rows_for_update(session, attempt.keys(), now)
    refused_until: list[datetime] = []
    for row in rows:
        _roll_window(row, limits, now)
        until = _aware(row.locked_until)
        if until is not None and until > now:
            refused_until.append(until)
        elif row.failures >= limits.limit(row.scope):
            # The allowance is taken by attempts still being checked: refuse this one
            # for as long as the lock they are about to cause would last.
            refused_until.append(now + limits.lockout)
    if refused_until:
        until = max(refused_until)
        audit.record_event(
            session,
            AUDIT_TYPES[ACCOUNT_SCOPE],
            attempt.email,
            audit.SIGN_IN_REFUSED,
            {"address": attempt.address, "locked_until": until},
            parent=_account_parent(session, attempt.email),
            actor=attempt.who,
        )
        return until
    for row in rows:
        row.failures += 1
    session.flush()
    return None


def failed(
    session: Session, attempt: Attempt, limits: Limits, now: datetime | None = None
) -> datetime | None:
    """Settle a reserved attempt whose password was wrong: audit it, lock if it was the last.

    Returns the time until which the email or the address is now locked, or None.
    """
    now = _now(now)
    rows = _rows_for_update(session, attempt.keys(), now)
    parent = _account_parent(session, attempt.email)
    counts = {row.scope: row.failures for row in rows}
    audit.record_event(
        session,
        AUDIT_TYPES[ACCOUNT_SCOPE],
        attempt.email,
        audit.SIGN_IN_FAILED,
        {
            "address": attempt.address,
            "failures": counts.get(ACCOUNT_SCOPE),
            "address_failures": counts.get(ADDRESS_SCOPE),
        },
        parent=parent,
        actor=attempt.who,
    )
    locked: list[datetime] = []
    for row in rows:
        row.last_failure_at = now
        if _is_locked(row, now):
            locked.append(_aware(row.locked_until) or now)
            continue
        if row.failures < limits.limit(row.scope):
            continue
        row.lockouts += 1
        wait = min(limits.lockout * 2 ** min(row.lockouts - 1, 20), LONGEST_LOCK)
        until = now + wait
        row.locked_until = until
        # A fresh allowance once the lock ends, counted from then.
        row.failures = 0
        row.window_started_at = until
        locked.append(until)
        audit.record_event(
            session,
            AUDIT_TYPES[row.scope],
            row.key,
            audit.LOCKED,
            {"until": until, "failures": limits.limit(row.scope), "lockouts": row.lockouts},
            parent=parent if row.scope == ACCOUNT_SCOPE else None,
            actor=attempt.who,
        )
    session.flush()
    return max(locked) if locked else None


def succeeded(session: Session, attempt: Attempt, now: datetime | None = None) -> None:
    """Settle a reserved attempt whose password was right.

    The email starts again from nothing. The address only gets back the one attempt
    `reserve` counted: otherwise a guesser with one account of their own could sign in
    between guesses and never be locked out by address.
    """
    now = _now(now)
    for row in _rows_for_update(session, attempt.keys(), now):
        if row.scope == ACCOUNT_SCOPE:
            row.failures = 0
            row.lockouts = 0
            row.locked_until = None
            row.window_started_at = now
        else:
            row.failures = max(row.failures - 1, 0)
    session.flush()


def unlock(session: Session, scope: str, key: str, *, actor: Actor | None = None) -> bool:
    """Forget the failures of an email or address and lift any lock; True if it was locked.

    Audited as "unlocked" when there was a lock or a failure to forget.
    """
    if scope not in AUDIT_TYPES:
        raise ValueError(f"scope must be {ACCOUNT_SCOPE!r} or {ADDRESS_SCOPE!r}")
    row = session.get(SignInThrottle, (scope, key))
    if row is None:
        return False
    now = datetime.now(UTC)
    was_locked = _is_locked(row, now)
    had = row.failures
    session.delete(row)
    if was_locked or had:
        audit.record_event(
            session,
            AUDIT_TYPES[scope],
            key,
            audit.UNLOCKED,
            {"was_locked": was_locked, "failures": had},
            parent=_account_parent(session, key) if scope == ACCOUNT_SCOPE else None,
            actor=actor,
        )
    session.flush()
    return was_locked


def locks(
    session: Session, scope: str, keys: Iterable[str] | None = None, now: datetime | None = None
) -> dict[str, datetime]:
    """Key -> locked until, for the keys of ``scope`` locked now (all of them by default)."""
    now = _now(now)
    query = select(SignInThrottle).where(
        SignInThrottle.scope == scope, SignInThrottle.locked_until.is_not(None)
    )
    if keys is not None:
        query = query.where(SignInThrottle.key.in_(list(keys)))
    out: dict[str, datetime] = {}
    for row in session.scalars(query):
        until = _aware(row.locked_until)
        if until is not None and until > now:
            out[row.key] = until
    return out
