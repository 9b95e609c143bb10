"""The annual strategic review in a real browser: the list and a year's review pass axe
(WCAG 2.2 AA) on a phone (320 px) and a desktop (1280 px), nothing is wider than the
window, and a reader gets from the list to a review and opens a chart's table, each step
waited for with ``expect``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from healthycity.web.app import create_app
from tests.browser.conftest import assert_accessible
from tests.browser.test_dashboard_widths import OVERFLOW
from tests.conftest import LiveServer, settings_for
from tests.web import test_dashboard_data as shared_data

london_sqlite = shared_data.london_sqlite

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(london_sqlite: str) -> Iterator[LiveServer]:
    import httpx

    app = create_app(settings_for(london_sqlite))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        httpx.get(server.url + "/review/2019", timeout=300)  # built once, then cached
        yield server


@pytest.mark.parametrize("width", [320, 1280])
@pytest.mark.parametrize("path", ["/review", "/review/2019"])
def test_the_review_passes_axe_and_fits_the_window(
    site: LiveServer, page: Any, path: str, width: int
) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": width, "height": 900})
    page.goto(site.url + path)
    expect(page.locator("h1")).to_have_count(1)
    if path == "/review/2019":
        expect(page.locator("h1")).to_have_text("Annual strategic review 2019")
        expect(page.locator("figure.hc-chart svg")).to_have_count(3)
        expect(page.locator("#summary")).to_have_text("The year in two minutes")
    else:
        expect(page.get_by_role("link", name="Annual strategic review 2019")).to_be_visible()
    assert page.evaluate(OVERFLOW) == [], f"{path} at {width}px is wider than its container"
    assert_accessible(page)


def test_from_the_list_to_a_review_and_a_charts_figures(site: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + "/review")
    page.get_by_role("link", name="Annual strategic review 2019").click()
    expect(page.locator("h1")).to_have_text("Annual strategic review 2019")
    summary = page.get_by_text("Infant mortality: the figures as a table")
    summary.click()
    table = page.get_by_role("region", name="Infant mortality: figures")
    expect(table).to_be_visible()
    expect(table.get_by_role("row", name="London (United Kingdom)")).to_contain_text("3.7")
    page.locator("main").get_by_role(
        "link", name="Year 6 prevalence of obesity (including severe obesity)"
    ).first.click()
    expect(page.locator("h1")).to_contain_text("Year 6 prevalence of obesity")
