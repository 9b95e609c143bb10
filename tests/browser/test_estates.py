"""The estates pages in a real browser: axe WCAG 2.2 AA on each page type, and the journey
London → organisation → site with each chart's table opened, waiting with ``expect``."""

from __future__ import annotations

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

pytestmark = pytest.mark.browser

PAGES = {
    "london": "/estates",
    "london-2013-14": "/estates?year=2013-14",
    "organisation": "/estates/organisations/RAL",
    "merged": "/estates/organisations/RVL",
    "site": "/estates/sites/R1H/R1H12",
    "aggregate": "/estates/sites/R1H/AGGRE",
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path_factory.mktemp('estates') / 'site.db'}"
    upgrade(make_engine(url))
    load_all(url, shared_dir / "data" / "estates")
    app = create_app(settings_for(url))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


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
