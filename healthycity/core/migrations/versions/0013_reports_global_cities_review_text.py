"""reports: global city figures and the annual review's foreword and commentary

Revision ID: 0013
Revises: 0011 (0013 was the number assigned; when 0012 lands, point down_revision at it)
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "global_city_figure",
        sa.Column("city", sa.String(length=120), nullable=False),
        sa.Column("measure", sa.String(length=80), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("country", sa.String(length=120), nullable=False),
        sa.Column("measure_name", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Numeric(precision=14, scale=4), nullable=True),
        sa.Column("unit", sa.String(length=120), nullable=False),
        sa.Column("geography", sa.String(length=20), nullable=False),
        sa.Column("standardisation", sa.String(length=20), nullable=False),
        sa.Column("collection", sa.String(length=20), nullable=False),
        sa.Column("source_title", sa.String(length=300), nullable=False),
        sa.Column("source_url", sa.String(length=500), nullable=False),
        sa.Column("retrieved", sa.String(length=10), nullable=False),
        sa.Column("caveat", sa.Text(), nullable=True),
        sa.Column("pack_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("city", "measure", "year", name=op.f("pk_global_city_figure")),
    )
    op.create_table(
        "review_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("written_by", sa.String(length=254), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_text")),
        sa.UniqueConstraint(
            "year", "kind", "version", name=op.f("uq_review_text_year_kind_version")
        ),
    )
    with op.batch_alter_table("review_text", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_text_year"), ["year"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_text", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_text_year"))

    op.drop_table("review_text")
    op.drop_table("global_city_figure")
