"""Issue 12 in a real browser: published judgements labelled on the indicator page, the
funnel plot with its table twin, and axe WCAG 2.2 AA on both pages. Every check waits
for what it looks at (Playwright's ``expect``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from healthycity.web.app import create_app
from tests.browser.conftest import assert_accessible
from tests.conftest import LiveServer, settings_for
from tests.test_real_data_twins import SMOKING_FILE, build_real

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not SMOKING_FILE.is_file():
        pytest.skip(f"shared reference data not found at {SMOKING_FILE}")
    url = build_real(tmp_path_factory.mktemp("real-browser"))
    app = create_app(settings_for(url))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


def test_published_judgements_are_labelled(site: LiveServer, page: Any) -> None:
    page.goto(site.url + "/indicators/92443")
    expect(page.locator("h1")).to_have_text("Smoking prevalence in adults - current smokers (APS)")
    expect(page.locator(".hc-data-kind")).to_contain_text("These are published figures")
    table = page.get_by_role("table", name="compared with England", exact=False).first
    expect(table.get_by_text("(as published)", exact=False)).to_have_count(32)
    expect(
        page.get_by_text("No figure for London: the data have no London row").first
    ).to_be_visible()
    expect(page.locator(".hc-funnel-note")).to_contain_text("No funnel plot")
    assert_accessible(page)


def test_funnel_plot_with_its_table(site: LiveServer, page: Any) -> None:
    page.goto(site.url + "/indicators/99901?benchmark=london")
    heading = page.get_by_role("heading", name="Funnel plot", exact=True)
    expect(heading).to_be_visible()
    section = page.locator("section", has=heading)
    chart = section.get_by_role("img")
    expect(chart).to_have_count(1)
    expect(chart).to_have_accessible_name(re.compile(r"^Funnel plot of Pigeon-related injuries"))
    figure_text = section.locator("figcaption")
    expect(figure_text).to_contain_text("95% and 99.8% control limits around London")
    section.get_by_text("Show the data in this chart").click()
    data = section.get_by_role("table", name="Data for the chart: funnel plot")
    expect(data).to_be_visible()
    expect(data.locator("tbody tr")).to_have_count(4)
    expect(data.locator("tbody tr").first).to_contain_text("Camden")
    page.get_by_role("link", name="Funnel plot").first.click()
    expect(page).to_have_url(site.url + "/indicators/99901?benchmark=london#funnel")
    assert_accessible(page)
