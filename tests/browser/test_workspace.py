"""The workspace in Chromium: sign in, record spend and see its variance flagged, take a
proposal from draft to published, and axe on every kind of workspace page.

One server (SQLite, London pack, one account per role) is shared by the module.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from healthycity.core.db import make_engine
from healthycity.core.migrate import upgrade
from tests.browser.conftest import assert_accessible
from tests.conftest import LiveServer
from tests.workspace.helpers import PASSWORD, add_people, app_for, load_london

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path_factory.mktemp('workspace') / 'site.db'}"
    engine = make_engine(url)
    upgrade(engine)
    load_london(engine)
    add_people(engine)
    engine.dispose()
    with LiveServer(app_for(url)) as server:
        yield server


def sign_in(page: Any, site: LiveServer, role: str) -> None:
    page.goto(f"{site.url}/workspace/sign-in")
    assert_accessible(page)
    page.get_by_label("Email address").fill(f"{role}@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/workspace")
    expect(page.locator("h1")).to_have_text("Workspace")


def test_a_lead_records_spend_and_sees_the_variance_flag(site: LiveServer, page: Any) -> None:
    sign_in(page, site, "programme_lead")
    page.goto(f"{site.url}/workspace/programmes/cancer")
    expect(page.locator("#variance-2015-16")).to_have_text(re.compile(r"Within 5%\s*$"))
    page.get_by_role("link", name="Record a month's spend").click()
    page.wait_for_url(re.compile(r"/workspace/spend/new"))
    page.get_by_label("Month").fill("2015-07")
    page.get_by_label("Actual spend").fill("600000")
    with page.expect_navigation():
        page.get_by_role("button", name="Save").click()
    # Over 5%: refused until the variance is explained, with an error summary.
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_contain_text("explain the variance")
    expect(page).to_have_title(re.compile(r"^Error: "))
    assert_accessible(page)
    page.get_by_label("Explanation of the year's variance").fill(
        "Diagnostic capacity bought early to meet the two-week wait."
    )
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{site.url}/workspace/programmes/cancer")
    variance = page.locator("#variance-2015-16")
    expect(variance).to_contain_text("Over 5%")
    expect(variance).to_contain_text("20.6%")
    callout = page.locator(".nhsuk-card--warning")
    expect(callout).to_contain_text("Variance over 5%")
    expect(callout).to_contain_text("Diagnostic capacity bought early")
    assert_accessible(page)
    # The programme lead cannot record spend for a programme they do not lead.
    page.goto(f"{site.url}/workspace/programmes/mental-health")
    expect(page.locator("h1")).to_be_visible()
    expect(page.get_by_role("link", name="Record a month's spend")).to_have_count(0)
    refused = page.request.get(f"{site.url}/workspace/spend/new?programme=mental-health")
    assert refused.status == 403 and "You do not have permission" in refused.text()


def test_a_proposal_goes_from_draft_to_published(site: LiveServer, page: Any, browser: Any) -> None:
    sign_in(page, site, "portfolio_office")
    page.goto(f"{site.url}/workspace/proposals")
    page.get_by_role("link", name="Add a proposal").click()
    page.wait_for_url(re.compile(r"/workspace/proposals/new"))
    page.get_by_label("Title").fill("Merge two urgent treatment centres")
    page.get_by_label("Sponsor").fill("South West London STP")
    page.get_by_label("Services affected").fill("Urgent treatment")
    page.get_by_label("Boroughs affected").fill("E09000029\nE09000021")
    page.get_by_label("Beds now").fill("40")
    page.get_by_label("Beds proposed").fill("32")
    page.get_by_label("Investment required").fill("1200000")
    page.get_by_label("Investment identified").fill("1200000")
    page.get_by_label("Patient and public engagement").fill("Six listening events.")
    page.get_by_label("Clinical evidence and support").fill("Clinical senate review.")
    page.get_by_label("Bed test evidence: Alternative provision in place").fill(
        "Community beds and staff in place in both boroughs."
    )
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/workspace/proposals/\d+$"))
    expect(page.locator("main")).to_contain_text("Draft")
    proposal_url = page.url
    with page.expect_navigation():
        page.get_by_role("button", name="Submit for assessment").click()
    expect(page.locator("main")).to_contain_text("Submitted")
    assert_accessible(page)

    assessor = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    assessor.route("https://assets.nhs.uk/**", lambda route: route.fulfill(status=204, body=""))
    tab = assessor.new_page()
    try:
        sign_in(tab, site, "assessor")
        tab.goto(proposal_url)
        tab.get_by_role("link", name="Start the assessment").click()
        expect(tab.get_by_role("button", name="Save the assessment")).to_be_visible()
        assert_accessible(tab)
        for legend in tab.locator("fieldset legend").all():
            name = legend.inner_text().strip()
            if name == "Finish":
                continue
            fieldset = tab.locator("fieldset", has=tab.locator("legend", has_text=name)).first
            fieldset.get_by_label("Met", exact=True).check()
            tab.get_by_label(f"Rationale for {name}").fill(f"{name}: the evidence supports it.")
        tab.get_by_label("The assessment is complete").check()
        tab.get_by_role("button", name="Save the assessment").click()
        tab.wait_for_url(proposal_url)
        expect(tab.locator("main")).to_contain_text("Assessed")
        with tab.expect_navigation():
            tab.get_by_role("button", name="Publish the assessment").click()
        expect(tab.locator("main")).to_contain_text("Published")
    finally:
        assessor.close()

    public = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    public.route("https://assets.nhs.uk/**", lambda route: route.fulfill(status=204, body=""))
    anonymous = public.new_page()
    try:
        anonymous.goto(f"{site.url}/service-changes")
        anonymous.get_by_role("link", name="Merge two urgent treatment centres").click()
        main = anonymous.locator("main")
        expect(main).to_contain_text("Hospital capacity")
        expect(main).to_contain_text("Met")
        assert "assessor@example.org" not in anonymous.content()
        assert_accessible(anonymous)
    finally:
        public.close()


WORKSPACE_PAGES = [
    "/workspace",
    "/workspace/programmes",
    "/workspace/programmes/cancer",
    "/workspace/programmes/portfolio-support-costs",
    "/workspace/devolution",
    "/workspace/proposals",
    "/workspace/proposals/new",
    "/workspace/spend/new?programme=cancer",
    "/workspace/confidence/new?programme=cancer",
    "/workspace/funds/2018-19/edit",
    "/workspace/pledges/new?area=public-health",
    "/workspace/history/programme/cancer",
    "/workspace/reports",
]


def test_workspace_pages_pass_axe(site: LiveServer, page: Any) -> None:
    sign_in(page, site, "portfolio_office")
    failures = []
    for path in WORKSPACE_PAGES:
        page.goto(site.url + path)
        expect(page.locator("h1"), path).to_have_count(1)
        try:
            assert_accessible(page)
        except AssertionError as exc:
            failures.append(str(exc))
    # A form with errors, and the administrator's account page.
    page.goto(f"{site.url}/workspace/funds/2018-19/edit")
    page.get_by_label("Contracts already issued").fill("1000")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("every category")
    try:
        assert_accessible(page)
    except AssertionError as exc:
        failures.append(str(exc))
    assert not failures, "\n".join(failures)


def test_the_accounts_page_passes_axe(site: LiveServer, page: Any) -> None:
    sign_in(page, site, "admin")
    page.goto(f"{site.url}/workspace/accounts")
    expect(page.locator("h1")).to_have_text("Accounts")
    assert_accessible(page)


def test_unpublished_assessments_are_not_public(site: LiveServer, page: Any) -> None:
    page.goto(f"{site.url}/service-changes/999")
    expect(page.locator("h1")).to_have_text("Page not found")


def test_a_programme_page_offers_its_downloads(site: LiveServer, page: Any) -> None:
    """The download links are on the page, accessible, and give the page's figures to
    the signed-in browser (the same session, no token)."""
    sign_in(page, site, "viewer")
    page.goto(f"{site.url}/workspace/programmes/cancer")
    downloads = page.locator(".hc-downloads")
    expect(downloads.get_by_role("link", name="Download as CSV")).to_have_count(1)
    expect(downloads.get_by_role("link", name="Download as JSON")).to_have_count(1)
    expect(downloads.get_by_role("link", name="Download the monthly spend as CSV")).to_have_count(1)
    assert_accessible(page)
    href = downloads.get_by_role("link", name="Download as JSON").get_attribute("href")
    answer = page.request.get(site.url + href if href.startswith("/") else href)
    assert answer.status == 200 and answer.headers["cache-control"] == "private, no-store"
    whole_life = answer.json()["whole_life_budget"]
    budget = page.locator("dt", has_text="Whole-life budget").locator("xpath=..").inner_text()
    from decimal import Decimal

    from healthycity.portfolio.service import pounds

    assert pounds(Decimal(whole_life)) in budget
