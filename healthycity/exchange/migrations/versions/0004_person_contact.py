"""Town, email and phone on the person index, so an incoming record is compared with a
person on every field the match model knows (the batch linker already used them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("exchange_person", schema=None) as batch_op:
        batch_op.add_column(sa.Column("town", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("email", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("phone", sa.String(length=40), nullable=True))


def downgrade() -> None:
    # In place on both engines (SQLite 3.35+): a batch rebuild of exchange_person would
    # fail, because the grounds triggers of migration 0002 name the table.
    for column in ("phone", "email", "town"):
        op.execute(f"ALTER TABLE exchange_person DROP COLUMN {column}")
