"""The outcomes dashboard in a real browser (Debian chromium): axe WCAG 2.2 AA on every
page type, the journey home → aspiration → indicator → borough → CSV download as a
person sees it, and the choices working without JavaScript. Screenshots are kept in
test-artifacts/ by the ``page`` fixture."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from healthycity.web.app import create_app
from tests.browser.conftest import assert_accessible
from tests.conftest import LiveServer, settings_for
from tests.web import test_dashboard_data as shared_data

# Session fixtures shared with the other dashboard tests (built once per engine).
london_sqlite = shared_data.london_sqlite

pytestmark = pytest.mark.browser

PAGES = {
    "home": "/",
    "aspiration": "/aspirations/healthy-start",
    "commitment": "/commitments/cut-child-obesity",
    "indicator": "/indicators/90323?area=E09000007",
    "borough": "/areas/E09000007",
    "sub-region": "/areas/E54000027",
    "inequalities": "/inequalities",
    "search": "/search?q=obesity",
    "api-docs": "/api/v1/docs",
    "not-found": "/indicators/no-such-indicator",
}


@pytest.fixture(scope="module")
def site(london_sqlite: str) -> Iterator[LiveServer]:
    app = create_app(settings_for(london_sqlite))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


@pytest.mark.parametrize("name", list(PAGES))
def test_dashboard_page_passes_axe(site: LiveServer, page: Any, name: str) -> None:
    page.goto(site.url + PAGES[name])
    assert page.title().endswith(" – healthycity")
    assert page.locator("h1").count() == 1
    assert_accessible(page)


def test_journey_home_to_borough_csv(site: LiveServer, page: Any) -> None:
    page.goto(site.url + "/")
    assert page.locator("h1").inner_text() == "How London is doing"
    assert page.get_by_text("Illustrative data").first.is_visible()

    page.get_by_role("link", name="Give all London's children a healthy, happy start").click()
    assert "Give all London's children" in page.locator("h1").inner_text()
    assert page.get_by_text("The ambitions for 2020").is_visible()

    page.get_by_role("link", name="Year 6 prevalence of obesity (including severe obesity)").click()
    assert page.locator("h1").inner_text().startswith("Year 6 prevalence of obesity")
    headline = page.locator(".nhsuk-lede-text").inner_text()
    assert "London:" in headline and "England" in headline
    assert page.get_by_role("img").count() >= 3  # map, bars and trend, each named
    assert page.get_by_role("heading", name="Data table").is_visible()
    page.get_by_text("Show the data in this chart").first.click()
    assert page.get_by_role("table").first.is_visible()

    data_table = page.get_by_role("table", name=re.compile(r", compared with England$"))
    data_table.get_by_role("link", name="Camden", exact=True).click()
    assert page.locator("h1").inner_text() == "Camden"
    assert page.get_by_role("heading", name="Biggest gaps").is_visible()
    assert page.get_by_role("heading", name="Spine chart").is_visible()

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download as CSV").click()
    download = download_info.value
    assert download.suggested_filename == "area-E09000007.csv"
    path = download.path()
    assert path is not None
    with open(path, encoding="utf-8") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    assert len(rows) >= 20 and rows[0]["indicator_id"]
    assert {"better", "similar", "worse"} & {r["comparison"].split(" ")[0].lower() for r in rows}


def test_choices_work_without_javascript(site: LiveServer, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        tab = context.new_page()
        tab.goto(site.url + "/indicators/90323")
        tab.get_by_label("Compare with").select_option("london")
        tab.get_by_label("Add an area to the trend").select_option("E09000012")
        tab.get_by_role("button", name="Show").click()
        tab.wait_for_url("**benchmark=london**")
        main = tab.locator("main")
        expect(main).to_contain_text(re.compile(r"(than|to) London"))
        # The trend's text alternative names the added area (read as text content: it
        # may sit in a collapsed table-twin or the chart's description).
        expect(main).to_contain_text("Hackney went from")
        tab.goto(site.url + "/search?q=camden")
        expect(tab.get_by_role("link", name="Camden").first).to_be_visible()
    finally:
        context.close()


def test_choosing_two_levels_by_keyboard_passes_axe(site: LiveServer, page: Any) -> None:
    page.goto(site.url + "/indicators/90323")
    page.locator("#choose-benchmark").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "choose-comparison"
    page.get_by_label("Comparison method").select_option("two-levels")
    page.get_by_role("button", name="Show").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**comparison=two-levels**")
    main = page.locator("main").inner_text()
    assert "Worse than England at 99.8%" in main and "at 95%" in main
    caption = page.locator("#compare-caption").inner_text()
    assert "Compared with England using 95% and 99.8% confidence intervals" in caption
    selected = page.locator("#choose-comparison option:checked").inner_text()
    assert selected.startswith("Two levels")
    assert_accessible(page)


def test_keyboard_reaches_the_choices_form(site: LiveServer, page: Any) -> None:
    page.goto(site.url + "/indicators/90323")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.getAttribute('href')") == "#maincontent"
    page.locator("#choose-benchmark").focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id")
    assert focused.startswith("choose-")


def test_sii_chart_and_population_pyramid_are_named_tabled_and_accessible(
    site: LiveServer, page: Any
) -> None:
    """The demo data's SII chart and population pyramid, as a person meets them: one named
    image each, the figures in a table behind "Show the data", no axe violations."""
    page.goto(site.url + "/inequalities")
    assert page.get_by_role(
        "heading", name="The slope index of inequality", exact=True
    ).is_visible()
    sii = page.locator("#sii-chart ~ figure").first
    assert sii.get_by_role("img", name="Charts of").count() == 1
    details = page.locator("#sii-chart ~ details").first
    details.get_by_text("Show the data in this chart").click()
    table = details.get_by_role("table")
    assert table.is_visible() and table.locator("tbody tr").count() >= 30
    assert_accessible(page)

    page.goto(site.url + "/areas/E09000007")
    assert page.get_by_role("heading", name="Population by age and sex").is_visible()
    assert page.get_by_role("img", name="Population pyramid of Camden").count() == 1
    page.get_by_text("Show the data in this chart").last.click()
    assert page.get_by_role(
        "table", name="Data for the chart: population by age and sex"
    ).is_visible()
    assert_accessible(page)
