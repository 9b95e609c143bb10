"""Schemathesis against the exchange's OpenAPI: generated requests never cause a 5xx.

The schema is the one FastAPI publishes; requests go over loopback HTTP to a running
exchange with two nodes and a real person, carrying a GP's valid token so generation
reaches past authentication into the federated read.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from exchange_support import ordinary_record, patient
from hypothesis import HealthCheck, settings

from healthycity.exchange.api import create_app
from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.dev.harness import Harness
from healthycity.exchange.identity.nhsnumber import generate_test_numbers
from healthycity.exchange.settings import ExchangeSettings

NUMBER = generate_test_numbers(1, seed=99)[0]
schema = schemathesis.openapi.from_dict(
    create_app(ExchangeSettings(database_url="sqlite://")).openapi()
)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, str]]:
    folder: Path = tmp_path_factory.mktemp("fuzz")
    engine = make_engine(f"sqlite:///{folder / 'exchange.db'}")
    upgrade(engine)
    harness = Harness(
        engine, settings=ExchangeSettings(node_timeout_seconds=1.0, node_health_interval_seconds=0)
    )
    for name in ("a", "b"):
        node = harness.add_node(name)
        node.store.add_all(
            [patient(f"{name}-p", NUMBER, "Fuzz", "Fay"), *ordinary_record(name, f"{name}-p")]
        )
    with harness:
        harness.relate(NUMBER, "gp", "F84001")
        token = harness.issuer.mint(subject="dr-fuzz", role="R8000", organisation="F84001")
        yield harness, token
    engine.dispose()


@schema.parametrize()
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, running: tuple[Harness, str]) -> None:
    harness, token = running
    response = case.call(
        base_url=harness.exchange_url, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])


CONFORMANCE = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
]


@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
def test_responses_conform_to_the_published_schema(
    case: schemathesis.Case, running: tuple[Harness, str]
) -> None:
    """Every status and body the exchange gives is one its OpenAPI describes (issue 13,
    item 9): refusals are documented, and /metadata and $review-queue have real schemas."""
    harness, token = running
    response = case.call(
        base_url=harness.exchange_url, headers={"Authorization": f"Bearer {token}"}
    )
    case.validate_response(response, checks=CONFORMANCE)


def test_the_schema_says_what_is_required_and_what_comes_back() -> None:
    published = create_app(ExchangeSettings(database_url="sqlite://")).openapi()
    observation = published["paths"]["/Observation"]["get"]
    (patient_parameter,) = [p for p in observation["parameters"] if p["name"] == "patient"]
    assert patient_parameter["required"] is True
    metadata = published["paths"]["/metadata"]["get"]["responses"]["200"]
    assert metadata["content"]["application/fhir+json"]["schema"] == {
        "$ref": "#/components/schemas/CapabilityStatement"
    }
    queue = published["paths"]["/$review-queue"]["get"]["responses"]["200"]
    assert "ReviewQueue" in queue["content"]["application/fhir+json"]["schema"]["$ref"]
    for path, item in published["paths"].items():
        if path == "/metadata":
            continue
        for method, operation in item.items():
            assert {"400", "401", "403", "404", "422"} <= set(operation["responses"]), (
                method,
                path,
            )


def test_head_is_answered_wherever_get_is(running: tuple[Harness, str]) -> None:
    import httpx

    harness, token = running
    headers = {"Authorization": f"Bearer {token}"}
    app = create_app(ExchangeSettings(database_url="sqlite://"))
    gets = {r.path for r in app.routes if "GET" in getattr(r, "methods", ())}  # type: ignore[attr-defined]
    assert "/metadata" in gets and "/Patient/{person_id}" in gets
    with httpx.Client(base_url=harness.exchange_url, headers=headers) as client:
        for path in sorted(gets):
            url = path.replace("{person_id}", "nobody").replace("{consent_id}", "nothing")
            url = url.replace("{token}", "x")
            head, get = client.head(url), client.get(url)
            assert head.status_code == get.status_code != 405, (path, head.status_code)
            assert head.content == b""
            assert head.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "path",
    [
        "/Patient/9223372036854775808",
        "/Patient/-1/$everything",
        "/Consent/99999999999999999999999999999999",
        "/Patient/" + "9" * 65 + "/$links",
        "/Patient/" + "9" * 65 + "/$access-log",
        "/Consent/" + "1" * 65,
    ],
)
def test_integer_and_oversized_path_keys_are_404_or_422(
    path: str, running: tuple[Harness, str]
) -> None:
    import httpx

    harness, token = running
    with httpx.Client(base_url=harness.exchange_url) as client:
        response = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code in (403, 404, 422), (path, response.status_code, response.text)


def test_an_empty_jwks_path_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("HEALTHYCITY_EXCHANGE_JWKS_PATH", "")
    with pytest.raises(ValidationError, match="JWKS_PATH is set but empty"):
        ExchangeSettings()
    with pytest.raises(ValidationError, match="names a directory"):
        ExchangeSettings(jwks_path=Path("."))
