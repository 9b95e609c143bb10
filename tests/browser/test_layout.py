"""Every page type finished at phone, tablet and desktop widths (issue 20), measured in
a real browser: no table or chart wider than its container, nothing pushing the page
sideways, chart legends that match their marks, and charts near the top of the page."""

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
WIDTHS = (320, 768, 1280)

# Each table's scroll container, each chart and each figure: its right edge inside its
# parent's, and the page itself never wider than the window.
OVERFLOW = """() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) {
    problems.push(`page ${root.scrollWidth}px wide in a ${root.clientWidth}px window`);
  }
  const boxes = document.querySelectorAll(
    '.nhsuk-table-container, .hc-chart, .hc-figure, table, .hc-chart svg, .hc-spark, pre');
  for (const el of boxes) {
    if (el.closest('details:not([open])')) continue;
    const scroller = el.parentElement.closest('.nhsuk-table-container, .hc-chart, pre');
    if (el.tagName === 'TABLE' && scroller) continue;  // it scrolls inside its container
    const box = el.getBoundingClientRect();
    const parent = el.parentElement.getBoundingClientRect();
    if (box.width === 0) continue;
    if (box.right > parent.right + 1 || box.left < parent.left - 1) {
      problems.push(`${el.tagName}.${el.className.baseVal ?? el.className} ` +
        `${Math.round(box.left)}–${Math.round(box.right)} outside ` +
        `${Math.round(parent.left)}–${Math.round(parent.right)}`);
    }
  }
  return problems;
}"""


@pytest.fixture(scope="module")
def site(london_sqlite: str) -> Iterator[LiveServer]:
    import httpx

    app = create_app(settings_for(london_sqlite))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        # Build each page once (charts, counts) so the browser measures, not waits.
        for path in PAGES.values():
            httpx.get(server.url + path, timeout=300)
        yield server


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", list(PAGES))
def test_nothing_is_wider_than_its_container(
    site: LiveServer, page: Any, name: str, width: int
) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": width, "height": 900})
    page.goto(site.url + PAGES[name])
    expect(page.locator("h1")).to_have_count(1)
    problems = page.evaluate(OVERFLOW)
    assert not problems, f"{PAGES[name]} at {width}px: {problems}"


@pytest.mark.parametrize("name", ["indicators", "areas"])
def test_the_index_pages_pass_axe(site: LiveServer, page: Any, name: str) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + PAGES[name])
    expect(page.locator("h1")).to_have_text(name.capitalize())
    assert_accessible(page)


def test_the_first_inequalities_chart_is_within_two_screens(site: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(site.url + "/inequalities")
    chart = page.locator(".hc-chart svg").first
    expect(chart).to_be_attached()
    top = chart.evaluate("el => el.getBoundingClientRect().top + window.scrollY")
    assert top < 2 * 900, f"the first chart starts {top}px down the page"


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
