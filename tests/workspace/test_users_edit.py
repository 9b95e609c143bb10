"""Accounts can be repaired: `users edit` changes a role and the programmes led, and a
programme lead without a programme is refused with a clear message."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from healthycity.core.auth import PROGRAMME, find_account
from healthycity.core.db import transaction
from tests.workspace.helpers import cli_for, load_london, url_of


def _run(engine: Engine, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli_for(url_of(engine)),
        ["--database", url_of(engine), "users", *args],
        input="x" * 16 + "\n" + "x" * 16 + "\n",
    )
    return result.exit_code, result.output + (result.stderr if result.stderr_bytes else "")


def test_a_programme_lead_needs_a_programme_and_an_account_can_be_edited(engine: Engine) -> None:
    load_london(engine)
    code, said = _run(
        engine, "add", "lead@example.org", "--role", "programme_lead", "--no-password"
    )
    assert code == 1 and "needs at least one programme" in said and "--programme" in said
    code, said = _run(engine, "add", "lead@example.org", "--role", "viewer", "--no-password")
    assert code == 0, said
    code, said = _run(engine, "edit", "lead@example.org", "--role", "programme_lead")
    assert code == 1 and "needs at least one programme" in said
    code, said = _run(
        engine, "edit", "lead@example.org", "--role", "programme_lead", "--programme", "nope"
    )
    assert code == 1 and "no programme nope" in said
    code, said = _run(
        engine, "edit", "lead@example.org", "--role", "programme_lead", "--programme", "cancer"
    )
    assert code == 0 and "cancer" in said, said
    with transaction(engine) as session:
        account = find_account(session, "lead@example.org")
        assert account is not None and account.role == "programme_lead"
        assert account.owned(PROGRAMME) == {"cancer"}
    code, said = _run(engine, "edit", "lead@example.org", "--role", "viewer")
    assert code == 0, said
    with transaction(engine) as session:
        account = find_account(session, "lead@example.org")
        assert account is not None and account.role == "viewer" and not account.owned(PROGRAMME)


def test_an_admin_changes_role_and_programmes_on_the_web(engine: Engine) -> None:
    from fastapi.testclient import TestClient

    from tests.workspace.helpers import add_people, app_for

    load_london(engine)
    tokens = add_people(engine)
    client = TestClient(app_for(url_of(engine)))
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    page = client.get("/workspace/accounts", headers=admin).text
    assert "/edit" in page and "Change role or programmes" in page
    refused = client.post(
        "/api/v1/accounts",
        json={"email": "l2@example.org", "display_name": "L", "role": "programme_lead"},
        headers=admin,
    )
    assert refused.status_code == 422
    assert "needs at least one programme" in refused.json()["errors"]["programmes"]
    made = client.post(
        "/api/v1/accounts",
        json={"email": "l2@example.org", "display_name": "L", "role": "viewer"},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    changed = client.patch(
        f"/api/v1/accounts/{made.json()['id']}",
        json={"role": "programme_lead", "programmes": ["cancer"]},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["role"] == "programme_lead" and changed.json()["programmes"] == ["cancer"]
