"""Lockout, unlocking, password reset links and password changes over real HTTP and the
command line. Two servers on one database stand in for two worker processes."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from healthycity.core.auth import AuthSettings
from tests.conftest import LiveServer
from tests.workspace.helpers import PASSWORD, add_people, app_for, cli_for, url_of
from tests.workspace.test_sign_in import _anonymous, sign_in

runner = CliRunner()
NEW_PASSWORD = "a quite different passphrase"  # noqa: S105 - test data


def _app(engine: Engine, **limits: int) -> Any:
    app = app_for(url_of(engine))
    app.state.auth_settings = AuthSettings(**limits)  # type: ignore[arg-type]
    return app


def _attempt(client: httpx.Client, email: str, password: str) -> httpx.Response:
    token, cookie = _anonymous(client)
    return client.post(
        "/workspace/sign-in",
        data={"email": email, "password": password, "csrf_token": token},
        headers={"Cookie": f"hc_csrf={cookie}"},
    )


def _message(response: httpx.Response) -> str:
    """The error summary's text: what the person is told went wrong."""
    found = re.search(r"nhsuk-error-summary__list[^>]*>(.*?)</ul>", response.text, re.S)
    assert found is not None, response.text[:400]
    return re.sub(r"<[^>]+>|\s+", " ", found.group(1)).strip()


def _csrf(client: httpx.Client, path: str, session: str) -> str:
    page = client.get(path, headers={"Cookie": f"hc_session={session}"})
    assert page.status_code == 200, page.text[:300]
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def test_lockout_is_shared_by_workers_and_says_nothing_about_who_has_an_account(
    engine: Engine,
) -> None:
    add_people(engine)
    limits = {"sign_in_account_limit": 3, "sign_in_address_limit": 100}
    with (
        LiveServer(_app(engine, **limits)) as one,
        LiveServer(_app(engine, **limits)) as two,
        httpx.Client(base_url=one.url) as first,
        httpx.Client(base_url=two.url) as second,
    ):
        answers: dict[str, list[tuple[int, str]]] = {}
        for email in ("viewer@example.org", "nobody@example.org"):
            # Alternate between the two "workers": the count is in the database.
            responses = [
                _attempt(client, email, "wrong password here")
                for client in (first, second, first, second)
            ]
            answers[email] = [(r.status_code, _message(r)) for r in responses]
            assert responses[-1].headers["retry-after"] == "900"
        assert answers["viewer@example.org"] == answers["nobody@example.org"]
        statuses = [status for status, _ in answers["viewer@example.org"]]
        assert statuses == [200, 200, 429, 429]
        message = answers["viewer@example.org"][2][1]
        assert message.startswith("There have been too many attempts to sign in.")
        assert "Wait 15 minutes" in message
        # Locked: even the right password is refused, on either server.
        refused = _attempt(second, "viewer@example.org", PASSWORD)
        assert refused.status_code == 429 and "hc_session" not in refused.headers.get(
            "set-cookie", ""
        )

        # An administrator sees the lock and lifts it.
        admin, _ = sign_in(first, "admin@example.org")
        listing = first.get("/workspace/accounts", headers={"Cookie": f"hc_session={admin}"})
        row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*viewer@example\.org.*?</tr>", listing.text, re.S)
        assert row is not None and "Locked" in row.group(0) and "Unlock" in row.group(0)
        api = first.get("/api/v1/accounts", headers={"Cookie": f"hc_session={admin}"})
        by_email = {a["email"]: a for a in api.json()}
        assert by_email["viewer@example.org"]["locked_until"] is not None
        assert by_email["admin@example.org"]["locked_until"] is None
        viewer_id = by_email["viewer@example.org"]["id"]
        csrf = _csrf(first, "/workspace/accounts", admin)
        forged = first.post(
            f"/workspace/accounts/{viewer_id}/unlock",
            data={"csrf_token": "forged"},
            headers={"Cookie": f"hc_session={admin}"},
        )
        assert forged.status_code == 403
        unlocked = first.post(
            f"/workspace/accounts/{viewer_id}/unlock",
            data={"csrf_token": csrf},
            headers={"Cookie": f"hc_session={admin}"},
        )
        assert unlocked.status_code == 303
        sign_in(second, "viewer@example.org")
        history = first.get(
            f"/workspace/history/account/{viewer_id}", headers={"Cookie": f"hc_session={admin}"}
        )
        assert "Unlocked: sign in viewer@example.org" in history.text
        assert "Locked: sign in viewer@example.org" in history.text
        assert "Sign-in failed: sign in viewer@example.org" in history.text

        # Someone who is not an administrator may not unlock.
        viewer, viewer_csrf = sign_in(second, "viewer@example.org")
        refused = second.post(
            f"/workspace/accounts/{viewer_id}/unlock",
            data={"csrf_token": viewer_csrf},
            headers={"Cookie": f"hc_session={viewer}"},
        )
        assert refused.status_code == 403


