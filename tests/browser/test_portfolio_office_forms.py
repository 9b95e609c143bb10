"""The portfolio office in Chromium: records a forum meeting and a published decision,
and a grant from the transformation fund (refused first for going over the category),
through the workspace's forms; each page passes axe and the public pages then show
them. Every step waits with ``expect``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from healthycity.core.db import make_engine
from healthycity.core.migrate import upgrade
from healthycity.core.pack_loading import load_pack
from healthycity.portfolio import schemas, service
from healthycity.portfolio.models import TransformationFund
from tests.browser.conftest import assert_accessible
from tests.browser.test_workspace import sign_in
from tests.conftest import LiveServer
from tests.workspace.helpers import add_people, app_for, london_pack, unit

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path_factory.mktemp('office') / 'site.db'}"
    engine = make_engine(url)
    upgrade(engine)
    load_pack(engine, london_pack())
    add_people(engine)
    with unit(engine) as session:
        fund = session.get(TransformationFund, "2018/19")
        assert fund is not None
        split = {
            "contracts-issued": "50000000",
            "purpose-defined": "40000000",
            "unallocated": "24000000",
        }
        service.update_fund(
            session, fund, schemas.FundIn(period="2018/19", total="114000000", allocations=split)
        )
    engine.dispose()
    with LiveServer(app_for(url)) as server:
        yield server


def test_the_office_records_a_meeting_and_a_published_decision(site: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    sign_in(page, site, "portfolio_office")
    page.goto(f"{site.url}/workspace/governance")
    expect(page.locator("h1")).to_have_text("Forum meetings and decisions")
    assert_accessible(page)
    page.get_by_role("link", name="Add a meeting").click()
    page.wait_for_url(re.compile(r"/workspace/forum-meetings/new"))
    assert_accessible(page)
    page.get_by_label("Forum").select_option("london-estates-board")
    page.get_by_label("Date of the meeting").fill("2018-09-12")
    page.get_by_label("Status").select_option("held")
    page.get_by_label("Papers").fill("https://example.org/leb/2018-09/papers.pdf")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{site.url}/workspace/governance")
    expect(page.locator("#meetings + p + ul")).to_contain_text("London Estates Board")
    page.get_by_role("link", name="Record a decision").click()
    page.wait_for_url(re.compile(r"/workspace/forum-decisions/new"))
    page.get_by_label("Forum").select_option("london-estates-board")
    page.get_by_label("Date of the decision").fill("2018-09-12")
    page.get_by_label("Title").fill("Surplus sites released for housing")
    page.get_by_label("What was decided").fill("Three surplus sites are released for homes.")
    page.get_by_label("Decided by").fill("London Estates Board")
    page.get_by_label("Programmes").fill("estates")
    page.get_by_label("Published").select_option("yes")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{site.url}/workspace/governance")
    expect(page.locator("#decisions + p + ul")).to_contain_text(
        "Surplus sites released for housing"
    )
    expect(page.locator("#decisions + p + ul")).to_contain_text("Published")
    page.goto(f"{site.url}/governance/decisions")
    expect(page.locator("main")).to_contain_text("Surplus sites released for housing")
    assert_accessible(page)


def test_the_office_adds_a_grant_and_is_refused_over_the_category(
    site: LiveServer, page: Any
) -> None:
    from playwright.sync_api import expect

    sign_in(page, site, "portfolio_office")
    page.goto(f"{site.url}/workspace/devolution")
    page.get_by_role("link", name="Add a grant from the 2018/19 fund").click()
    page.wait_for_url(re.compile(r"/workspace/fund-grants/new"))
    page.get_by_label("Category").select_option("purpose-defined")
    page.get_by_label("For a pilot or a programme").select_option("pilot")
    page.get_by_label("Pilot or programme").fill("ncl-estates")
    page.get_by_label("Recipient", exact=True).fill("North Central London STP")
    page.get_by_label("Amount").fill("45000000")
    page.get_by_label("Date awarded").fill("2018-10-01")
    page.get_by_label("Purpose").fill("The estates pilot's first year")
    page.get_by_role("button", name="Save").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_contain_text("Purpose already defined")
    expect(summary).to_contain_text("£5,000,000")
    assert_accessible(page)
    page.get_by_label("Amount").fill("25000000")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{site.url}/workspace/devolution")
    expect(page.locator("main")).to_contain_text("North Central London STP: £25,000,000")
    assert_accessible(page)
    page.goto(f"{site.url}/devolution")
    expect(page.locator("#fund-total-1")).to_contain_text("£25,000,000 of £114,000,000 granted")
    assert_accessible(page)
