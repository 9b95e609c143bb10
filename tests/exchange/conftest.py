"""Fixtures for the exchange's tests: reference data, databases, keys and tokens.

Storage tests run on SQLite and on PostgreSQL. Each PostgreSQL test gets a fresh schema
with a unique name (dropped afterwards), so runs never see each other's rows. Without a
reachable PostgreSQL the PostgreSQL variants are skipped on a developer's machine, and
fail in CI (``CI=true``), where a silent skip would hide a broken engine.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from exchange_support import reference_path
from sqlalchemy import text
from sqlalchemy.engine import Engine

from healthycity.exchange.db import make_engine, upgrade

POSTGRES_URL = os.environ.get(
    "HEALTHYCITY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(autouse=True)
def _audit_checkpoints_per_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test's audit checkpoints go to its own file, never to ./var/audit."""
    from healthycity.exchange.audit import chain

    monkeypatch.setenv(
        "HEALTHYCITY_EXCHANGE_AUDIT_CHECKPOINT_PATH", str(tmp_path / "audit-checkpoints.jsonl")
    )
    chain.configure(None)
    yield
    chain.configure(None)


@pytest.fixture
def reference() -> Path:
    return reference_path()


def _postgres_unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {reason}")


@pytest.fixture(scope="session")
def _postgres_admin() -> Iterator[Engine]:
    engine = make_engine(POSTGRES_URL)
    yield engine
    engine.dispose()


def _postgres_schema_engine(admin: Engine) -> Iterator[Engine]:
    try:
        with admin.connect() as connection:
            connection.execute(text("select 1"))
    except Exception as error:  # any driver/network error means "not reachable"
        _postgres_unavailable(str(error).splitlines()[0])
    schema = f"xt_{uuid.uuid4().hex[:12]}"
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(
        POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"}, pool_size=10
    )
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def _sqlite_engine(directory: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{directory / 'exchange.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(
    request: pytest.FixtureRequest, tmp_path: Path, _postgres_admin: Engine
) -> Iterator[Engine]:
    """A migrated exchange database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield from _sqlite_engine(tmp_path)
    else:
        yield from _postgres_schema_engine(_postgres_admin)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite exchange database, for tests about behaviour, not storage."""
    yield from _sqlite_engine(tmp_path)
