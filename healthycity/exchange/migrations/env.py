"""Alembic environment for the exchange's own schema (never the partnership's).

Run through :func:`healthycity.exchange.db.upgrade`, which hands over a live connection
so that a caller's connection settings (a PostgreSQL ``search_path``) are honoured.
"""

from __future__ import annotations

from alembic import context

import healthycity.exchange.models  # noqa: F401  (registers the tables on the metadata)
from healthycity.exchange.db import VERSION_TABLE, ExchangeBase, make_engine

config = context.config


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=ExchangeBase.metadata,
        version_table=VERSION_TABLE,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url for the exchange migrations")
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("the exchange migrations run online only (see db.upgrade)")
run_migrations_online()
