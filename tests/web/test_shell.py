"""The web shell over real HTTP: status, pages, headers, errors."""

from __future__ import annotations

import httpx
from sqlalchemy.engine import Engine

from healthycity.core.migrate import head_revision
from healthycity.web.app import create_app
from tests.conftest import LiveServer, settings_for


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_health_reports_database_and_migration(engine: Engine) -> None:
    app = create_app(settings_for(_url(engine)))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        response = httpx.get(f"{server.url}/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["database"]["migration"] == head_revision()
    assert body["database"]["engine"] == engine.dialect.name


def test_health_degraded_on_unmigrated_database(database_url: str) -> None:
    app = create_app(settings_for(database_url))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        response = httpx.get(f"{server.url}/health")
    assert response.status_code == 503
    assert response.json()["database"]["ok"] is False


def test_pages_have_landmarks_title_and_security_headers(engine: Engine) -> None:
    app = create_app(settings_for(_url(engine)))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        home = httpx.get(f"{server.url}/")
        statement = httpx.get(f"{server.url}/accessibility")
        missing = httpx.get(f"{server.url}/no-such-page")
    assert home.status_code == 200
    html = home.text
    assert "<title>Home – healthycity</title>" in html
    assert 'href="#maincontent"' in html and 'id="maincontent"' in html
    assert "<header" in html and "<footer" in html and "<main" in html
    assert html.count("<h1") == 1
    assert "nonce-" in home.headers["content-security-policy"]
    assert home.headers["x-content-type-options"] == "nosniff"
    assert statement.status_code == 200 and "Accessibility statement" in statement.text
    assert missing.status_code == 404 and "Page not found – healthycity" in missing.text
