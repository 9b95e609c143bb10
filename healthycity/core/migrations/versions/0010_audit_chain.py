"""audit chain: the workspace trail becomes a keyed chain (core.tamper)

Each new audit record gets a chain position and an HMAC (the key is a setting, never
stored here); ``audit_chain_head`` names the newest link and serialises writers.
Records written before this migration keep ``seq`` NULL: they are sealed by count and
digest in every checkpoint, the first of which ``healthycity audit checkpoint`` writes
(docs/decisions/0016-tamper-evident-audit.md). PostgreSQL also refuses TRUNCATE of the
trail and its head; both engines refuse deleting the head.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Columns are added in place, not by a batch rebuild: on SQLite a rebuild would
    # drop the append-only triggers.
    op.add_column("audit_record", sa.Column("seq", _BIG, nullable=True))
    op.add_column("audit_record", sa.Column("prev_mac", sa.String(length=64), nullable=True))
    op.add_column("audit_record", sa.Column("mac", sa.String(length=64), nullable=True))
    op.create_index("ix_audit_record_seq", "audit_record", ["seq"], unique=True)
    head = op.create_table(
        "audit_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", _BIG, nullable=False),
        sa.Column("mac", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "mac": GENESIS}])
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE ON audit_chain_head "
            "BEGIN SELECT RAISE(ABORT, 'the audit chain head cannot be deleted'); END"
        )
    else:
        op.execute(
            "CREATE TRIGGER audit_chain_head_no_delete BEFORE DELETE OR TRUNCATE "
            "ON audit_chain_head FOR EACH STATEMENT EXECUTE FUNCTION audit_record_append_only()"
        )
        op.execute(
            "CREATE TRIGGER audit_record_no_truncate BEFORE TRUNCATE ON audit_record "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_record_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_no_delete")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_chain_head_no_delete ON audit_chain_head")
        op.execute("DROP TRIGGER IF EXISTS audit_record_no_truncate ON audit_record")
    op.drop_table("audit_chain_head")
    op.drop_index("ix_audit_record_seq", table_name="audit_record")
    for column in ("mac", "prev_mac", "seq"):  # in place (SQLite 3.35+), keeping triggers
        op.execute(f"ALTER TABLE audit_record DROP COLUMN {column}")
