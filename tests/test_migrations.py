"""Migrations and models agree on both engines, and the head is a single line."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from healthycity.core.migrate import alembic_config, current_revision, head_revision
from healthycity.core.registry import load_metadata


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    metadata = load_metadata()
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == [], "models changed without a migration: run scripts/new_migration.py"
    assert current_revision(engine) == head_revision()


def test_one_head_and_linear_history() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None
