"""engagement: co-produced indicator proposals and votes, notification subscribers,
what each rate-limited attempt was, and whether a consultation invites proposals

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 18:14:02.070404
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "engagement_indicator_proposal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("about", sa.String(length=120), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("moderation", sa.String(length=20), nullable=False),
        sa.Column("moderation_reason", sa.Text(), nullable=True),
        sa.Column("decision", sa.String(length=30), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=254), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["engagement_consultation.id"],
            name=op.f("fk_engagement_indicator_proposal_consultation_id_engagement_consultation"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_indicator_proposal")),
    )
    with op.batch_alter_table("engagement_indicator_proposal", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_engagement_indicator_proposal_about"), ["about"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_engagement_indicator_proposal_consultation_id"),
            ["consultation_id"],
            unique=False,
        )

    op.create_table(
        "engagement_proposal_vote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.Integer(), nullable=False),
        sa.Column("vote", sa.String(length=10), nullable=False),
        sa.Column("voter_hash", sa.String(length=64), nullable=False),
        sa.Column("voted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["engagement_indicator_proposal.id"],
            name=op.f("fk_engagement_proposal_vote_proposal_id_engagement_indicator_proposal"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_proposal_vote")),
        sa.UniqueConstraint(
            "proposal_id",
            "voter_hash",
            name=op.f("uq_engagement_proposal_vote_proposal_id_voter_hash"),
        ),
    )
    with op.batch_alter_table("engagement_proposal_vote", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_engagement_proposal_vote_proposal_id"), ["proposal_id"], unique=False
        )

    op.create_table(
        "engagement_subscriber",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consultation_id", sa.Integer(), nullable=False),
        sa.Column("response_id", sa.Integer(), nullable=False),
        sa.Column("email_encrypted", sa.Text(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consultation_id"],
            ["engagement_consultation.id"],
            name=op.f("fk_engagement_subscriber_consultation_id_engagement_consultation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["engagement_response.id"],
            name=op.f("fk_engagement_subscriber_response_id_engagement_response"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_engagement_subscriber")),
        sa.UniqueConstraint("response_id", name=op.f("uq_engagement_subscriber_response_id")),
    )
    with op.batch_alter_table("engagement_subscriber", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_engagement_subscriber_consultation_id"),
            ["consultation_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_engagement_subscriber_email_hash"), ["email_hash"], unique=False
        )

    with op.batch_alter_table("engagement_attempt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="answer", nullable=False)
        )

    with op.batch_alter_table("engagement_consultation", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("co_production", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("engagement_consultation", schema=None) as batch_op:
        batch_op.drop_column("co_production")

    with op.batch_alter_table("engagement_attempt", schema=None) as batch_op:
        batch_op.drop_column("kind")

    with op.batch_alter_table("engagement_subscriber", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engagement_subscriber_email_hash"))
        batch_op.drop_index(batch_op.f("ix_engagement_subscriber_consultation_id"))

    op.drop_table("engagement_subscriber")
    with op.batch_alter_table("engagement_proposal_vote", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engagement_proposal_vote_proposal_id"))

    op.drop_table("engagement_proposal_vote")
    with op.batch_alter_table("engagement_indicator_proposal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_engagement_indicator_proposal_consultation_id"))
        batch_op.drop_index(batch_op.f("ix_engagement_indicator_proposal_about"))

    op.drop_table("engagement_indicator_proposal")
