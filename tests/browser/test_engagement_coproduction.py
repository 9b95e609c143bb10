"""The engagement module's newer pages in Chromium, with axe (WCAG 2.2 AA) on each:
conditional questions revealed by the design system's script (and shown without it),
the opt-in for "you said, we did", proposals and votes on indicators, the office's
proposal and poll forms, and the consultations listed on an indicator's page. Waits use
Playwright's `expect`, never a bare read after a click."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from healthycity.core.db import make_engine
from healthycity.core.migrate import upgrade
from healthycity.core.pack_loading import load_pack
from tests.browser.conftest import assert_accessible
from tests.conftest import LiveServer
from tests.engagement.helpers import FAST, bearer, create_and_publish
from tests.workspace.helpers import PASSWORD, add_people, app_for, london_pack

pytestmark = pytest.mark.browser
SLUG = "engaging-londoners"
LINKS = ["indicator:90631", "programme:prevention"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, int]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('engagement-more') / 'site.db'}"
    engine = make_engine(url)
    upgrade(engine)
    load_pack(engine, london_pack())
    tokens = add_people(engine)
    engine.dispose()
    app = app_for(url)
    app.state.engagement_policy = FAST
    app.state.engagement_mailer = lambda to, subject, body: None
    with LiveServer(app) as server:
        with httpx.Client(base_url=server.url) as client:
            key = create_and_publish(client, tokens, co_production="yes", links=LINKS)
            put = client.post(
                f"/workspace/consultations/{key}/proposals",
                data={
                    "kind": "comment",
                    "about": "indicator:90631",
                    "title": "Report school readiness by ward",
                    "description": "Borough figures hide large differences between wards.",
                },
                headers=bearer(tokens),
                follow_redirects=False,
            )
            assert put.status_code == 303, put.text[:500]
        yield server, key


def _sign_in(page: Any, server: LiveServer) -> None:
    from playwright.sync_api import expect

    page.goto(f"{server.url}/workspace/sign-in")
    page.get_by_label("Email address").fill("portfolio_office@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Workspace")


def test_conditional_questions_and_the_opt_in_are_revealed_when_chosen(
    site: tuple[LiveServer, int], page: Any, browser: Any
) -> None:
    from playwright.sync_api import expect

    server, _key = site
    page.goto(f"{server.url}/consultations/{SLUG}")
    online = page.get_by_role("textbox", name="What did you think of the website?")
    email = page.get_by_role("textbox", name="Email address")
    expect(online).to_be_hidden()
    expect(email).to_be_hidden()
    assert_accessible(page)
    page.get_by_label("Online", exact=True).check()
    expect(online).to_be_visible()
    page.get_by_label('Email me "you said, we did" when it is published').check()
    expect(email).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Leaflet").check()
    expect(online).to_be_hidden()

    # Without JavaScript both are shown where they belong, and the page still passes.
    plain = browser.new_context(java_script_enabled=False)
    plain.route("https://assets.nhs.uk/**", lambda route: route.fulfill(status=204, body=""))
    tab = plain.new_page()
    try:
        tab.goto(f"{server.url}/consultations/{SLUG}")
        expect(
            tab.get_by_role("textbox", name="What did you think of the website?")
        ).to_be_visible()
        expect(tab.get_by_role("textbox", name="Email address")).to_be_visible()
        expect(tab.locator("#conditional-q-heard-3")).to_contain_text("Answer only if")
    finally:
        plain.close()


def test_the_public_votes_and_proposes_on_indicators(
    site: tuple[LiveServer, int], page: Any
) -> None:
    from playwright.sync_api import expect

    server, _key = site
    page.goto(f"{server.url}/consultations/{SLUG}")
    page.get_by_role("link", name="Indicators: propose, comment and vote").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("indicators")
    card = page.locator(".nhsuk-card", has_text="Report school readiness by ward")
    expect(card.locator(".hc-votes")).to_contain_text("0 agree")
    assert_accessible(page)
    card.get_by_role("button", name=re.compile(r"^Agree\s+with Report school")).click()
    expect(card.locator(".hc-votes")).to_contain_text("1 agree, 0 disagree")

    page.wait_for_timeout(400)  # a person takes longer than the minimum fill time
    page.get_by_role("button", name="Send your proposal").click()
    expect(page.locator(".nhsuk-error-summary")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("A new indicator").check()
    page.get_by_label("A short title").fill("Share of GP practices with patient groups")
    page.get_by_label("What should be measured, and why").fill(
        "Whether every practice has an active patient participation group."
    )
    page.wait_for_timeout(400)  # a person takes longer than the minimum fill time
    page.get_by_role("button", name="Send your proposal").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("proposal has been received")
    assert_accessible(page)


def test_the_office_moderates_decides_and_keeps_polls(
    site: tuple[LiveServer, int], page: Any
) -> None:
    from playwright.sync_api import expect

    server, key = site
    _sign_in(page, server)
    page.goto(f"{server.url}/workspace/consultations/{key}/proposals")
    expect(page.get_by_role("heading", level=1)).to_have_text("How should we engage Londoners?")
    assert_accessible(page)
    card = page.locator(".nhsuk-card", has_text="Report school readiness by ward")
    card.get_by_label("Decision").select_option("adopted")
    card.get_by_label("Reason (published)").fill("We will publish ward figures from 2027.")
    card.get_by_role("button", name="Record the decision").click()
    expect(page.locator(".nhsuk-card", has_text="Report school readiness by ward")).to_contain_text(
        "Decision: Adopted"
    )

    page.goto(f"{server.url}/workspace/polls")
    expect(page.get_by_role("heading", level=1)).to_have_text("Polls")
    assert_accessible(page)
    page.get_by_role("link", name="Add a poll series").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add poll series")
    assert_accessible(page)
    page.get_by_label("Web address").fill("involved-in-design")
    page.get_by_label("Title").fill("Londoners who feel involved in designing services")
    page.get_by_label("Exact question wording").fill("Do services involve people like you?")
    page.get_by_label("Sponsor").fill("Healthy London Partnership")
    page.get_by_label("Fieldwork agency").fill("An example agency")
    page.get_by_label("Population").fill("Adults in London")
    page.get_by_label("Sampling frame").fill("Online panel with quotas")
    page.get_by_label("Mode", exact=True).fill("Online")
    page.get_by_label("Waves of fieldwork").fill("2018-03-01 | 2018-03-10 | 1000 | 30")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Wave line 1")
    assert_accessible(page)
    page.get_by_label("Waves of fieldwork").fill(
        "2018-03-01 | 2018-03-10 | 1000 | 30 | Weighted to ONS estimates | 1.4\n"
        "2019-03-01 | 2019-03-10 | 1000 | 34 | Weighted to ONS estimates | 1.4"
    )
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#waves")).to_contain_text("2019-03-01")
    assert_accessible(page)


def test_an_indicator_page_lists_what_shaped_it(site: tuple[LiveServer, int], page: Any) -> None:
    from playwright.sync_api import expect

    server, _key = site
    page.goto(f"{server.url}/indicators/90631")
    related = page.locator("section.hc-related")
    expect(related.first).to_contain_text("Consultations: you said, we did")
    expect(related.get_by_role("link", name="How should we engage Londoners?")).to_be_visible()
    expect(related.nth(1)).to_contain_text("Report school readiness by ward")
    assert_accessible(page)
