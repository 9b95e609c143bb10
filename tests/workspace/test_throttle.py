"""Sign-in throttling, lockout and password resets in the database, on both engines."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core import auth, throttle
from healthycity.core.audit import SYSTEM_CLI, Actor, AuditRecord, history
from healthycity.core.auth_models import (
    Account,
    PasswordReset,
    SignInThrottle,
    WebSession,
)
from healthycity.core.db import transaction
from tests.workspace.helpers import PASSWORD, unit

LIMITS = throttle.Limits(
    account=3, address=5, window=timedelta(minutes=15), lockout=timedelta(minutes=10)
)
T0 = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def _try(
    engine: Engine,
    email: str,
    password: str,
    *,
    address: str = "192.0.2.1",
    now: datetime = T0,
    limits: throttle.Limits = LIMITS,
) -> str:
    """One sign-in attempt the way the form makes it: 'ok', 'wrong', 'locked' or 'refused'."""
    attempt = throttle.Attempt(auth.normalise_email(email), throttle.client_address(address))
    with transaction(engine) as session:
        if throttle.reserve(session, attempt, limits, now) is not None:
            return "refused"
    with transaction(engine) as session:
        account = auth.verify_password(session, email, password)
        if account is None:
            return "locked" if throttle.failed(session, attempt, limits, now) else "wrong"
        throttle.succeeded(session, attempt, now)
        return "ok"


def _events(engine: Engine, action: str) -> list[AuditRecord]:
    with transaction(engine) as session:
        query = select(AuditRecord).where(AuditRecord.action == action).order_by(AuditRecord.id)
        return list(session.scalars(query))


def _account(engine: Engine, email: str = "ada@example.org") -> int:
    with unit(engine) as session:
        return auth.create_account(session, email, "viewer", password=PASSWORD).id


def test_an_account_locks_after_the_limit_even_for_the_right_password(engine: Engine) -> None:
    account_id = _account(engine)
    assert [_try(engine, "ada@example.org", "wrong guess!") for _ in range(3)] == [
        "wrong",
        "wrong",
        "locked",
    ]
    assert _try(engine, "ada@example.org", PASSWORD) == "refused"
    # The lock ends after the lockout; the right password then works and clears the count.
    later = T0 + LIMITS.lockout + timedelta(seconds=1)
    assert _try(engine, "ada@example.org", PASSWORD, now=later) == "ok"
    with transaction(engine) as session:
        row = session.get(SignInThrottle, ("account", "ada@example.org"))
        assert row is not None and row.failures == 0 and row.locked_until is None
    # Audit: three failures, one lock, one refusal, all under the account's history.
    assert len(_events(engine, "sign-in failed")) == 3
    (lock,) = _events(engine, "locked")
    assert lock.record_type == "sign_in" and lock.record_id == "ada@example.org"
    assert lock.parent_type == "account" and lock.parent_id == str(account_id)
    assert lock.actor == "sign-in form (from 192.0.2.1)"
    (refusal,) = _events(engine, "sign-in refused")
    assert refusal.after is not None and refusal.after["address"] == "192.0.2.1"
    with transaction(engine) as session:
        actions = [r.action for r in history(session, "account", str(account_id))]
    assert actions.count("sign-in failed") == 3 and "locked" in actions
    assert "password" not in str([r.after for r in _events(engine, "sign-in failed")])


def test_an_unknown_email_is_treated_exactly_like_a_real_one(engine: Engine) -> None:
    _account(engine)
    known = [_try(engine, "ada@example.org", "wrong guess!", address="192.0.2.1") for _ in range(4)]
    unknown = [
        _try(engine, "nobody@example.org", "wrong guess!", address="192.0.2.2") for _ in range(4)
    ]
    assert known == unknown == ["wrong", "wrong", "locked", "refused"]
    with transaction(engine) as session:
        (lock,) = session.scalars(
            select(AuditRecord).where(
                AuditRecord.action == "locked", AuditRecord.record_id == "nobody@example.org"
            )
        )
        assert lock.parent_type is None  # no account to file it under


def test_each_lock_in_a_row_doubles_and_a_success_starts_again(engine: Engine) -> None:
    _account(engine)
    now = T0
    waits = []
    for round_ in range(3):
        for _ in range(LIMITS.account):  # from a new address each time: only the email locks
            _try(engine, "ada@example.org", "wrong guess!", now=now, address=f"192.0.2.{round_}")
        with transaction(engine) as session:
            row = session.get(SignInThrottle, ("account", "ada@example.org"))
            assert row is not None and row.locked_until is not None
            until = row.locked_until.replace(tzinfo=UTC)
        waits.append(until - now)
        now = until + timedelta(seconds=1)
    assert waits == [timedelta(minutes=10), timedelta(minutes=20), timedelta(minutes=40)]
    assert _try(engine, "ada@example.org", PASSWORD, now=now, address="192.0.2.9") == "ok"
    for _ in range(LIMITS.account):
        _try(engine, "ada@example.org", "wrong guess!", now=now, address="192.0.2.9")
    with transaction(engine) as session:
        row = session.get(SignInThrottle, ("account", "ada@example.org"))
        assert row is not None and row.locked_until is not None
        assert row.locked_until.replace(tzinfo=UTC) - now == LIMITS.lockout


def test_failures_outside_the_window_are_forgotten(engine: Engine) -> None:
    _account(engine)
    for minute in (0, 10, 20, 30):  # never three within 15 minutes
        assert _try(engine, "ada@example.org", "wrong", now=T0 + timedelta(minutes=minute)) == (
            "wrong"
        )


def test_an_address_locks_across_emails_and_a_success_does_not_reset_it(engine: Engine) -> None:
    _account(engine, "mallory@example.org")
    answers = []
    for n in range(7):
        answers.append(_try(engine, f"target{n}@example.org", "guess", address="2001:db8::1"))
        # The guesser's own account signs in between guesses: the address count stands.
        if n < 3:
            assert _try(engine, "mallory@example.org", PASSWORD, address="2001:db8::1") == "ok"
    assert answers == ["wrong"] * 4 + ["locked", "refused", "refused"]
    # The whole /64 is one address; another network is not affected.
    assert _try(engine, "mallory@example.org", PASSWORD, address="2001:db8::beef") == "refused"
    assert _try(engine, "mallory@example.org", PASSWORD, address="2001:db9::1") == "ok"
    with transaction(engine) as session:
        (lock,) = session.scalars(select(AuditRecord).where(AuditRecord.action == "locked"))
        assert lock.record_type == "sign_in_address"
        assert lock.record_id == "2001:db8::/64"
        assert throttle.locks(session, "address", now=T0) == {"2001:db8::/64": T0 + LIMITS.lockout}


def test_unlock_lifts_the_lock_and_is_audited(engine: Engine) -> None:
    _account(engine)
    for _ in range(LIMITS.account):
        _try(engine, "ada@example.org", "wrong guess!", now=datetime.now(UTC))
    with transaction(engine) as session:
        assert set(throttle.locks(session, "account")) == {"ada@example.org"}
    admin = Actor("Admin <admin@example.org>", account_id=99)
    with unit(engine, admin) as session:
        assert throttle.unlock(session, "account", "ada@example.org") is True
    with unit(engine, admin) as session:
        assert throttle.unlock(session, "account", "ada@example.org") is False
    assert _try(engine, "ada@example.org", PASSWORD, now=datetime.now(UTC)) == "ok"
    (unlocked,) = _events(engine, "unlocked")
    assert unlocked.actor == admin.label and unlocked.actor_id == 99
    assert unlocked.after == {"was_locked": True, "failures": 0}


def test_attempts_in_flight_count_before_their_password_is_checked(engine: Engine) -> None:
    """Twelve requests at once, from two connections' worth of threads: only three get
    their password checked, however the database interleaves them."""
    attempt = throttle.Attempt("ada@example.org", "198.51.100.7")
    results: list[datetime | None] = []
    lock = threading.Lock()

    def reserve() -> None:
        with transaction(engine) as session:
            answer = throttle.reserve(session, attempt, LIMITS, T0)
        with lock:
            results.append(answer)

    threads = [threading.Thread(target=reserve) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for r in results if r is None) == LIMITS.account
    assert len(results) == 12


def test_rows_gone_quiet_for_a_day_are_pruned_when_new_ones_arrive(engine: Engine) -> None:
    day_later = T0 + timedelta(days=1, minutes=20)
    for n in range(3):
        _try(engine, f"old{n}@example.org", "guess", address="192.0.2.1")
    for _ in range(LIMITS.address):
        _try(engine, "x@example.org", "guess", address="192.0.2.2")  # locks this address
    with unit(engine) as session:
        session.get(SignInThrottle, ("address", "192.0.2.2")).locked_until = day_later + (  # type: ignore[union-attr]
            timedelta(hours=1)
        )
    # A day on, the old emails' rows have nothing to say; old0 comes back meanwhile.
    _try(engine, "old0@example.org", "guess", address="192.0.2.1", now=day_later)
    _try(engine, "new@example.org", "guess", address="192.0.2.3", now=day_later)
    with transaction(engine) as session:
        rows = session.execute(select(SignInThrottle.scope, SignInThrottle.key))
        keys = {(scope, key) for scope, key in rows}
    assert keys == {
        ("account", "old0@example.org"),
        ("account", "new@example.org"),
        ("address", "192.0.2.1"),
        ("address", "192.0.2.2"),  # still locked
        ("address", "192.0.2.3"),
    }
    assert _try(engine, "y@example.org", PASSWORD, address="192.0.2.2", now=day_later) == "refused"


def test_client_addresses() -> None:
    assert throttle.client_address("192.0.2.9") == "192.0.2.9"
    assert throttle.client_address("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert throttle.client_address("::ffff:192.0.2.9") == "192.0.2.9"
    assert throttle.client_address(None) == "unknown"
    assert throttle.client_address("testclient") == "testclient"


def test_every_answer_costs_one_argon2_check(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown email, wrong password, locked email: one verify each, so the time taken
    does not say which it was."""
    _account(engine)
    for _ in range(LIMITS.account):
        _try(engine, "ada@example.org", "wrong guess!")
    real = auth._hasher()
    calls: list[str] = []

    class Counting:
        def verify(self, stored: str, password: str) -> bool:
            calls.append(password)
            return bool(real.verify(stored, password))

        def check_needs_rehash(self, stored: str) -> bool:
            return bool(real.check_needs_rehash(stored))

    monkeypatch.setattr(auth, "_hasher", lambda: Counting())

    def attempt(email: str, password: str) -> int:
        calls.clear()
        answer = _try(engine, email, password)
        if answer == "refused":
            auth.spend_verify_time(password)  # as the sign-in page does
        return len(calls)

    assert attempt("unknown@example.org", "wrong guess!") == 1
    assert attempt("ada@example.org", PASSWORD) == 1  # locked: refused, still one check
    with unit(engine) as session:
        throttle.unlock(session, "account", "ada@example.org")
    assert attempt("ada@example.org", "wrong guess!") == 1


