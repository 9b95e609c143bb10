"""Forum meetings and decisions in a real browser: the public page /governance/decisions
(new) passes axe (WCAG 2.2 AA) once its content is there, and a published decision is
reached from the governance page and shown on its programme's page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from healthycity.core.db import make_engine
from healthycity.core.migrate import upgrade
from healthycity.core.pack_loading import load_pack
from healthycity.portfolio import governance, schemas
from healthycity.web.app import create_app
from tests.browser.conftest import assert_accessible
from tests.conftest import LiveServer, settings_for
from tests.workspace.helpers import london_pack, unit

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path_factory.mktemp('governance') / 'site.db'}"
    engine = make_engine(url)
    upgrade(engine)
    load_pack(engine, london_pack())
    with unit(engine) as session:
        meeting = governance.create_meeting(
            session,
            schemas.MeetingIn(
                forum_slug="london-health-board",
                held_on=date(2018, 7, 10),
                status="held",
                papers=["https://example.org/lhb/agenda.pdf"],
            ),
        )
        governance.create_decision(
            session,
            schemas.DecisionIn(
                forum_slug="london-health-board",
                meeting_id=meeting.id,
                decided_on=date(2018, 7, 10),
                title="Estates board to report quarterly",
                decision="The London Estates Board reports on disposals at each meeting.",
                decided_by="London Health Board",
                programmes=["estates"],
                published=True,
            ),
        )
    app = create_app(settings_for(url))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


def test_decisions_page_passes_axe(site: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + "/governance/decisions")
    expect(page.locator("h1")).to_have_text("Forum meetings and decisions")
    expect(page.locator("#decisions ~ .nhsuk-card h3")).to_have_text(
        "Estates board to report quarterly"
    )
    expect(page.get_by_role("table")).to_contain_text("London Health Board")
    expect(page).to_have_title(re.compile(r" – healthycity$"))
    assert_accessible(page)


def test_from_governance_to_the_decision_and_its_programme(site: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + "/governance")
    page.get_by_role("link", name="Estates board to report quarterly").click()
    expect(page).to_have_url(re.compile(r"/governance/decisions#decision-\d+$"))
    expect(page.locator("h1")).to_have_text("Forum meetings and decisions")
    assert_accessible(page)
    page.goto(site.url + "/programmes/estates")
    expect(page.locator("#decisions + ul")).to_contain_text("Estates board to report quarterly")
    assert_accessible(page)
