"""portfolio: forum meetings and decisions; fund grants gain recipient, date, purpose,
status and a private note

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forum_meeting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("forum_slug", sa.String(length=100), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("papers", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_meeting")),
    )
    with op.batch_alter_table("forum_meeting", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_forum_meeting_forum_slug"), ["forum_slug"], unique=False
        )
    op.create_table(
        "forum_decision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("forum_slug", sa.String(length=100), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=300), nullable=False),
        sa.Column("programmes", sa.JSON(), nullable=False),
        sa.Column("pledges", sa.JSON(), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["forum_meeting.id"],
            name=op.f("fk_forum_decision_meeting_id_forum_meeting"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forum_decision")),
    )
    with op.batch_alter_table("forum_decision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_forum_decision_forum_slug"), ["forum_slug"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_forum_decision_meeting_id"), ["meeting_id"], unique=False
        )
    with op.batch_alter_table("fund_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_name", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("awarded_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("purpose", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("status", sa.String(length=20), server_default="approved", nullable=False)
        )
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("fund_grant", schema=None) as batch_op:
        batch_op.drop_column("note")
        batch_op.drop_column("status")
        batch_op.drop_column("purpose")
        batch_op.drop_column("awarded_on")
        batch_op.drop_column("recipient_name")
    with op.batch_alter_table("forum_decision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forum_decision_meeting_id"))
        batch_op.drop_index(batch_op.f("ix_forum_decision_forum_slug"))
    op.drop_table("forum_decision")
    with op.batch_alter_table("forum_meeting", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_forum_meeting_forum_slug"))
    op.drop_table("forum_meeting")
