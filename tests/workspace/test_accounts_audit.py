"""Accounts, sessions, tokens, the policy and the audit trail, on both engines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from healthycity.core import auth
from healthycity.core.audit import Actor, AuditError, AuditRecord, acting_as, history
from healthycity.core.auth_models import Account, WebSession
from healthycity.core.db import transaction
from healthycity.portfolio.models import Programme
from tests.workspace.helpers import PASSWORD, unit


def test_password_sign_in_and_sessions(engine: Engine) -> None:
    with unit(engine) as session:
        auth.create_account(session, "Ada@Example.org", "viewer", password=PASSWORD)
    with transaction(engine) as session:
        assert auth.verify_password(session, "ada@example.org", "wrong password!") is None
        assert auth.verify_password(session, "nobody@example.org", PASSWORD) is None
        account = auth.verify_password(session, " ADA@example.org ", PASSWORD)
        assert account is not None and account.password_hash.startswith("$argon2id$")
        token, row = auth.start_session(session, account, hours=8)
        assert row.id != token and len(token) >= 40  # only the digest is stored
    with transaction(engine) as session:
        principal = auth.principal_from_session(session, token)
        assert principal is not None and principal.role == "viewer" and principal.csrf_token
        assert auth.principal_from_session(session, token + "x") is None
        auth.end_session(session, token)
    with transaction(engine) as session:
        assert auth.principal_from_session(session, token) is None


def test_expired_session_and_inactive_account_are_refused(engine: Engine) -> None:
    with unit(engine) as session:
        account = auth.create_account(session, "b@example.org", "admin", password=PASSWORD)
        token, row = auth.start_session(session, account, hours=1)
        row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        api = auth.issue_token(session, account, "script")
    with transaction(engine) as session:
        assert auth.principal_from_session(session, token) is None
        assert auth.principal_from_token(session, api) is not None
    with unit(engine) as session:
        session.scalars(select(Account)).one().active = False
    with transaction(engine) as session:
        assert auth.principal_from_token(session, api) is None
        assert auth.verify_password(session, "b@example.org", PASSWORD) is None


@pytest.mark.parametrize(
    ("email", "role", "password", "message"),
    [
        ("not-an-email", "viewer", PASSWORD, "not an email"),
        ("c@example.org", "superuser", PASSWORD, "unknown role"),
        ("c@example.org", "viewer", "short", "at least 12"),
    ],
)
def test_bad_accounts_are_refused(email: str, role: str, password: str, message: str) -> None:
    from unittest.mock import MagicMock

    session = MagicMock()
    session.scalars.return_value.one_or_none.return_value = None
    with pytest.raises(auth.AccountError, match=message):
        auth.create_account(session, email, role, password=password)


def test_policy_is_default_deny_with_an_ownership_rule() -> None:
    lead = auth.Principal(1, "l@x", "L", "programme_lead", programmes=frozenset({"cancer"}))
    viewer = auth.Principal(2, "v@x", "V", "viewer")
    assert auth.is_allowed(lead, "create", "spend", owner="cancer")
    assert not auth.is_allowed(lead, "create", "spend", owner="mental-health")
    assert not auth.is_allowed(lead, "create", "spend", owner=None)
    assert not auth.is_allowed(lead, "create", "budget", owner="cancer")
    assert not auth.is_allowed(lead, "delete", "programme", owner="cancer")
    assert auth.is_allowed(viewer, "view", "programme")
    assert not auth.is_allowed(viewer, "view", "account")
    assert not auth.is_allowed(None, "view", "programme")
    assert not auth.is_allowed(viewer, "fly", "programme")
    odd = auth.Principal(3, "o@x", "O", "superuser")
    assert not any(
        auth.is_allowed(odd, a, t, owner="cancer") for a in auth.ACTIONS for t in auth.RECORD_TYPES
    )
    with pytest.raises(auth.Forbidden):
        auth.authorize(viewer, "edit", "programme")
    # Every row of the table names a known role, record type, action and scope.
    for role, record_type, action, scope in auth.POLICY:
        assert role in auth.ROLES and record_type in auth.RECORD_TYPES
        assert action in auth.ACTIONS and scope in (auth.ALL, auth.OWN)


def _programme(slug: str) -> Programme:
    return Programme(slug=slug, name=slug.title(), whole_life_budget=Decimal("100.00"))


def test_every_change_is_audited_in_the_same_transaction(engine: Engine) -> None:
    ada = Actor("Ada <ada@example.org>", account_id=7)
    with unit(engine, ada) as session:
        session.add(_programme("alpha"))
    with unit(engine, ada) as session:
        session.get(Programme, "alpha").whole_life_budget = Decimal("150.50")  # type: ignore[union-attr]
    with unit(engine, ada) as session:
        session.get(Programme, "alpha").whole_life_budget = Decimal("150.5")  # type: ignore[union-attr]
    with pytest.raises(RuntimeError), unit(engine, ada) as session:
        session.get(Programme, "alpha").name = "Rolled back"  # type: ignore[union-attr]
        session.flush()
        raise RuntimeError("the change and its audit record roll back together")
    with unit(engine, ada) as session:
        session.delete(session.get(Programme, "alpha"))
    with transaction(engine) as session:
        records = history(session, "programme", "alpha")
        assert [r.action for r in records] == ["create", "update", "delete"]
        assert {r.actor for r in records} == {ada.label} and records[0].actor_id == 7
        created, updated, deleted = records
        assert created.before is None and created.after["whole_life_budget"] == "100.00"
        assert updated.before["whole_life_budget"] == "100.00"
        assert updated.after["whole_life_budget"] == "150.50"
        assert deleted.before["name"] == "Alpha" and deleted.after is None


def test_a_change_without_an_actor_is_refused(engine: Engine) -> None:
    with pytest.raises(AuditError, match="no actor"), transaction(engine) as session:
        session.add(_programme("beta"))
    with transaction(engine) as session:
        assert session.get(Programme, "beta") is None


def test_passwords_never_reach_the_trail(engine: Engine) -> None:
    with unit(engine) as session:
        auth.create_account(session, "d@example.org", "viewer", password=PASSWORD)
    with transaction(engine) as session:
        record = session.scalars(
            select(AuditRecord).where(AuditRecord.record_type == "account")
        ).one()
        assert "password_hash" not in (record.after or {})


def test_the_trail_is_append_only_in_the_orm_and_the_database(engine: Engine) -> None:
    with unit(engine) as session:
        session.add(_programme("gamma"))
    with pytest.raises(AuditError), transaction(engine) as session:
        session.scalars(select(AuditRecord)).first().actor = "someone else"  # type: ignore[union-attr]
    for statement in ("UPDATE audit_record SET actor = 'x'", "DELETE FROM audit_record"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditRecord)) == 1


def test_sessions_are_not_audited_but_remain_server_side(engine: Engine) -> None:
    with unit(engine) as session:
        account = auth.create_account(session, "e@example.org", "viewer", password=PASSWORD)
    with transaction(engine) as session, acting_as(session, Actor("x")):
        auth.start_session(session, session.get(Account, account.id), hours=1)  # type: ignore[arg-type]
    with transaction(engine) as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 1
        types = set(session.scalars(select(AuditRecord.record_type)))
        assert types == {"account"}
