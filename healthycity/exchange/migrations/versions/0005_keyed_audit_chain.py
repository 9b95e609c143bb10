"""The audit chain becomes keyed: HMAC-SHA256 under a key outside the database, with
signed checkpoints outside it too (core.tamper).

Existing rows keep their unkeyed SHA-256 links; ``legacy_until`` records where they end
and the first checkpoint (written when the exchange starts, or by ``exchange audit
checkpoint``) seals that boundary. PostgreSQL also refuses TRUNCATE of the head row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Not a batch operation: rebuilding the table on SQLite would drop its trigger.
    op.add_column(
        "exchange_audit_head",
        sa.Column("legacy_until", sa.Integer(), nullable=False, server_default="0"),
    )
    op.execute("UPDATE exchange_audit_head SET legacy_until = seq")
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "CREATE TRIGGER exchange_audit_head_no_truncate BEFORE TRUNCATE "
            "ON exchange_audit_head FOR EACH STATEMENT EXECUTE FUNCTION exchange_audit_refuse()"
        )


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS exchange_audit_head_no_truncate ON exchange_audit_head")
    op.execute("ALTER TABLE exchange_audit_head DROP COLUMN legacy_until")  # in place
