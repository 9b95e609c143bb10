"""Abuse and bad input over real HTTP: each is refused with a clear message, counted
when it is abuse, and none writes an answer or reaches the results."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.engagement.guard import Policy
from healthycity.engagement.models import Refusal, Response
from tests.engagement.helpers import Respondent, bearer, create_and_publish, served

SLUG = "engaging-londoners"
GOOD = {"q-heard": "Leaflet"}


def _answers(engine: Engine) -> int:
    with transaction(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Response)) or 0)


def _refusals(engine: Engine) -> dict[str, int]:
    with transaction(engine) as session:
        rows = session.execute(select(Refusal.reason, func.count()).group_by(Refusal.reason))
        return {reason: int(n) for reason, n in rows}


def test_abuse_is_refused_counted_and_never_counted_as_an_answer(engine: Engine) -> None:
    policy = Policy(min_seconds=0.3, per_address=3, per_consultation=1000)
    with (
        served(engine, policy) as (server, tokens, outbox),
        httpx.Client(base_url=server.url, timeout=30) as staff,
    ):
        create_and_publish(staff, tokens)
        create_and_publish(staff, tokens, slug="confirmed", confirm_email="yes")
        person = Respondent(server.url)

        form = person.open(SLUG)
        honeypot = person.send(SLUG, form | {"website": "http://spam.example"}, GOOD)
        assert honeypot.status_code == 400 and "should stay empty" in honeypot.text
        too_fast = person.send(SLUG, person.open(SLUG), GOOD)
        assert too_fast.status_code == 400 and "very quickly" in too_fast.text
        forged = person.send(SLUG, form | {"csrf_token": "x.y"}, GOOD)
        assert forged.status_code == 403 and "did not come from this site" in forged.text
        altered = person.send(SLUG, form | {"started": "1.0.abc"}, GOOD)
        assert altered.status_code == 403
        assert _answers(engine) == 0

        for _ in range(3):
            assert person.answer(SLUG, GOOD).status_code == 200
        limited = person.answer(SLUG, GOOD)
        assert limited.status_code == 429 and "Too many answers" in limited.text
        assert _answers(engine) == 3

        # One answer per confirmed email: the second, once the first is confirmed, is refused.
        email = {"q-heard": "Online", "email": "Someone@Example.org"}
        other = Respondent(server.url)
        first = other.answer("confirmed", email)
        assert first.status_code == 200 and "Confirm your email" in first.text
        found = re.search(r"https?://\S+/confirm\?token=\S+", outbox[-1][2])
        assert found, outbox[-1][2]
        link = found.group(0)
        assert other.client.get(link.replace(server.url, "")).status_code == 200
        third = Respondent(server.url)
        repeat = third.answer("confirmed", email | {"email": "someone@example.org"})
        assert repeat.status_code == 409 and "already been confirmed" in repeat.text

        counts = _refusals(engine)
        assert counts == {
            "honeypot": 1,
            "too_fast": 1,
            "forged": 2,
            "rate_limited": 1,
            "duplicate_email": 1,
        }
        results = staff.get(f"/consultations/{SLUG}/results.json").json()
        assert results["responses"] == 3 and results["refused_submissions"]["forged"] == 2
        confirmed = staff.get("/consultations/confirmed/results.json").json()
        assert confirmed["responses"] == 1
        for r in (person, other, third):
            r.close()


def test_bad_input_gets_a_clear_error_and_writes_nothing(engine: Engine) -> None:
    with (
        served(engine) as (server, tokens, _outbox),
        httpx.Client(base_url=server.url, timeout=30) as staff,
    ):
        key = create_and_publish(staff, tokens)
        person = Respondent(server.url)
        long = person.answer(SLUG, GOOD | {"q-comments": "x" * 201})
        assert long.status_code == 200 and "the limit is 200" in long.text
        assert "There is a problem" in long.text
        unknown = person.answer(SLUG, {"q-heard": "Carrier pigeon"})
        assert "choose from the options given" in unknown.text
        missing = person.answer(SLUG, {"q-trust": "3"})
        assert "answer this question" in missing.text
        ranking = person.answer(SLUG, GOOD | {"q-priorities-0": "1", "q-priorities-1": "1"})
        assert "different rank" in ranking.text
        assert _answers(engine) == 0 and _refusals(engine) == {}

        form = person.open(SLUG)  # the form was open in a tab when the consultation closed
        staff.post(f"/api/v1/consultations/{key}/close", headers=bearer(tokens))
        closed = person.send(SLUG, form, GOOD)
        assert closed.status_code == 409 and "not open" in closed.text
        assert _answers(engine) == 0 and _refusals(engine) == {"closed": 1}
        person.close()


def test_drafts_are_not_public_and_only_the_office_creates(engine: Engine) -> None:
    from tests.engagement.helpers import consultation_body

    with (
        served(engine) as (server, tokens, _outbox),
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        viewer = client.post(
            "/api/v1/consultations", json=consultation_body(), headers=bearer(tokens, "viewer")
        )
        assert viewer.status_code == 403
        made = client.post(
            "/api/v1/consultations", json=consultation_body(), headers=bearer(tokens)
        )
        assert client.get(f"/consultations/{SLUG}").status_code == 404
        key = made.json()["id"]
        bad = consultation_body(
            closes_on=(datetime.now(UTC) - timedelta(days=9)).date().isoformat()
        )
        refused = client.patch(f"/api/v1/consultations/{key}", json=bad, headers=bearer(tokens))
        assert refused.status_code == 422 and "closing date" in refused.text
