"""Passwords in Chromium, with axe on every new page and state: a reset link used by its
holder, a person changing their own password, a locked sign-in and its unlocking."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from healthycity.core import auth
from healthycity.core.auth import AuthSettings
from healthycity.core.db import make_engine
from healthycity.core.migrate import upgrade
from tests.browser.conftest import assert_accessible
from tests.conftest import LiveServer
from tests.workspace.helpers import PASSWORD, add_people, app_for, unit

pytestmark = pytest.mark.browser
NEW_PASSWORD = "seven purple hedgehogs dancing"  # noqa: S105 - test data


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('passwords') / 'site.db'}"
    engine = make_engine(url)
    upgrade(engine)
    add_people(engine)
    engine.dispose()
    app = app_for(url)
    app.state.auth_settings = AuthSettings(sign_in_account_limit=2, sign_in_address_limit=50)
    with LiveServer(app) as server:
        yield server, url


def _reset_link(url: str, email: str) -> str:
    engine = make_engine(url)
    try:
        with unit(engine) as session:
            account = auth.find_account(session, email)
            assert account is not None
            return auth.issue_reset_link(session, account, minutes=30)
    finally:
        engine.dispose()


def _sign_in(page: Any, server: LiveServer, email: str, password: str) -> None:
    page.goto(f"{server.url}/workspace/sign-in")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_reset_link_lets_its_holder_set_a_new_password(
    site: tuple[LiveServer, str], page: Any
) -> None:
    server, url = site
    token = _reset_link(url, "viewer@example.org")
    page.goto(f"{server.url}/workspace/reset-password?token={token}")
    expect(page.locator("h1")).to_have_text("Set a new password")
    assert_accessible(page)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm your new password").fill("something else entirely")
    page.get_by_role("button", name="Save new password").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("The passwords do not match")
    expect(page).to_have_title(re.compile(r"^Error: "))
    assert_accessible(page)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm your new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save new password").click()
    page.wait_for_url(f"{server.url}/workspace/sign-in?done=password")
    expect(page.locator(".nhsuk-notification-banner")).to_contain_text(
        "Your password has been changed"
    )
    assert_accessible(page)
    _sign_in(page, server, "viewer@example.org", NEW_PASSWORD)
    page.wait_for_url(f"{server.url}/workspace")
    # The link is spent.
    page.goto(f"{server.url}/workspace/reset-password?token={token}")
    expect(page.locator("h1")).to_have_text("This link cannot be used")
    assert_accessible(page)


def test_a_person_changes_their_own_password(site: tuple[LiveServer, str], page: Any) -> None:
    server, _url = site
    _sign_in(page, server, "assessor@example.org", PASSWORD)
    page.wait_for_url(f"{server.url}/workspace")
    page.get_by_role("link", name="Change your password").click()
    expect(page.locator("h1")).to_have_text("Change your password")
    assert_accessible(page)
    page.get_by_label("Current password").fill("not the password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm your new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save new password").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_contain_text("Your current password is not right")
    assert_accessible(page)
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Confirm your new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save new password").click()
    page.wait_for_url(f"{server.url}/workspace/account/password?changed=1")
    expect(page.locator(".nhsuk-notification-banner")).to_contain_text(
        "Your password has been changed"
    )
    assert_accessible(page)
    # Still signed in here, with the new session.
    page.goto(f"{server.url}/workspace")
    expect(page.locator("h1")).to_have_text("Workspace")


def _tab(browser: Any) -> tuple[Any, Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.route("https://assets.nhs.uk/**", lambda route: route.fulfill(status=204, body=""))
    return context, context.new_page()


def test_a_locked_sign_in_and_the_administrator_unlocking_it(
    site: tuple[LiveServer, str], page: Any, browser: Any
) -> None:
    server, _url = site
    # A lock answers HTTP 429, which Chromium logs as a console error: the `page` fixture
    # would count that as a fault, so the locked person gets a tab of their own.
    locked, person = _tab(browser)
    admin, tab = _tab(browser)
    try:
        for _ in range(2):
            _sign_in(person, server, "programme_lead@example.org", "a wrong password")
        expect(person.locator(".nhsuk-error-summary")).to_contain_text("too many attempts")
        expect(person).to_have_title(re.compile(r"^Error: "))
        assert_accessible(person)
        _sign_in(tab, server, "admin@example.org", PASSWORD)
        tab.wait_for_url(f"{server.url}/workspace")
        tab.goto(f"{server.url}/workspace/accounts")
        row = tab.locator("tr", has_text="programme_lead@example.org")
        expect(row).to_contain_text("Locked")
        assert_accessible(tab)
        row.get_by_role("button", name="Unlock programme_lead@example.org").click()
        tab.wait_for_url(f"{server.url}/workspace/accounts")
        after = tab.locator("tr", has_text="programme_lead@example.org")
        expect(after).to_contain_text("Can sign in")
    finally:
        locked.close()
        admin.close()
    _sign_in(page, server, "programme_lead@example.org", PASSWORD)
    page.wait_for_url(f"{server.url}/workspace")
