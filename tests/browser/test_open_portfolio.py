"""The partnership's work in the open in a real browser: /programmes, a programme's page,
/devolution and /governance without a sign-in, each passing axe (WCAG 2.2 AA), and the
journey from the list to a programme, waiting with ``expect``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from healthycity.core.db import make_engine
from healthycity.core.migrate import upgrade
from healthycity.core.pack_loading import load_pack
from healthycity.web.app import create_app
from tests.browser.conftest import assert_accessible
from tests.conftest import LiveServer, settings_for
from tests.workspace.helpers import london_pack

pytestmark = pytest.mark.browser

PAGES = ["/programmes", "/programmes/estates", "/devolution", "/governance"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path_factory.mktemp('open') / 'site.db'}"
    engine = make_engine(url)
    upgrade(engine)
    load_pack(engine, london_pack())
    app = create_app(settings_for(url))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


@pytest.mark.parametrize("path", PAGES)
def test_open_page_passes_axe(site: LiveServer, page: Any, path: str) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + path)
    expect(page.locator("h1")).to_have_count(1)
    expect(page).to_have_title(re.compile(r" – healthycity$"))
    assert_accessible(page)


def test_from_the_programmes_to_one_programme_and_the_pledge_count(
    site: LiveServer, page: Any
) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + "/programmes")
    page.locator("main table").get_by_role("link", name="Estates", exact=True).click()
    expect(page.locator("h1")).to_have_text("Estates")
    expect(page.get_by_text("shared objectives")).to_be_visible()
    page.goto(site.url + "/devolution")
    expect(page.locator("#pledge-count")).to_contain_text("of 54 pledges recorded")
