"""Where each legitimate relationship came from: entered by hand, or read from a node.

Relationships are now derived from the nodes' own records (registered GP practice,
care teams, open referrals, recent encounters; see relationships.py). A refresh must
replace what it derived earlier from one node without touching what someone entered by
hand or what another node said, so every row records its origin: ``manual`` (every row
that exists today) or ``node:<node name>``.

SQLite adds the column in place (no table rebuild), so the grounds-version triggers of
0002 on ``exchange_relationship`` survive the upgrade. Dropping a column rebuilds the
table on SQLite, which drops its triggers, so the downgrade puts them back.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TABLE = "exchange_relationship"
_BUMP = "UPDATE exchange_person SET grounds_version = grounds_version + 1 WHERE id = {row}"

#: The SQLite triggers 0002 created on this table (kept in step with it).
_SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER {_TABLE}_grounds_insert AFTER INSERT ON {_TABLE}
    BEGIN {_BUMP.format(row="NEW.person_id")}; END""",
    f"""CREATE TRIGGER {_TABLE}_grounds_update AFTER UPDATE ON {_TABLE}
    BEGIN {_BUMP.format(row="OLD.person_id")}; {_BUMP.format(row="NEW.person_id")}; END""",
    f"""CREATE TRIGGER {_TABLE}_grounds_delete AFTER DELETE ON {_TABLE}
    BEGIN {_BUMP.format(row="OLD.person_id")}; END""",
)


def upgrade() -> None:
    with op.batch_alter_table(_TABLE, schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=120), nullable=False, server_default="manual")
        )


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for suffix in ("insert", "update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {_TABLE}_grounds_{suffix}")
    with op.batch_alter_table(_TABLE, schema=None) as batch_op:
        batch_op.drop_column("source")
    if sqlite:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