def test_the_client_address_is_locked_too(engine: Engine) -> None:
    add_people(engine)
    app = _app(engine, sign_in_account_limit=50, sign_in_address_limit=3)
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
        statuses = [
            _attempt(client, f"guess{n}@example.org", "wrong password here").status_code
            for n in range(4)
        ]
        assert statuses == [200, 200, 429, 429]
        assert _attempt(client, "viewer@example.org", PASSWORD).status_code == 429
        url = url_of(engine)
        listed = runner.invoke(cli_for(), ["--database", url, "users", "list"])
        assert listed.exit_code == 0 and "address 127.0.0.1 locked until" in listed.stderr
        freed = runner.invoke(
            cli_for(), ["--database", url, "users", "unlock", "--address", "127.0.0.1"]
        )
        assert freed.exit_code == 0 and "unlocked 127.0.0.1" in freed.stdout
        sign_in(client, "viewer@example.org")


def test_the_command_line_lists_and_unlocks_locked_accounts(engine: Engine) -> None:
    add_people(engine)
    app = _app(engine, sign_in_account_limit=2)
    url = url_of(engine)
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
        for _ in range(2):
            _attempt(client, "Assessor@Example.org", "wrong password here")
        listed = runner.invoke(cli_for(), ["--database", url, "users", "list"])
        lines = {line.split("\t")[0]: line for line in listed.stdout.splitlines()}
        assert "[locked until " in lines["assessor@example.org"]
        assert "locked" not in lines["viewer@example.org"]
        freed = runner.invoke(
            cli_for(), ["--database", url, "users", "unlock", "ASSESSOR@example.org"]
        )
        assert freed.exit_code == 0 and freed.stdout.strip() == "unlocked assessor@example.org"
        again = runner.invoke(
            cli_for(), ["--database", url, "users", "unlock", "assessor@example.org"]
        )
        assert again.stdout.strip() == "assessor@example.org was not locked"
        sign_in(client, "assessor@example.org")


def test_a_reset_link_from_the_command_line_sets_a_new_password_once(engine: Engine) -> None:
    add_people(engine)
    url = url_of(engine)
    with LiveServer(_app(engine)) as server, httpx.Client(base_url=server.url) as client:
        old_session, _ = sign_in(client, "viewer@example.org")
        issued = runner.invoke(
            cli_for(),
            [
                "--database",
                url,
                "users",
                "reset-password",
                "viewer@example.org",
                "--link",
                "--base-url",
                server.url + "/",
                "--minutes",
                "30",
            ],
        )
        assert issued.exit_code == 0, issued.output
        link = issued.stdout.strip()
        assert link.startswith(f"{server.url}/workspace/reset-password?token=hcr_")
        assert "works once, for 30 minutes" in issued.stderr
        page = client.get(link)
        assert page.status_code == 200 and "viewer@example.org" in page.text
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "private, no-store"
        form_token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        cookie = page.cookies["hc_csrf"]
        token = link.split("token=")[1]

        def post(csrf: str, password: str, confirm: str) -> httpx.Response:
            return client.post(
                "/workspace/reset-password",
                data={"token": token, "password": password, "confirm": confirm, "csrf_token": csrf},
                headers={"Cookie": f"hc_csrf={cookie}"},
            )

        assert post("forged.x", NEW_PASSWORD, NEW_PASSWORD).status_code == 403
        short = post(form_token, "too short", "too short")
        assert short.status_code == 200 and "at least 12 characters" in short.text
        assert "There is a problem" in short.text
        mismatch = post(form_token, NEW_PASSWORD, NEW_PASSWORD + "!")
        assert "The passwords do not match" in mismatch.text
        done = post(form_token, NEW_PASSWORD, NEW_PASSWORD)
        assert done.status_code == 303
        assert done.headers["location"] == "/workspace/sign-in?done=password"
        # The link is spent; the old session has ended; the new password works.
        assert (
            post(form_token, "yet another passphrase", "yet another passphrase").status_code == 404
        )
        spent = client.get(link)
        assert spent.status_code == 404 and "This link cannot be used" in spent.text
        old = client.get("/workspace", headers={"Cookie": f"hc_session={old_session}"})
        assert old.status_code == 303
        notice = client.get("/workspace/sign-in?done=password")
        assert "Your password has been changed" in notice.text
        assert _attempt(client, "viewer@example.org", PASSWORD).status_code == 200
        sign_in(client, "viewer@example.org", NEW_PASSWORD)


