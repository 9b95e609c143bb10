"""Database plumbing shared by every module: one declarative base, engines, sessions.

The product runs on the embedded SQLite file by default and on PostgreSQL in
production; the same models and migrations serve both (docs/decisions/0002-storage.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import MetaData, Numeric, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names, so Alembic migrations are the same on both engines.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# Money in every table: pounds and pence as Decimal, never float, so totals add up exactly.
Money = Numeric(14, 2)


class Base(DeclarativeBase):
    """Declarative base for every table of the partnership database (not the exchange's)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


_BEGIN_OPTION = "healthycity_sqlite_begin"


def _sqlite_options(busy_timeout_ms: int | None, immediate_writes: bool) -> Any:
    """A connect hook for the optional SQLite settings of :func:`make_engine`."""

    def connect(dbapi_connection: Any, _record: Any) -> None:
        if immediate_writes:
            # Let SQLAlchemy, not the driver, decide when transactions start (_sqlite_begin).
            dbapi_connection.isolation_level = None
        if busy_timeout_ms is not None:
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.close()

    return connect


def _sqlite_begin(connection: Any) -> None:
    """Start SQLite transactions as IMMEDIATE (take the write lock up front), except
    those opened by :func:`read_transaction`.

    A transaction that reads and then writes (appending to a hash chain reads the head,
    then writes after it) fails outright under SQLite's default deferred transactions
    when a concurrent writer commits in between, instead of waiting. Taking the lock
    first makes writers queue (up to the busy timeout). Reads that write nothing start
    DEFERRED and so never wait for, or hold up, a writer (WAL).
    """
    mode = connection.get_execution_options().get(_BEGIN_OPTION, "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {'DEFERRED' if mode == 'DEFERRED' else 'IMMEDIATE'}")


def make_engine(
    url: str,
    *,
    busy_timeout_ms: int | None = None,
    immediate_writes: bool = False,
    **kwargs: Any,
) -> Engine:
    """Create an engine; SQLite gets foreign keys and WAL, and its folder is created.

    Two options change SQLite only: ``busy_timeout_ms`` makes a connection wait that
    long for another writer instead of failing, and ``immediate_writes`` starts every
    transaction as ``BEGIN IMMEDIATE`` except those of :func:`read_transaction`.
    """
    if url.startswith("sqlite"):
        from pathlib import Path

        from sqlalchemy.engine import make_url

        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        if busy_timeout_ms is not None or immediate_writes:
            event.listen(engine, "connect", _sqlite_options(busy_timeout_ms, immediate_writes))
        if immediate_writes:
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

    On an engine made with ``immediate_writes`` it does not take SQLite's write lock, so
    readers run alongside the writer.
    """
    with session_factory(engine)() as session:
        session.connection(execution_options={_BEGIN_OPTION: "DEFERRED"})
        try:
            yield session
        finally:
            session.rollback()
