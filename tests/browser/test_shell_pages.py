"""The shell's pages in a real browser: accessible, keyboard-usable, fine without JS."""

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

pytestmark = pytest.mark.browser


@pytest.fixture
def site(tmp_path: Path) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path / 'site.db'}"
    upgrade(make_engine(url))
    app = create_app(settings_for(url))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


@pytest.mark.parametrize("path", ["/", "/accessibility", "/no-such-page"])
def test_page_passes_axe(site: LiveServer, page: Any, path: str) -> None:
    page.goto(site.url + path)
    assert page.title().endswith(" – healthycity")
    assert page.locator("h1").count() == 1
    assert_accessible(page)


def test_skip_link_is_first_tab_stop(site: LiveServer, page: Any) -> None:
    page.goto(site.url + "/")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.getAttribute('href')")
    assert focused == "#maincontent"


def test_pages_work_without_javascript(site: LiveServer, browser: Any) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        tab = context.new_page()
        tab.goto(site.url + "/accessibility")
        assert tab.locator("h1").inner_text() == "Accessibility statement"
    finally:
        context.close()
