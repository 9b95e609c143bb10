"""Issue 13's low findings on the exchange: token lifetimes and claim types, an
oversized Authorization header, response headers, and the API docs setting."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from healthycity.exchange.access.policy import StaticKeys, TokenError, TokenVerifier
from healthycity.exchange.api import create_app
from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.dev.devkeys import DemoIssuer
from healthycity.exchange.settings import ExchangeSettings


@pytest.fixture(scope="module")
def issuer() -> DemoIssuer:
    return DemoIssuer()


def verifier(issuer: DemoIssuer, max_lifetime: int | None = 3600) -> TokenVerifier:
    return TokenVerifier(
        StaticKeys(issuer.jwks()),
        issuer=issuer.issuer,
        audience=issuer.audience,
        max_lifetime=max_lifetime,
    )


def test_a_token_living_longer_than_the_maximum_is_refused(issuer: DemoIssuer) -> None:
    long = issuer.mint(subject="dr-a", role="R8000", organisation="F84001", lifetime=7200)
    with pytest.raises(TokenError, match="longer than 3600"):
        verifier(issuer).verify(long)
    hour = issuer.mint(subject="dr-a", role="R8000", organisation="F84001", lifetime=3600)
    assert verifier(issuer).verify(hour).subject == "dr-a"


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
@pytest.mark.parametrize("value", ["soon", True, None])
def test_time_claims_must_be_numbers(issuer: DemoIssuer, claim: str, value: object) -> None:
    now = int(time.time())
    good = {"exp": now + 600, "iat": now, "nbf": now - 5}
    token = issuer.mint(subject="dr-a", role="R8000", organisation="F84001", **good)
    assert verifier(issuer).verify(token).subject == "dr-a"
    bad = issuer.mint(subject="dr-a", role="R8000", organisation="F84001", **{claim: value})
    with pytest.raises(TokenError):
        verifier(issuer).verify(bad)


def test_the_setting_reaches_the_verifier() -> None:
    assert ExchangeSettings().token_max_lifetime_seconds == 3600


@pytest.fixture
def app_client(tmp_path: Path, issuer: DemoIssuer) -> TestClient:
    engine = make_engine(f"sqlite:///{tmp_path / 'exchange.db'}")
    upgrade(engine)
    settings = ExchangeSettings(node_health_interval_seconds=0)
    app = create_app(settings, engine=engine, verifier=verifier(issuer))
    return TestClient(app)


def test_every_response_is_uncacheable_and_unsniffable(app_client: TestClient) -> None:
    with app_client as client:
        for response in (
            client.get("/metadata"),
            client.get("/Patient/nobody"),  # 401: no token
            client.get("/no-such-route"),
        ):
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["x-content-type-options"] == "nosniff"


def test_an_oversized_authorization_header_is_refused(
    app_client: TestClient, issuer: DemoIssuer
) -> None:
    token = issuer.mint(subject="dr-a", role="R8000", organisation="F84001")
    with app_client as client:
        padded = client.get("/Patient/nobody", headers={"Authorization": "Bearer " + "x" * 9000})
        normal = client.get("/Patient/nobody", headers={"Authorization": f"Bearer {token}"})
    assert padded.status_code == 401 and "too large" in padded.text
    assert normal.status_code == 404


def test_api_docs_are_off_outside_development_unless_asked(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'exchange.db'}")
    production = ExchangeSettings.model_construct(
        **(
            ExchangeSettings().model_dump()
            | {"environment": "production", "audit_key": SecretStr("a9" * 8 + "Zq3-xW7pLm4kR8tY")}
        )
    )
    with TestClient(create_app(production, engine=engine)) as client:
        assert client.get("/openapi.json").status_code == 404
        assert client.get("/docs").status_code == 404
    with TestClient(create_app(ExchangeSettings(), engine=engine)) as client:
        assert client.get("/openapi.json").status_code == 200
    hidden = ExchangeSettings(api_docs=False)
    with TestClient(create_app(hidden, engine=engine)) as client:
        assert client.get("/openapi.json").status_code == 404
