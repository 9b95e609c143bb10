"""The estates pages in a real browser: axe WCAG 2.2 AA on each page type, and the journey
London → organisation → site with each chart's table opened, waiting with ``expect``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from healthycity.core.db import make_engine
from healthycity.core.migrate import upgrade
from healthycity.web.app import create_app
from tests.browser.conftest import assert_accessible
from tests.conftest import LiveServer, settings_for
from tests.estates.conftest import load_all
from tests.workspace.helpers import PASSWORD, add_people, unit

pytestmark = pytest.mark.browser

PAGES = {
    "london": "/estates",
    "london-2013-14": "/estates?year=2013-14",
    "organisation": "/estates/organisations/RAL",
    "merged": "/estates/organisations/RVL",
    "site": "/estates/sites/R1H/R1H12",
    "aggregate": "/estates/sites/R1H/AGGRE",
    "disposals": "/estates/disposals",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path_factory.mktemp('estates') / 'site.db'}"
    engine = make_engine(url)
    upgrade(engine)
    load_all(url, shared_dir / "data" / "estates")
    add_people(engine)
    _pipeline(engine)
    engine.dispose()
    app = create_app(settings_for(url))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


def _pipeline(engine: Any) -> None:
    """Two published disposals (one sold) and an unpublished one, for the pipeline pages."""
    from healthycity.estates import disposals

    entries = [
        {"name": "Former nurses' home", "org_code": "RAL", "site_code": "RAL01"},
        {"name": "Car park land", "site_description": "Land by the ring road", "subregion": "SEL"},
        {"name": "Unpublished depot", "site_description": "A depot", "subregion": "NWL"},
    ]
    with unit(engine) as session:
        for n, entry in enumerate(entries):
            data = entry | {"expected_receipt": "4500000", "homes_enabled": 60, "published": n < 2}
            row = disposals.create(session, disposals.DisposalIn.model_validate(data), "tests")
            if n == 1:
                for stage in ("approved", "marketed", "sold"):
                    moved = disposals.current(row) | {
                        "stage": stage,
                        "forum": "subregional_board",
                        "actual_receipt": "5100000" if stage == "sold" else None,
                    }
                    disposals.update(session, row, disposals.DisposalIn.model_validate(moved))


@pytest.mark.parametrize("name", list(PAGES))
def test_estates_page_passes_axe(site: LiveServer, page: Any, name: str) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + PAGES[name])
    expect(page.locator("h1")).to_have_count(1)
    expect(page).to_have_title(__import__("re").compile(r" – healthycity$"))
    assert_accessible(page)


def test_journey_london_to_site(site: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + "/estates")
    expect(page.locator("h1")).to_have_text("London's NHS estate, 2016-17")
    expect(page.get_by_text("does not check or correct them")).to_be_visible()
    expect(page.get_by_role("img", name=__import__("re").compile("^Map of"))).to_be_visible()

    page.get_by_text("Show the data in this chart: london nhs sites by backlog").click()
    expect(
        page.get_by_role("table", name="Data for the chart: London NHS sites by backlog")
    ).to_be_visible()

    page.get_by_role("link", name="2014-15").click()
    expect(page.locator("h1")).to_have_text("London's NHS estate, 2014-15")

    page.get_by_role("link", name="ROYAL FREE LONDON NHS FOUNDATION TRUST").click()
    expect(page.locator("h1")).to_have_text("ROYAL FREE LONDON NHS FOUNDATION TRUST")
    expect(page.get_by_role("link", name="RVL")).to_be_visible()

    page.get_by_role("link", name="ROYAL FREE HOSPITAL").first.click()
    expect(page.locator("h1")).to_contain_text("ROYAL FREE HOSPITAL")
    expect(
        page.get_by_role("table", name=__import__("re").compile("^Estates returns for"))
    ).to_be_visible()


def test_the_pipeline_in_public_and_in_the_workspace(site: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + "/estates/disposals")
    expect(page.locator("h1")).to_have_text("The disposals pipeline")
    expect(page.get_by_role("row", name=re.compile("^Car park land"))).to_contain_text("Sold")
    expect(page.get_by_text("Unpublished depot")).to_have_count(0)
    page.get_by_text("Show the data in this chart: disposal receipts by sub-region").click()
    expect(
        page.get_by_role("table", name="Data for the chart: Disposal receipts by sub-region")
    ).to_be_visible()

    page.goto(site.url + "/workspace/sign-in")
    page.get_by_label("Email address").fill("estates@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Workspace")
    page.goto(site.url + "/workspace/disposals")
    expect(page.locator("h1")).to_have_text("Estates disposals pipeline")
    expect(page.get_by_role("rowheader", name=re.compile("^Unpublished depot"))).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Add a disposal").click()
    expect(page.locator("h1")).to_have_text("Add disposal")
    assert_accessible(page)
    page.get_by_label("Name", exact=True).fill("Old laundry")
    page.get_by_label("Site description").fill("Laundry block behind the hospital")
    page.get_by_label("Sub-region").select_option("NEL")
    page.get_by_label("Stage", exact=True).select_option("sold")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text(
        "a sold disposal needs its actual receipt"
    )
    assert_accessible(page)
    page.get_by_label("Stage", exact=True).select_option("candidate")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("h1")).to_have_text("Estates disposals pipeline")
    expect(page.get_by_role("rowheader", name=re.compile("^Old laundry"))).to_be_visible()
