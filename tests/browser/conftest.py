"""Real browser fixtures: Playwright drives Debian's chromium; axe-core checks WCAG 2.2 AA.

Playwright never downloads a browser here: it launches /usr/bin/chromium, which
`make test` installs from Debian when missing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
AXE_JS = REPO / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM = os.environ.get("HEALTHYCITY_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One chromium per test module. Not per session: Playwright's sync API keeps an
    event loop running on the main thread while it is open, and code under test that
    calls ``asyncio.run`` (the exchange's CLI) would fail in whichever test happened to
    run after a browser test on the same worker."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"chromium not found at {CHROMIUM}; `make test` installs it from Debian")
    if not AXE_JS.exists():
        pytest.fail(f"axe-core not found at {AXE_JS}; `make test` installs it with npm")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(
        java_script_enabled=True, viewport={"width": 1280, "height": 900}, bypass_csp=True
    )
    # The design system's CSS loads its fonts from the NHS CDN; no network here.
    context.route("https://assets.nhs.uk/**", lambda route: route.fulfill(status=204, body=""))
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))
    tab.on(
        "console",
        lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None,
    )
    yield tab
    ARTIFACTS.mkdir(exist_ok=True)
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    try:
        tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
    expected_404 = [e for e in errors if "404" in e]
    unexpected = [e for e in errors if e not in expected_404]
    assert not unexpected, f"the page reported errors: {unexpected}"


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core's WCAG 2.0/2.1/2.2 A and AA rules on the page; return its violations.

    It first waits for the page to settle: loaded, fonts ready, and two frames drawn
    after the design system's header script has moved the links that do not fit into
    its "More" menu. Checked mid-way, those links were once measured for contrast
    against the wrong background (a flaky colour-contrast failure in CI)."""
    page.wait_for_load_state("load")
    page.evaluate(
        "() => document.fonts.ready.then(() => new Promise("
        "r => requestAnimationFrame(() => requestAnimationFrame(r))))"
    )
    page.add_script_tag(path=str(AXE_JS))
    result = page.evaluate(
        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        WCAG_22_AA,
    )
    return list(result["violations"])


def assert_accessible(page: Any) -> None:
    violations = axe_violations(page)
    summary = [
        {
            "rule": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in violations
    ]
    assert not violations, f"axe found violations on {page.url}:\n{json.dumps(summary, indent=2)}"
