"""Alembic environment: one metadata for both engines, connection given by migrate.py."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from healthycity.core.registry import load_metadata

config = context.config
target_metadata = load_metadata()


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
        with engine.begin() as connection:
            _run(connection)
    else:
        _run(connection)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
