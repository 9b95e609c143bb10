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
