"""Issue #13 item 11: HSTS behind an HTTPS proxy (a setting, off by default), HEAD answered
wherever GET is, and low-entropy secrets refused outside development."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from healthycity.core import tamper
from healthycity.core.settings import SettingsError, load_settings, secret_problem
from tests.conftest import TEST_SECRET, settings_for
from tests.workspace.helpers import add_people, load_london, url_of


def _client(engine: Engine, base_url: str = "http://testserver", **settings: object) -> TestClient:
    from healthycity.web import app as web_app

    app = web_app.create_app(settings_for(url_of(engine), **settings))  # type: ignore[arg-type]
    return TestClient(app, base_url=base_url)


def test_hsts_is_sent_over_https_only_when_switched_on(engine: Engine) -> None:
    off = _client(engine, "https://testserver")
    assert "strict-transport-security" not in off.get("/health").headers
    on = _client(engine, "https://testserver", hsts_seconds=31536000)
    assert on.get("/health").headers["strict-transport-security"] == "max-age=31536000"
    plain = _client(engine, "http://testserver", hsts_seconds=31536000)
    assert "strict-transport-security" not in plain.get("/health").headers
    both = _client(engine, "https://testserver", hsts_seconds=600, hsts_include_subdomains=True)
    assert (
        both.get("/workspace/sign-in").headers["strict-transport-security"]
        == "max-age=600; includeSubDomains"
    )


def test_hsts_follows_the_proxy_scheme_uvicorn_trusts(engine: Engine) -> None:
    """Behind a proxy uvicorn rewrites the scheme from X-Forwarded-Proto (when the proxy's
    address is in FORWARDED_ALLOW_IPS); the header follows the scheme it sets."""
    import asyncio

    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    from healthycity.web import app as web_app

    app = web_app.create_app(settings_for(url_of(engine), hsts_seconds=86400))  # type: ignore[arg-type]
    proxied = ProxyHeadersMiddleware(app, trusted_hosts="127.0.0.1")  # type: ignore[arg-type]

    def headers_for(client_host: str) -> dict[str, str]:
        sent: list[dict[str, object]] = []

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": "/health",
            "raw_path": b"/health",
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"example.org"), (b"x-forwarded-proto", b"https")],
            "client": (client_host, 5000),
            "server": ("127.0.0.1", 8000),
        }
        asyncio.run(proxied(scope, receive, send))  # type: ignore[arg-type]
        start = next(m for m in sent if m["type"] == "http.response.start")
        return {bytes(k).decode(): bytes(v).decode() for k, v in start["headers"]}  # type: ignore[attr-defined]

    assert headers_for("127.0.0.1")["strict-transport-security"] == "max-age=86400"
    # An untrusted client cannot claim HTTPS for itself.
    assert "strict-transport-security" not in headers_for("203.0.113.9")


def test_head_is_answered_wherever_get_is(engine: Engine) -> None:
    load_london(engine)
    tokens = add_people(engine)
    client = _client(engine)
    bearer = {"Authorization": f"Bearer {tokens['viewer']}"}
    for path, headers in (
        ("/health", {}),
        ("/workspace/sign-in", {}),
        ("/programmes", {}),
        ("/api/v1/programmes", bearer),
        ("/workspace/programmes/cancer", bearer),
        ("/workspace", bearer),
    ):
        got = client.get(path, headers=headers)
        head = client.head(path, headers=headers)
        assert got.status_code == 200, (path, got.status_code)
        assert head.status_code == 200, (path, head.status_code)
        assert head.content == b""
        assert head.headers["content-type"] == got.headers["content-type"]
        assert "content-security-policy" in head.headers
    # HEAD is not a way round sign-in: it answers as GET does.
    assert client.head("/api/v1/programmes").status_code == 401
    assert client.head("/no-such-page").status_code == 404
    # A route with no GET still refuses HEAD.
    assert client.head("/api/v1/import/programmes").status_code == 405


@pytest.mark.parametrize(
    "secret",
    [
        "a" * 32,
        "a" * 64,
        "ab" * 24,
        "abcd" * 10,
        "0123456789" * 4,
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
    ],
)
def test_low_entropy_secrets_are_refused_outside_development(secret: str) -> None:
    assert secret_problem(secret, "HEALTHYCITY_SECRET_KEY") is not None
    for environment in ("test", "production"):
        with pytest.raises(SettingsError, match="HEALTHYCITY_SECRET_KEY"):
            load_settings(environment=environment, secret_key=secret)
    with pytest.raises(tamper.AuditKeyError, match="HEALTHYCITY_AUDIT_KEY"):
        tamper.resolve_key(secret, environment="production", setting="HEALTHYCITY_AUDIT_KEY")
    # Development keeps working with anything, as before.
    assert load_settings(environment="development", secret_key=secret).secret_key == secret


def test_random_secrets_pass_the_entropy_rule() -> None:
    import secrets

    for _ in range(200):
        for value in (secrets.token_hex(16), secrets.token_hex(32), secrets.token_urlsafe(32)):
            assert secret_problem(value, "S") is None, value
    assert secret_problem(TEST_SECRET, "S") is None
    message = secret_problem("a" * 40, "HEALTHYCITY_SECRET_KEY")
    assert message is not None and "entropy" in message


def test_an_empty_jwks_path_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from healthycity.exchange.settings import ExchangeSettings

    monkeypatch.setenv("HEALTHYCITY_EXCHANGE_JWKS_PATH", "")
    with pytest.raises(ValidationError, match="JWKS_PATH is set but empty"):
        ExchangeSettings()
