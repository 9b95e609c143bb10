"""The public consultation form and results in Chromium, with axe (WCAG 2.2 AA) on the
hub, the form, its error summary, the thank-you page, the results with their charts,
the receipt page and a poll page. Waits use Playwright's `expect`, never a bare read
after a click."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from healthycity.core.db import make_engine
from healthycity.core.migrate import upgrade
from tests.browser.conftest import assert_accessible
from tests.conftest import LiveServer
from tests.engagement.helpers import FAST, bearer, create_and_publish
from tests.engagement.test_polls import SERIES
from tests.workspace.helpers import add_people, app_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path_factory.mktemp('engagement') / 'site.db'}"
    engine = make_engine(url)
    upgrade(engine)
    tokens = add_people(engine)
    engine.dispose()
    app = app_for(url)
    app.state.engagement_policy = FAST
    with LiveServer(app) as server:
        with httpx.Client(base_url=server.url) as client:
            create_and_publish(client, tokens)
            client.post("/api/v1/poll-series", json=SERIES, headers=bearer(tokens))
        yield server


def test_answer_the_form_and_see_the_results(site: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site.url}/consultations")
    expect(page.get_by_role("heading", level=1)).to_have_text("Have your say")
    assert_accessible(page)
    page.get_by_role("link", name="How should we engage Londoners?").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("How should we engage Londoners?")
    assert_accessible(page)
    # Sent without the required answer: the error summary links to the question.
    page.get_by_role("button", name="Send your answers").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("answer this question")
    expect(page).to_have_title("Error: How should we engage Londoners? – healthycity")
    assert_accessible(page)
    page.get_by_label("GP surgery").check()
    page.get_by_label("Pharmacy").check()
    page.get_by_role("group", name="I am listened to").get_by_label("Agree", exact=True).check()
    page.get_by_label("Rank for Prevention").select_option("1")
    page.get_by_label("Rank for Access").select_option("2")
    page.get_by_label("Rank for Waiting times").select_option("3")
    page.get_by_role("textbox", name="Anything else?").fill("More evening appointments, please.")
    page.wait_for_timeout(400)  # a person takes longer than the minimum fill time
    page.get_by_role("button", name="Send your answers").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("your answer has been received")
    receipt = page.locator("#receipt-code").inner_text()
    assert receipt.startswith("HC-")
    assert_accessible(page)
    page.get_by_role("link", name="See the results so far").click()
    expect(page.locator("#response-count")).to_have_text("1 responses so far.")
    expect(page.locator("figure.hc-chart svg").first).to_be_visible()
    assert_accessible(page)
    page.goto(f"{site.url}/consultations/receipt?code={receipt}")
    expect(page.get_by_role("button", name="Withdraw my answer")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Withdraw my answer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your answer has been withdrawn")
    page.goto(f"{site.url}/consultations/engaging-londoners/results")
    expect(page.locator("#response-count")).to_have_text("0 responses so far.")


def test_poll_and_privacy_pages_are_accessible(site: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{site.url}/polls/engagement-in-design")
    expect(page.locator("#disclosure")).to_contain_text("Online panel")
    expect(page.locator("figure.hc-chart svg")).to_be_visible()
    assert_accessible(page)
    page.goto(f"{site.url}/consultations/privacy")
    expect(page.get_by_role("heading", level=1)).to_have_text("How we use your answers")
    assert_accessible(page)
