"""A version number on each person that moves whenever their grounds for access change.

A federated read decides on the person's grounds (relationships, break-glass grants,
consents, record links) twice: before the nodes are asked and again, in the audit's
transaction, after they answer. Re-reading every table the second time cost more than
the rest of the request; comparing one number costs one indexed read. Triggers, not
application code, move the number, so no write path (a migration, a console session, a
future module) can change the grounds without the readers noticing.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

#: The tables whose rows are grounds for access, each with its ``person_id`` column.
GROUNDS_TABLES = (
    "exchange_consent",
    "exchange_relationship",
    "exchange_break_glass",
    "exchange_person_link",
)

_BUMP = "UPDATE exchange_person SET grounds_version = grounds_version + 1 WHERE id = {row}"


def _sqlite_triggers(table: str) -> list[str]:
    return [
        f"""CREATE TRIGGER {table}_grounds_insert AFTER INSERT ON {table}
        BEGIN {_BUMP.format(row="NEW.person_id")}; END""",
        f"""CREATE TRIGGER {table}_grounds_update AFTER UPDATE ON {table}
        BEGIN {_BUMP.format(row="OLD.person_id")}; {_BUMP.format(row="NEW.person_id")}; END""",
        f"""CREATE TRIGGER {table}_grounds_delete AFTER DELETE ON {table}
        BEGIN {_BUMP.format(row="OLD.person_id")}; END""",
    ]


_POSTGRES_FUNCTION = """CREATE FUNCTION exchange_grounds_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE exchange_person SET grounds_version = grounds_version + 1
        WHERE id = OLD.person_id;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        UPDATE exchange_person SET grounds_version = grounds_version + 1
        WHERE id = NEW.person_id;
    END IF;
    RETURN NULL;
END $$"""


def upgrade() -> None:
    with op.batch_alter_table("exchange_person", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("grounds_version", sa.Integer(), nullable=False, server_default="0")
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_POSTGRES_FUNCTION)
        for table in GROUNDS_TABLES:
            op.execute(
                f"""CREATE TRIGGER {table}_grounds AFTER INSERT OR UPDATE OR DELETE
                ON {table} FOR EACH ROW EXECUTE FUNCTION exchange_grounds_changed()"""
            )
    else:
        for table in GROUNDS_TABLES:
            for statement in _sqlite_triggers(table):
                op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in GROUNDS_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_grounds ON {table}")
        op.execute("DROP FUNCTION IF EXISTS exchange_grounds_changed()")
    else:
        for table in GROUNDS_TABLES:
            for suffix in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_grounds_{suffix}")
    with op.batch_alter_table("exchange_person", schema=None) as batch_op:
        batch_op.drop_column("grounds_version")
