"""Every public page type of the dashboard at phone, tablet and desktop widths (issue 20),
measured in Debian's chromium: at 320, 768 and 1280 px no table or chart is wider than
its container and nothing pushes the page sideways; no chart label is cut with "…";
every legend entry has marks of its colour; the first chart of the inequalities page is
within the first two screens; and axe-core finds no WCAG 2.2 AA violation.

One browser for the module (``conftest.browser``) and one tab per page type, which
visits the three widths in turn: the page is loaded afresh at each width (so the
layout is the one a reader of that device gets), and every check first waits for the
element it measures with Playwright's ``expect``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from healthycity.web.app import create_app
from tests.browser.conftest import assert_accessible
from tests.conftest import LiveServer, settings_for
from tests.test_real_data_twins import SMOKING_FILE, build_real
from tests.web import test_dashboard_data as shared_data

london_sqlite = shared_data.london_sqlite

pytestmark = pytest.mark.browser

WIDTHS = (320, 768, 1280)
HEIGHT = 800
# Every public page type of the dashboard on the demo data, with how many charts it
# draws and how many of them carry a colour legend (so a page that lost its charts
# cannot pass the chart checks vacuously).
PAGES: dict[str, tuple[str, int, int]] = {
    "home": ("/", 0, 0),
    "indicators": ("/indicators?aspiration=healthy-start&sort=name", 0, 0),
    "areas": ("/areas", 0, 0),
    "aspiration": ("/aspirations/healthy-start", 1, 1),
    "commitment": ("/commitments/cut-child-obesity", 1, 1),
    "indicator": ("/indicators/90323?area=E09000007", 5, 5),
    "indicator-two-levels": ("/indicators/90323?comparison=two-levels&benchmark=london", 5, 5),
    "borough": ("/areas/E09000030", 2, 2),
    "sub-region": ("/areas/E54000027", 2, 2),
    "city": ("/areas/E12000007", 2, 2),
    "inequalities": ("/inequalities", 2, 0),
    "search": ("/search?q=obesity", 0, 0),
    "api-docs": ("/api/v1/docs", 0, 0),
    "not-found": ("/indicators/no-such-indicator", 0, 0),
}
# Pages of real published data (issue 12): judgements as published, the funnel plot.
REAL_PAGES: dict[str, tuple[str, int, int]] = {
    "published-indicator": ("/indicators/92443", 4, 4),
    "funnel": ("/indicators/99901?benchmark=london", 5, 5),
}

# Each table's scroll container, each chart and figure and each code block: inside its
# parent, and the page itself never wider than the window.
OVERFLOW = """() => {
  const problems = [];
  const root = document.documentElement;
  if (root.scrollWidth > root.clientWidth + 1) {
    problems.push(`the page is ${root.scrollWidth}px wide in a ${root.clientWidth}px window`);
  }
  const boxes = document.querySelectorAll(
    'main .nhsuk-table-container, main .hc-chart, main .hc-figure, main table, ' +
    'main .hc-chart svg, main .hc-spark, main pre');
  for (const el of boxes) {
    if (el.closest('details:not([open])')) continue;
    const scroller = el.parentElement.closest('.nhsuk-table-container, .hc-chart, pre');
    if (el.tagName === 'TABLE' && scroller) continue;  // it scrolls inside its container
    const box = el.getBoundingClientRect();
    const parent = el.parentElement.getBoundingClientRect();
    if (box.width === 0) continue;
    if (box.right > parent.right + 1 || box.left < parent.left - 1) {
      const name = el.getAttribute('aria-label') || el.className.baseVal || el.className;
      problems.push(`${el.tagName} "${name}" spans ${Math.round(box.left)}-` +
        `${Math.round(box.right)}px, its container ${Math.round(parent.left)}-` +
        `${Math.round(parent.right)}px`);
    }
  }
  return problems;
}"""

# Labels Vega cut to fit end in "…"; none may (the full text would be lost).
TRUNCATED = """() => [...document.querySelectorAll('main svg text')]
  .map(t => t.textContent.trim())
  .filter(t => t.endsWith('…') || t.endsWith('...'))"""

# For every chart: each legend entry's colour (fill, or stroke for line symbols) must
# be the colour of some mark the chart draws.
LEGENDS = """() => {
  const colour = el => {
    const fill = el.getAttribute('fill');
    const stroke = el.getAttribute('stroke');
    if (fill && fill !== 'none' && fill !== 'transparent') return fill.toLowerCase();
    return (stroke || '').toLowerCase();
  };
  const problems = [];
  let legends = 0;
  document.querySelectorAll('main .hc-chart svg').forEach((svg, n) => {
    const name = svg.getAttribute('aria-label') || `chart ${n + 1}`;
    const symbols = [...svg.querySelectorAll('.role-legend-symbol path')];
    const labels = [...svg.querySelectorAll('.role-legend-label text')];
    if (!symbols.length) return;
    legends += 1;
    if (symbols.length !== labels.length) {
      problems.push(`${name}: ${symbols.length} symbols for ${labels.length} labels`);
    }
    const drawn = new Set();
    svg.querySelectorAll('.role-mark path, .role-mark rect, .role-mark line').forEach(el => {
      const fill = el.getAttribute('fill');
      const stroke = el.getAttribute('stroke');
      if (fill) drawn.add(fill.toLowerCase());
      if (stroke) drawn.add(stroke.toLowerCase());
    });
    symbols.forEach((symbol, i) => {
      const wanted = colour(symbol);
      if (wanted && !drawn.has(wanted)) {
        const label = labels[i] ? labels[i].textContent : '?';
        problems.push(`${name}: the legend shows "${label}" (${wanted}) but no mark has it`);
      }
    });
  });
  return {problems, legends};
}"""


def check_page(page: Any, url: str, charts: int, legends: int) -> None:
    """Load ``url`` at each width and check it."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        page.goto(url)
        expect(page.locator("h1")).to_have_count(1)
        expect(page.locator("main .hc-chart svg")).to_have_count(charts)
        where = f"{url} at {width}px"
        problems = page.evaluate(OVERFLOW)
        assert not problems, f"{where}: {problems}"
        cut = page.evaluate(TRUNCATED)
        assert not cut, f"{where}: chart labels cut short: {cut}"
        found = page.evaluate(LEGENDS)
        assert not found["problems"], f"{where}: {found['problems']}"
        assert found["legends"] == legends, f"{where}: {found['legends']} legends"
        assert_accessible(page)


