"""estates hand sites: sites ERIC does not cover, entered by hand (GP premises, NHSPS, CHP)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "estates_hand_site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("ods_code", sa.String(length=10), nullable=True),
        sa.Column("holder", sa.String(length=300), nullable=True),
        sa.Column("tenure", sa.String(length=40), nullable=True),
        sa.Column("address", sa.String(length=500), nullable=True),
        sa.Column("postcode", sa.String(length=10), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("subregion", sa.String(length=8), nullable=False),
        sa.Column("gia_m2", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_estates_hand_site")),
    )
    with op.batch_alter_table("estates_hand_site", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_estates_hand_site_subregion"), ["subregion"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("estates_hand_site", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_estates_hand_site_subregion"))
    op.drop_table("estates_hand_site")
