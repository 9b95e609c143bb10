"""Issue 20's checks that are not about width, in a real browser: the index pages pass
axe, and the gap chart's and the map's legends match their marks. (Every page type at
320, 768 and 1280 px — overflow, legends, axe, the first inequalities chart within two
screens — is `test_dashboard_widths.py`.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from healthycity.web.app import create_app
from tests.browser.conftest import assert_accessible
from tests.conftest import LiveServer, settings_for
from tests.web import test_dashboard_data as shared_data

london_sqlite = shared_data.london_sqlite

pytestmark = pytest.mark.browser

PAGES = {
    "home": "/",
    "indicators": "/indicators",
    "areas": "/areas",
    "aspiration": "/aspirations/healthy-start",
    "indicator": "/indicators/90323",
    "borough": "/areas/E09000030",
    "inequalities": "/inequalities",
    "search": "/search?q=obesity",
    "api-docs": "/api/v1/docs",
}


@pytest.fixture(scope="module")
def site(london_sqlite: str) -> Iterator[LiveServer]:
    import httpx

    app = create_app(settings_for(london_sqlite))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        # Build each page once (charts, counts) so the browser measures, not waits.
        for path in PAGES.values():
            httpx.get(server.url + path, timeout=300)
        yield server


@pytest.mark.parametrize("name", ["indicators", "areas"])
def test_the_index_pages_pass_axe(site: LiveServer, page: Any, name: str) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + PAGES[name])
    expect(page.locator("h1")).to_have_text(name.capitalize())
    assert_accessible(page)


def test_the_gap_chart_has_no_legend_for_marks_it_does_not_draw(
    site: LiveServer, page: Any
) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + "/inequalities")
    gaps = page.locator("#gaps-caption").locator("xpath=..").locator("svg")
    expect(gaps).to_be_attached()
    text = gaps.evaluate("el => el.textContent")
    for word in ("Better", "Similar", "Worse"):
        assert word not in text


def test_the_map_legend_names_only_the_outcomes_it_colours(site: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + "/indicators/90323")
    svg = page.locator("#map-caption").locator("xpath=..").locator("svg")
    expect(svg).to_be_attached()
    legend = svg.evaluate("el => el.textContent")
    rows = (
        page.locator("#map-caption")
        .locator("xpath=..")
        .locator("xpath=following-sibling::details[1]//tbody/tr")
    )
    outcomes = {
        r.split("\t")[4].split(" ")[0]
        for r in rows.evaluate_all(
            "rs => rs.map(r => [...r.cells].map(c => c.innerText).join('\\t'))"
        )
    }
    for outcome in outcomes:
        assert outcome in legend, f"{outcome} is on the map but not in its legend"
    assert page.locator("svg[role=img] path").count() >= 33  # real borough shapes
