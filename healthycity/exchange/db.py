"""The exchange's own database: declarative base, engines, transactions and migrations.

The exchange keeps patient-identifiable data, so it never shares a ``MetaData`` (or a
migration history) with the partnership database: a migration or a query written for the
public side cannot touch these tables. Its Alembic history lives in
``healthycity/exchange/migrations/`` and records itself in ``exchange_alembic_version``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

VERSION_TABLE = "exchange_alembic_version"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")


class ExchangeBase(DeclarativeBase):
    """Declarative base for the exchange's tables only."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions start (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Concurrent requests each append to the audit chain; wait for the writer, don't fail.
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


_BEGIN_OPTION = "healthycity_sqlite_begin"


def _sqlite_begin(connection: Any) -> None:
    """Start SQLite transactions as IMMEDIATE (take the write lock up front), except
    those opened by :func:`read_transaction`.

    Appending to the audit chain reads the chain head and then writes after it. Under
    SQLite's default deferred transactions a concurrent writer can commit in between,
    and the upgrade from reader to writer then fails outright instead of waiting. Taking
    the lock first makes writers queue (up to busy_timeout) and keeps the chain linear.
    Every transaction is short (the slow part of a request, the fan-out to the nodes,
    runs outside any transaction), so the serialisation costs little. Reads that write
    nothing start DEFERRED and so never wait for, or hold up, a writer (WAL).
    """
    mode = connection.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys, WAL and a busy timeout."""
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back everything on any error."""
    with session_factory(engine)() as session, session.begin():
        yield session


@contextmanager
def read_transaction(engine: Engine) -> Iterator[Session]:
    """A unit of work that only reads: one consistent snapshot, rolled back at the end.

    On SQLite it does not take the write lock, so readers run alongside the writer.
    """
    with session_factory(engine)() as session:
        session.connection(execution_options={_BEGIN_OPTION: "DEFERRED"})
        try:
            yield session
        finally:
            session.rollback()


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
