"""Alembic, driven from code: `db upgrade`, the head check of /health, first-run set-up.

Migrations live in healthycity/core/migrations and are written for both engines.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class DatabaseNotReady(RuntimeError):
    """The database is not at the code's migration head."""


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    return heads[0] if len(heads) == 1 else ",".join(sorted(heads))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind ``engine`` to ``revision`` in one transaction."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def ensure_ready(engine: Engine) -> None:
    """Create and migrate a new or old embedded SQLite file; refuse a stale PostgreSQL.

    The embedded database belongs to this process, so migrating it is safe. A shared
    PostgreSQL is migrated only on purpose, with `healthycity db upgrade`.
    """
    if current_revision(engine) == head_revision():
        return
    if engine.dialect.name == "sqlite":
        upgrade(engine)
        return
    raise DatabaseNotReady(
        f"the database at {engine.url.render_as_string(hide_password=True)} is not at "
        f"migration {head_revision()}; run `healthycity db upgrade` first"
    )
