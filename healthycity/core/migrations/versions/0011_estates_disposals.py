"""estates disposals: the devolution MoU's disposals pipeline and its dated stages

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "estates_disposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("org_code", sa.String(length=10), nullable=True),
        sa.Column("site_code", sa.String(length=12), nullable=True),
        sa.Column("site_description", sa.String(length=500), nullable=True),
        sa.Column("subregion", sa.String(length=8), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("forum", sa.String(length=30), nullable=True),
        sa.Column("expected_receipt", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("actual_receipt", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("homes_enabled", sa.Integer(), nullable=True),
        sa.Column("expected_completion", sa.Date(), nullable=True),
        sa.Column("withdrawn_reason", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_estates_disposal")),
    )
    with op.batch_alter_table("estates_disposal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_estates_disposal_subregion"), ["subregion"], unique=False
        )

    op.create_table(
        "estates_disposal_stage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("disposal_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("reached_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["disposal_id"],
            ["estates_disposal.id"],
            name=op.f("fk_estates_disposal_stage_disposal_id_estates_disposal"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_estates_disposal_stage")),
    )
    with op.batch_alter_table("estates_disposal_stage", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_estates_disposal_stage_disposal_id"), ["disposal_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("estates_disposal_stage", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_estates_disposal_stage_disposal_id"))
    op.drop_table("estates_disposal_stage")
    with op.batch_alter_table("estates_disposal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_estates_disposal_subregion"))
    op.drop_table("estates_disposal")
