"""The estates views added for #14 in a real browser: the age profile, backlog and
investment, and the sites added by hand (public list and workspace form), each checked
with axe (WCAG 2.2 AA), waiting with ``expect`` for what it checks."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from healthycity.core.db import make_engine
from healthycity.core.migrate import upgrade
from healthycity.web.app import create_app
from tests.browser.conftest import assert_accessible
from tests.conftest import LiveServer, settings_for
from tests.estates.conftest import cli, load_all
from tests.workspace.helpers import PASSWORD, add_people, unit

pytestmark = pytest.mark.browser

PAGES = {
    "age-profile": ("/estates/age-profile", "The age of London's NHS estate, 2016-17"),
    "age-profile-2013-14": (
        "/estates/age-profile?year=2013-14",
        "The age of London's NHS estate, 2013-14",
    ),
    "backlog": ("/estates/backlog", "Backlog maintenance and investment, 2016-17"),
    "hand-sites": ("/estates/hand-sites", "Sites added by hand"),
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path) -> Iterator[LiveServer]:
    url = f"sqlite:///{tmp_path_factory.mktemp('estates-views') / 'site.db'}"
    engine = make_engine(url)
    upgrade(engine)
    assert cli(url, "pack", "load", "london").exit_code == 0
    load_all(url, shared_dir / "data" / "estates")
    add_people(engine)
    from healthycity.estates import hand_sites

    with unit(engine) as session:
        data = hand_sites.HandSiteIn.model_validate(
            {
                "name": "Lordship Lane Health Centre",
                "kind": "gp_premises",
                "subregion": "NCL",
                "source": "NHS Property Services lease schedule, March 2017",
                "postcode": "N17 6AX",
                "published": True,
            }
        )
        hand_sites.create(session, data, "Esther Estates <estates@example.org>")
    engine.dispose()
    app = create_app(settings_for(url))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


@pytest.mark.parametrize("name", list(PAGES))
def test_view_passes_axe(site: LiveServer, page: Any, name: str) -> None:
    from playwright.sync_api import expect

    path, heading = PAGES[name]
    page.goto(site.url + path)
    expect(page.locator("h1")).to_have_text(heading)
    expect(page).to_have_title(re.compile(r" – healthycity$"))
    assert_accessible(page)


def test_views_show_their_charts_tables_and_codes(site: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + "/estates")
    expect(page.get_by_role("table", name=re.compile("^London's sub-regions"))).to_contain_text(
        "E54000028"
    )
    page.get_by_role("link", name=re.compile("^Backlog maintenance by risk category")).click()
    expect(page.locator("h1")).to_have_text("Backlog maintenance and investment, 2016-17")
    expect(page.get_by_role("img", name=re.compile("^Paired bars"))).to_be_visible()
    page.get_by_text(
        "Show the data in this chart: investment to reduce backlog against the backlog, 2016-17"
    ).click()
    table = page.get_by_role(
        "table",
        name="Data for the chart: Investment to reduce backlog against the backlog, 2016-17",
    )
    expect(table).to_be_visible()
    expect(table).to_contain_text("E54000027")
    assert_accessible(page)

    page.goto(site.url + "/estates/age-profile?year=2015-16")
    expect(page.locator("h1")).to_have_text("The age of London's NHS estate, 2015-16")
    page.get_by_text("Show the data in this chart: floor area by age, 2015-16").click()
    expect(
        page.get_by_role("table", name="Data for the chart: Floor area by age, 2015-16")
    ).to_contain_text("pre 1948")
    assert_accessible(page)


def test_adding_a_site_by_hand(site: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(site.url + "/estates")
    expect(page.get_by_role("table", name="Sites added by hand, by sub-region")).to_contain_text(
        "Added by Esther Estates on"
    )

    page.goto(site.url + "/workspace/sign-in")
    page.get_by_label("Email address").fill("estates@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("h1")).to_have_text("Workspace")
    page.goto(site.url + "/workspace/estate-sites")
    expect(page.locator("h1")).to_have_text("Sites added by hand")
    expect(
        page.get_by_role("rowheader", name=re.compile("^Lordship Lane Health Centre"))
    ).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Add a site").click()
    expect(page.locator("h1")).to_have_text("Add site added by hand")
    assert_accessible(page)
    page.get_by_label("Name", exact=True).fill("Eastway Clinic")
    page.get_by_label("Kind of site").select_option("nhs_property_services")
    page.get_by_label("Sub-region").select_option("NEL")
    page.get_by_label("Source", exact=True).fill("NHSPS property list 2017")
    page.get_by_label("Postcode").fill("E9 not a postcode")
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Enter a UK postcode")
    assert_accessible(page)
    page.get_by_label("Postcode").fill("e9 5ar")
    page.get_by_label("Show on the public estates pages").select_option("yes")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("h1")).to_have_text("Sites added by hand")
    expect(page.get_by_role("rowheader", name=re.compile("^Eastway Clinic"))).to_contain_text(
        "E9 5AR"
    )

    page.goto(site.url + "/estates/hand-sites")
    expect(page.get_by_role("rowheader", name=re.compile("^Eastway Clinic"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("^Eastway Clinic"))).to_contain_text(
        "Added by Estates on"
    )