@pytest.fixture(scope="module")
def site(london_sqlite: str) -> Iterator[LiveServer]:
    import httpx

    app = create_app(settings_for(london_sqlite))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        # Build each page once (charts, counts) so the browser measures, not waits.
        for path, _, _ in PAGES.values():
            httpx.get(server.url + path, timeout=300)
        yield server


@pytest.fixture(scope="module")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    if not SMOKING_FILE.is_file():
        pytest.skip(f"shared reference data not found at {SMOKING_FILE}")
    url = build_real(tmp_path_factory.mktemp("real-widths"))
    app = create_app(settings_for(url))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


@pytest.mark.parametrize("name", list(PAGES))
def test_page_at_every_width(site: LiveServer, page: Any, name: str) -> None:
    path, charts, legends = PAGES[name]
    check_page(page, site.url + path, charts, legends)


@pytest.mark.parametrize("name", list(REAL_PAGES))
def test_real_data_page_at_every_width(real_site: LiveServer, page: Any, name: str) -> None:
    path, charts, legends = REAL_PAGES[name]
    check_page(page, real_site.url + path, charts, legends)


def test_the_first_inequalities_chart_is_within_two_screens(site: LiveServer, page: Any) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": HEIGHT})
        page.goto(site.url + "/inequalities")
        chart = page.locator("main .hc-chart svg").first
        expect(chart).to_be_visible()
        top = chart.evaluate("el => el.getBoundingClientRect().top + window.scrollY")
        assert top < 2 * HEIGHT, f"at {width}px the first chart starts {top}px down the page"


def test_the_spine_chart_prints_each_rows_figures(site: LiveServer, page: Any) -> None:
    """Each spine row shows the area's value, the benchmark's and the range, the same
    figures as the page's twin."""
    import re

    import httpx

    path = "/areas/E09000030?benchmark=london"
    page.goto(site.url + path)
    spine = page.locator("#spine-caption").locator("xpath=..").locator("svg")
    expect(spine).to_be_attached()
    texts = set(spine.locator("text").all_text_contents())
    for heading in ("Tower Hamlets", "London", "Range"):
        assert heading in texts, f"the spine has no {heading!r} column"
    twin = httpx.get(site.url + path.replace("?", ".json?"), timeout=60).json()
    number = re.compile(r"-?[\d,]+(?:\.\d+)?")
    for row in twin["indicators"]:
        value, bench = (number.search(row[k]) for k in ("value", "benchmark_value"))
        assert value is not None and bench is not None
        assert value.group() in texts and bench.group() in texts, row["indicator"]
        assert f"{row['lowest_peer']} to {row['highest_peer']}" in texts, row["indicator"]