# ------------------------------------------------------------------ passwords


def test_a_reset_link_works_once_and_ends_every_session(engine: Engine) -> None:
    account_id = _account(engine)
    for _ in range(LIMITS.account):
        _try(engine, "ada@example.org", "wrong guess!", now=datetime.now(UTC))
    with unit(engine) as session:
        account = session.get(Account, account_id)
        assert account is not None
        cookie, _row = auth.start_session(session, account, hours=8)
        auth.start_session(session, account, hours=8)
        first = auth.issue_reset_link(session, account, minutes=30)
        token = auth.issue_reset_link(session, account, minutes=30)
        assert token.startswith("hcr_")
    with transaction(engine) as session:
        # Only digests are stored, and the second link replaced the first.
        stored = list(session.scalars(select(PasswordReset)))
        assert [r.id for r in stored] == [auth.digest(token)]
        assert stored[0].issued_by == SYSTEM_CLI.label
        assert auth.reset_link_account(session, first) is None
        assert auth.reset_link_account(session, token) is not None
    link_actor = Actor("password reset link (ada@example.org)")
    with pytest.raises(auth.AccountError, match="at least 12"), unit(engine, link_actor) as s:
        auth.use_reset_link(s, token, "short")
    with unit(engine, link_actor) as session:
        assert auth.use_reset_link(session, token, "a brand new passphrase") is not None
    with unit(engine, link_actor) as session:
        assert auth.use_reset_link(session, token, "another new passphrase") is None
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0
        assert auth.principal_from_session(session, cookie) is None
        assert session.scalar(select(func.count()).select_from(PasswordReset)) == 0
        assert throttle.locks(session, "account") == {}  # the reset lifted the lock
        actions = [r.action for r in history(session, "account", str(account_id))]
    assert actions.count("reset link issued") == 2
    assert "password reset" in actions and "unlocked" in actions
    assert _try(engine, "ada@example.org", "a brand new passphrase", now=datetime.now(UTC)) == "ok"
    (reset,) = _events(engine, "password reset")
    assert reset.actor == link_actor.label and reset.after == {"sessions_ended": 2}


