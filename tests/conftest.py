"""Shared fixtures: every storage test runs on SQLite and on PostgreSQL.

PostgreSQL comes from HEALTHYCITY_TEST_POSTGRES_URL (default: the local trust-auth
server). Each test gets its own freshly migrated schema, dropped afterwards. Locally a
missing server skips those tests with the reason; with CI=true it fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from healthycity.core.db import make_engine
from healthycity.core.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
POSTGRES_URL = os.environ.get(
    "HEALTHYCITY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
_PG_SKIP_REASON = "PostgreSQL is not reachable at HEALTHYCITY_TEST_POSTGRES_URL"
_pg_state: dict[str, bool] = {}


def postgres_available() -> bool:
    if "ok" not in _pg_state:
        try:
            engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(text("select 1"))
            engine.dispose()
            _pg_state["ok"] = True
        except Exception:  # noqa: BLE001 - any failure means "not available"
            _pg_state["ok"] = False
    return _pg_state["ok"]


def require_postgres() -> None:
    if postgres_available():
        return
    if IN_CI:
        pytest.fail(f"{_PG_SKIP_REASON}; PostgreSQL tests are mandatory in CI", pytrace=False)
    pytest.skip(_PG_SKIP_REASON)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"shared reference data not found at {SHARED}")
    return SHARED


def _postgres_schema_url() -> Iterator[str]:
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(POSTGRES_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each engine (not migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'healthycity.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """An empty PostgreSQL schema, for tests only PostgreSQL can answer."""
    yield from _postgres_schema_url()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database on each engine."""
    eng = make_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and callspec.params.get("database_url") == "postgres"
        if on_postgres or "postgres_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)


class LiveServer:
    """A real uvicorn server on an ephemeral loopback port, in a background thread."""

    def __init__(self, app: object) -> None:
        import socket
        import threading

        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on")  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self._sock = sock
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]})
        self.thread.daemon = True

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the test server did not start within 10 s")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self._sock.close()
        # Give the app's database connections back now, not whenever the garbage
        # collector reaches the app: PostgreSQL allows 100 clients, and two workers
        # running hundreds of served apps once ran out ("too many clients already").
        state = getattr(self.server.config.app, "state", None)
        version = getattr(state, "data_version", None)
        if version is not None and hasattr(version, "close"):
            version.close()
        engine = getattr(state, "engine", None)
        if engine is not None and hasattr(engine, "dispose"):
            engine.dispose()


# A fixed secret for the test environment, varied enough to pass the entropy rule
# (HEALTHYCITY_SECRET_KEY is refused outside development when it repeats itself).
TEST_SECRET = "tests-only-secret-Zq3xW7pLm4kR8tYb2Nc6"  # noqa: S105


def settings_for(url: str, **overrides: object) -> object:
    from healthycity.core.settings import load_settings

    return load_settings(database_url=url, environment="test", secret_key=TEST_SECRET, **overrides)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """After a PostgreSQL test's fixtures are torn down, collect the apps and engines it
    left unreachable (they hold each other in cycles), closing their pooled connections
    before the next test opens more."""
    if "postgres" in item.nodeid:
        import gc

        gc.collect()
