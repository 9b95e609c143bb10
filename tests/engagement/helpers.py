"""Set-up shared by the engagement tests: a served app with its thresholds, a
consultation with every kind of question, and a respondent who fills in the form."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from healthycity.engagement.guard import Policy
from tests.conftest import LiveServer
from tests.workspace.helpers import add_people, app_for, url_of

QUESTIONS = "\n".join(
    [
        "heard | single* | How did you hear about this? | Leaflet; GP surgery; Online",
        "services | multiple | Which services have you used? | GP; Pharmacy; A&E; None",
        "trust | rating | How much do you trust local services? | 1; 2; 3; 4; 5",
        "views | likert | How far do you agree? | Disagree; Neither; Agree"
        " | I am listened to; I know how to take part",
        "priorities | ranking | Rank these priorities | Waiting times; Access; Prevention",
        "online | text | What did you think of the website? | 300 | if heard = Online",
        "comments | text | Anything else? | 200",
    ]
)
FAST = Policy(min_seconds=0.3, per_address=100000, per_consultation=100000)


def consultation_body(slug: str = "engaging-londoners", **extra: Any) -> dict[str, Any]:
    today = datetime.now(UTC).date()
    return {
        "slug": slug,
        "title": "How should we engage Londoners?",
        "purpose": "To hear how Londoners want to be involved in designing services.",
        "audience": "Everyone who lives or works in London.",
        "opens_on": (today - timedelta(days=1)).isoformat(),
        "closes_on": (today + timedelta(days=30)).isoformat(),
        "links": ["indicator:hc-engagement-polling", "programme:prevention"],
        "privacy_notice": "We keep your answers to report the results; no names are asked.",
        "retention_days": 365,
        "questions": QUESTIONS,
    } | extra


@contextmanager
def served(
    engine: Engine, policy: Policy = FAST, mailer: Any = None
) -> Iterator[tuple[LiveServer, dict[str, str], list[tuple[str, str, str]]]]:
    """A live server with one account per role; yields it, the tokens and the outbox
    (what was sent, unless ``mailer`` replaces the recording one)."""
    tokens = add_people(engine)
    app = app_for(url_of(engine))
    app.state.engagement_policy = policy
    outbox: list[tuple[str, str, str]] = []
    app.state.engagement_mailer = mailer or (
        lambda to, subject, body: outbox.append((to, subject, body))
    )
    with LiveServer(app) as server:
        yield server, tokens, outbox


def bearer(tokens: dict[str, str], role: str = "portfolio_office") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[role]}"}


def create_and_publish(client: httpx.Client, tokens: dict[str, str], **extra: Any) -> int:
    made = client.post(
        "/api/v1/consultations", json=consultation_body(**extra), headers=bearer(tokens)
    )
    assert made.status_code == 201, made.text
    key = made.json()["id"]
    published = client.post(f"/api/v1/consultations/{key}/publish", headers=bearer(tokens))
    assert published.status_code == 200, published.text
    return int(key)


def hidden_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


class Respondent:
    """One person with their own browser session (cookie jar) answering over HTTP."""

    def __init__(self, base_url: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=30)

    def open(self, slug: str) -> dict[str, str]:
        page = self.client.get(f"/consultations/{slug}")
        assert page.status_code == 200, page.text
        self.keep_cookie(page)
        return hidden_fields(page.text)

    def keep_cookie(self, response: httpx.Response) -> None:
        """Outside development the CSRF cookie is Secure; a browser sends it to a
        loopback address, httpx does not, so the test keeps it as a browser would."""
        for name, value in response.cookies.items():
            self.client.cookies.set(name, value)

    def send(self, slug: str, form: dict[str, str], answers: dict[str, Any]) -> httpx.Response:
        return self.client.post(f"/consultations/{slug}", data=form | answers)

    def answer(self, slug: str, answers: dict[str, Any], wait: float = 0.35) -> httpx.Response:
        form = self.open(slug)
        time.sleep(wait)
        return self.send(slug, form, answers)

    def close(self) -> None:
        self.client.close()


def receipt_of(response: httpx.Response) -> str:
    found = re.search(r'id="receipt-code">([^<]+)<', response.text)
    assert found, response.text[:2000]
    return found.group(1)
