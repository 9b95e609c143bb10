"""The exchange's own database: its declarative base, engine settings and migrations.

The exchange keeps patient-identifiable data, so it never shares a ``MetaData`` (or a
migration history) with the partnership database: a migration or a query written for the
public side cannot touch these tables. Its Alembic history lives in
``healthycity/exchange/migrations/`` and records itself in ``exchange_alembic_version``.
Sessions and transactions are core's (:mod:`healthycity.core.db`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

from healthycity.core.db import NAMING_CONVENTION
from healthycity.core.db import make_engine as core_make_engine

VERSION_TABLE = "exchange_alembic_version"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: How long a SQLite connection waits for the writer: concurrent requests each append
#: to the audit chain, and should queue for it, not fail.
BUSY_TIMEOUT_MS = 10_000


class ExchangeBase(DeclarativeBase):
    """Declarative base for the exchange's tables only."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for the exchange's database: core's, and on SQLite a busy timeout and
    writing transactions that take the write lock up front.

    Appending to the audit chain reads the chain head and then writes after it; taking
    the lock first keeps the chain linear under concurrent requests. Every transaction
    is short (the fan-out to the nodes runs outside any), so the serialisation costs
    little, and :func:`healthycity.core.db.read_transaction` never takes the lock.
    """
    return core_make_engine(url, busy_timeout_ms=BUSY_TIMEOUT_MS, immediate_writes=True, **kwargs)


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Bring the exchange schema up to ``revision`` (default: the newest).

    Accepts an engine as well as a URL so that callers which configure the connection
    (a PostgreSQL ``search_path``, a test schema) migrate exactly what they will use.
    """
    from alembic import command
    from alembic.config import Config

    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def head_revision() -> str:
    """The newest revision in the exchange's migration history."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    if head is None:
        raise RuntimeError("the exchange has no migrations")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None if it was never migrated."""
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        return context.get_current_revision()