def test_the_command_line_sets_a_password_and_refuses_bad_ones(engine: Engine) -> None:
    add_people(engine)
    url = url_of(engine)
    base = ["--database", url, "users", "reset-password"]
    short = runner.invoke(cli_for(), [*base, "viewer@example.org"], input="short\n")
    assert short.exit_code == 1 and "at least 12" in short.stderr
    nobody = runner.invoke(cli_for(), [*base, "nobody@example.org"], input=NEW_PASSWORD + "\n")
    assert nobody.exit_code == 1 and "no account for nobody@example.org" in nobody.stderr
    with LiveServer(_app(engine)) as server, httpx.Client(base_url=server.url) as client:
        session, _ = sign_in(client, "viewer@example.org")
        done = runner.invoke(cli_for(), [*base, "viewer@example.org"], input=NEW_PASSWORD + "\n")
        assert done.exit_code == 0 and "its sessions have ended" in done.stdout
        assert (
            client.get("/workspace", headers={"Cookie": f"hc_session={session}"}).status_code == 303
        )
        sign_in(client, "viewer@example.org", NEW_PASSWORD)


def test_a_signed_in_person_changes_their_own_password(engine: Engine) -> None:
    add_people(engine)
    app = _app(engine, sign_in_account_limit=3)
    with LiveServer(app) as server, httpx.Client(base_url=server.url) as client:
        other_session, _ = sign_in(client, "programme_lead@example.org")
        session, _ = sign_in(client, "programme_lead@example.org")
        cookie = {"Cookie": f"hc_session={session}"}
        home = client.get("/workspace", headers=cookie)
        assert "/workspace/account/password" in home.text
        csrf = _csrf(client, "/workspace/account/password", session)

        def change(current: str, password: str, token: str = csrf) -> httpx.Response:
            return client.post(
                "/workspace/account/password",
                data={
                    "current": current,
                    "password": password,
                    "confirm": password,
                    "csrf_token": token,
                },
                headers=cookie,
            )

        assert change(PASSWORD, NEW_PASSWORD, token="forged").status_code == 403
        assert "at least 12" in change(PASSWORD, "short").text
        wrong = change("not my password", NEW_PASSWORD)
        assert wrong.status_code == 200 and "Your current password is not right" in wrong.text
        done = change(PASSWORD, NEW_PASSWORD)
        assert done.status_code == 303
        assert done.headers["location"] == "/workspace/account/password?changed=1"
        fresh = re.search(r"hc_session=([^;]+)", done.headers["set-cookie"]).group(1)  # type: ignore[union-attr]
        # Both earlier sessions have ended; this browser has a new one.
        for old in (session, other_session):
            assert (
                client.get("/workspace", headers={"Cookie": f"hc_session={old}"}).status_code == 303
            )
        page = client.get(
            "/workspace/account/password?changed=1", headers={"Cookie": f"hc_session={fresh}"}
        )
        assert "Your password has been changed" in page.text
        sign_in(client, "programme_lead@example.org", NEW_PASSWORD)

        # Guessing the current password with a borrowed session locks the account.
        csrf = _csrf(client, "/workspace/account/password", fresh)
        answers = [
            client.post(
                "/workspace/account/password",
                data={
                    "current": "guess",
                    "password": PASSWORD,
                    "confirm": PASSWORD,
                    "csrf_token": csrf,
                },
                headers={"Cookie": f"hc_session={fresh}"},
            ).status_code
            for _ in range(4)
        ]
        assert answers == [200, 200, 429, 429]
        assert _attempt(client, "programme_lead@example.org", NEW_PASSWORD).status_code == 429


def test_an_administrator_setting_a_password_ends_the_accounts_sessions(engine: Engine) -> None:
    tokens = add_people(engine)
    with LiveServer(_app(engine)) as server, httpx.Client(base_url=server.url) as client:
        session, _ = sign_in(client, "viewer@example.org")
        admin = {"Authorization": f"Bearer {tokens['admin']}"}
        accounts = {a["email"]: a for a in client.get("/api/v1/accounts", headers=admin).json()}
        viewer_id = accounts["viewer@example.org"]["id"]
        short = client.patch(
            f"/api/v1/accounts/{viewer_id}", json={"password": "short"}, headers=admin
        )
        assert short.status_code == 422 and "at least 12" in short.text
        assert (
            client.get("/workspace", headers={"Cookie": f"hc_session={session}"}).status_code == 200
        )
        done = client.patch(
            f"/api/v1/accounts/{viewer_id}", json={"password": NEW_PASSWORD}, headers=admin
        )
        assert done.status_code == 200, done.text
        assert (
            client.get("/workspace", headers={"Cookie": f"hc_session={session}"}).status_code == 303
        )
        history = client.get(f"/api/v1/accounts/{viewer_id}/history", headers=admin).json()
        assert "password reset" in str(history) and NEW_PASSWORD not in str(history)
        sign_in(client, "viewer@example.org", NEW_PASSWORD)
