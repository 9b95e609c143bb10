"""Every version of every Consent is kept, so ``Consent/{id}/_history/{vid}`` answers.

A Consent's status moves (superseded, withdrawn, reinstated) and each move is a new
version; until now only the latest was stored, so the ``Location`` a create returned
(``_history/1``) stopped resolving at the first move. Existing Consents get their
current version copied in; earlier versions of them were never kept and stay unknown.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_consent_version",
        sa.Column(
            "consent_id",
            sa.Integer(),
            sa.ForeignKey("exchange_consent.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("resource", sa.JSON(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consent_id", "version"),
    )
    connection = op.get_bind()
    consents = sa.table(
        "exchange_consent",
        sa.column("id", sa.Integer()),
        sa.column("resource", sa.JSON()),
        sa.column("recorded_at", sa.DateTime(timezone=True)),
    )
    rows = connection.execute(
        sa.select(consents.c.id, consents.c.resource, consents.c.recorded_at)
    ).all()
    table = sa.table(
        "exchange_consent_version",
        sa.column("consent_id", sa.Integer()),
        sa.column("version", sa.Integer()),
        sa.column("resource", sa.JSON()),
        sa.column("recorded_at", sa.DateTime(timezone=True)),
    )
    copies = []
    for consent_id, resource, recorded_at in rows:
        body = json.loads(resource) if isinstance(resource, str) else dict(resource or {})
        raw = str((body.get("meta") or {}).get("versionId") or "1")
        version = int(raw) if raw.isdigit() else 1
        copies.append(
            {
                "consent_id": consent_id,
                "version": version,
                "resource": body,
                "recorded_at": recorded_at,
            }
        )
    if copies:
        op.bulk_insert(table, copies)


def downgrade() -> None:
    op.drop_table("exchange_consent_version")