def test_an_expired_link_or_a_switched_off_account_cannot_reset(engine: Engine) -> None:
    account_id = _account(engine)
    with unit(engine) as session:
        account = session.get(Account, account_id)
        assert account is not None
        expired = auth.issue_reset_link(session, account, minutes=30)
        session.get(PasswordReset, auth.digest(expired)).expires_at = datetime.now(  # type: ignore[union-attr]
            UTC
        ) - timedelta(seconds=1)
    with unit(engine) as session:
        assert auth.use_reset_link(session, expired, "a brand new passphrase") is None
        assert auth.reset_link_account(session, "hcr_not-a-real-token") is None
        assert auth.reset_link_account(session, "nonsense") is None
        account = session.get(Account, account_id)
        assert account is not None
        token = auth.issue_reset_link(session, account, minutes=30)
        account.active = False
    with unit(engine) as session:
        assert auth.use_reset_link(session, token, "a brand new passphrase") is None
    with transaction(engine) as session:
        assert auth.verify_password(session, "ada@example.org", "a brand new passphrase") is None


def test_changing_a_password_is_audited_without_the_password(engine: Engine) -> None:
    account_id = _account(engine)
    me = Actor("Ada <ada@example.org>", account_id=account_id)
    with unit(engine, me) as session:
        account = session.get(Account, account_id)
        assert account is not None and auth.password_matches(account, PASSWORD)
        auth.set_password(session, account, "my own new passphrase", reset=False)
        assert not auth.password_matches(account, PASSWORD)
    (changed,) = _events(engine, "password changed")
    assert changed.actor_id == account_id and changed.record_id == str(account_id)
    with transaction(engine) as session:
        text = str([(r.before, r.after) for r in session.scalars(select(AuditRecord))])
    assert "my own new passphrase" not in text and "argon2" not in text
