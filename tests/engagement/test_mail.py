"""Email as a hook the settings choose (none, a log file, SMTP), tested against a local
SMTP sink the test starts (`smtp_sink`), never the internet: the confirmation link, and
"you said, we did" sent once to those who opted in, each address encrypted at rest and
deleted once sent, with its answer, or on erasure."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from healthycity.core.db import transaction
from healthycity.engagement import mail
from healthycity.engagement.models import Subscriber
from tests.conftest import TEST_SECRET
from tests.engagement.helpers import (
    Respondent,
    bearer,
    create_and_publish,
    hidden_fields,
    receipt_of,
    served,
)
from tests.engagement.smtp_sink import SmtpSink, body_of
from tests.workspace.helpers import cli_for, url_of

SLUG = "engaging-londoners"
WE_DID = "You asked for evening clinics; three boroughs now run them."


def _smtp(port: int) -> mail.MailSettings:
    return mail.MailSettings(
        backend="smtp", smtp_host="127.0.0.1", smtp_port=port, sender="hc <hc@localhost>"
    )


def _subscribers(engine: Engine) -> list[Subscriber]:
    with transaction(engine) as session:
        rows = list(session.scalars(select(Subscriber)))
        session.expunge_all()
        return rows


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_settings_choose_the_backend(tmp_path: Path) -> None:
    assert mail.make_mailer(mail.MailSettings(backend="none")) is None
    log = tmp_path / "mail" / "outbox.jsonl"
    logged = mail.make_mailer(mail.MailSettings(backend="log", log_path=str(log)))
    assert logged is not None
    logged("a@example.org", "Subject", "Body")
    assert json.loads(log.read_text())["to"] == "a@example.org"
    with SmtpSink() as sink:
        smtp = mail.make_mailer(_smtp(sink.port))
        assert smtp is not None
        smtp("b@example.org", "Hello", "Line one")
        assert len(sink.messages) == 1
        assert sink.messages[0]["To"] == "b@example.org"
        assert sink.messages[0]["Subject"] == "Hello"
        assert body_of(sink.messages[0]).strip() == "Line one"
    with pytest.raises(OSError):
        mail.smtp_mailer(_smtp(_closed_port()))("c@example.org", "x", "y")
    assert (
        mail.try_send(mail.smtp_mailer(_smtp(_closed_port())), "c@example.org", "x", "y") is False
    )


def test_confirmation_and_you_said_we_did_reach_only_those_who_asked(engine: Engine) -> None:
    with SmtpSink() as sink:
        mailer = mail.make_mailer(_smtp(sink.port))
        with (
            served(engine, mailer=mailer) as (server, tokens, _),
            httpx.Client(base_url=server.url, timeout=30) as staff,
        ):
            key = create_and_publish(staff, tokens)
            create_and_publish(staff, tokens, slug="confirmed", confirm_email="yes")
            people = [Respondent(server.url) for _ in range(4)]
            wants = {"q-heard": "Online", "notify": "yes"}
            asked = people[0].answer(SLUG, wants | {"email": "Asker@Example.org"})
            assert asked.status_code == 200 and 'id="subscribed"' in asked.text
            no_email = people[1].answer(SLUG, wants | {"email": "not an email"})
            assert "Enter your email address" in no_email.text
            quiet = people[1].answer(SLUG, {"q-heard": "Leaflet", "email": "q@example.org"})
            assert 'id="subscribed"' not in quiet.text
            withdrawn = people[2].answer(SLUG, wants | {"email": "gone@example.org"})
            assert len(_subscribers(engine)) == 2
            stored = _subscribers(engine)[0].email_encrypted
            assert "asker" not in stored.lower() and "example" not in stored

            # A withdrawn answer takes its address with it.
            page = people[2].client.get(
                "/consultations/receipt", params={"code": receipt_of(withdrawn)}
            )
            people[2].keep_cookie(page)
            gone = people[2].client.post(
                "/consultations/receipt/withdraw", data=hidden_fields(page.text)
            )
            assert gone.status_code == 200 and len(_subscribers(engine)) == 1

            # The confirmation link goes through SMTP too, and counts once followed.
            confirm = people[3].answer("confirmed", wants | {"email": "confirm@example.org"})
            assert "We have sent you a link" in confirm.text
            sent = [m for m in sink.messages if m["To"] == "confirm@example.org"]
            assert len(sent) == 1 and sent[0]["Subject"].startswith("Confirm your answer")
            link = re.search(r"https?://\S+/confirm\?token=\S+", body_of(sent[0]))
            assert link is not None
            followed = people[3].client.get(link.group(0).replace(server.url, ""))
            assert followed.status_code == 200
            assert len(sink.messages) == 1

            # "You said, we did": published, sent once, then the address is deleted.
            staff.post(f"/api/v1/consultations/{key}/close", headers=bearer(tokens))
            said = staff.post(
                f"/api/v1/consultations/{key}/respond",
                json={"we_did": WE_DID},
                headers=bearer(tokens),
            )
            assert said.status_code == 200, said.text
            assert said.json()["notified"] == 1 and said.json()["notify_failed"] == 0
            told = [m for m in sink.messages if m["Subject"].startswith("You said, we did")]
            assert [m["To"] for m in told] == ["asker@example.org"]
            assert WE_DID in body_of(told[0]) and f"/consultations/{SLUG}/results" in body_of(
                told[0]
            )
            left = _subscribers(engine)
            assert [s.consultation_id for s in left] != [key] and len(left) == 1
            again = staff.post(
                f"/api/v1/consultations/{key}/respond",
                json={"we_did": WE_DID + " And a fourth."},
                headers=bearer(tokens),
            )
            assert again.json()["notified"] == 0
            for person in people:
                person.close()


def test_a_failed_send_keeps_the_address_for_the_notify_command(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    down = mail.make_mailer(_smtp(_closed_port()))
    with (
        served(engine, mailer=down) as (server, tokens, _),
        httpx.Client(base_url=server.url, timeout=30) as staff,
    ):
        key = create_and_publish(staff, tokens)
        person = Respondent(server.url)
        saved = person.answer(SLUG, {"q-heard": "Online", "notify": "yes", "email": "w@e.org"})
        assert saved.status_code == 200
        staff.post(f"/api/v1/consultations/{key}/close", headers=bearer(tokens))
        said = staff.post(
            f"/api/v1/consultations/{key}/respond", json={"we_did": WE_DID}, headers=bearer(tokens)
        )
        assert said.json()["notify_failed"] == 1 and len(_subscribers(engine)) == 1
        person.close()
    with SmtpSink() as sink:
        for name, value in (("BACKEND", "smtp"), ("SMTP_HOST", "127.0.0.1")):
            monkeypatch.setenv(f"HEALTHYCITY_MAIL_{name}", value)
        monkeypatch.setenv("HEALTHYCITY_MAIL_SMTP_PORT", str(sink.port))
        monkeypatch.setenv("HEALTHYCITY_SECRET_KEY", TEST_SECRET)  # the server's key
        result = CliRunner().invoke(
            cli_for(),
            [
                "--database",
                url_of(engine),
                "engagement",
                "notify",
                "--base-url",
                "https://example.org",
            ],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        assert "1 emails sent, 0 failed" in result.output
        assert [m["To"] for m in sink.messages] == ["w@e.org"]
        assert "https://example.org/consultations/" in body_of(sink.messages[0])
    assert _subscribers(engine) == []


def test_erasure_on_request_takes_the_address_waiting_to_be_told(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        served(engine) as (server, tokens, _),
        httpx.Client(base_url=server.url, timeout=30) as staff,
    ):
        create_and_publish(staff, tokens)
        person = Respondent(server.url)
        wants = {"q-heard": "Online", "notify": "yes"}
        person.answer(SLUG, wants | {"email": "Erase.Me@example.org"})
        person.answer(SLUG, wants | {"email": "keep@example.org"})
        person.close()
    assert len(_subscribers(engine)) == 2
    monkeypatch.setenv("HEALTHYCITY_SECRET_KEY", TEST_SECRET)
    result = CliRunner().invoke(
        cli_for(),
        ["--database", url_of(engine), "engagement", "erase", "--email", "erase.me@example.org"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0 and "0 answers erased, 1 addresses erased" in result.output
    left = _subscribers(engine)
    assert len(left) == 1
    from healthycity.engagement.notify import unseal

    assert unseal(TEST_SECRET, left[0].email_encrypted) == "keep@example.org"
