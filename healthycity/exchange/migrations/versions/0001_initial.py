"""The initial exchange schema: nodes, identity, grounds for access, and the audit chain.

The audit table is append-only at the database too: triggers refuse UPDATE and DELETE on
it (and DELETE on the chain head), so that an application bug cannot rewrite history.
The hash chain is what detects anyone who goes around the triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: The ``prev_hash`` of the first audit row (kept in step with audit.GENESIS_HASH).
GENESIS_HASH = "0" * 64

_SQLITE_GUARDS = (
    """CREATE TRIGGER exchange_audit_event_no_update BEFORE UPDATE ON exchange_audit_event
    BEGIN SELECT RAISE(ABORT, 'exchange_audit_event is append-only'); END""",
    """CREATE TRIGGER exchange_audit_event_no_delete BEFORE DELETE ON exchange_audit_event
    BEGIN SELECT RAISE(ABORT, 'exchange_audit_event is append-only'); END""",
    """CREATE TRIGGER exchange_audit_head_no_delete BEFORE DELETE ON exchange_audit_head
    BEGIN SELECT RAISE(ABORT, 'exchange_audit_head cannot be deleted'); END""",
)

_POSTGRES_GUARDS = (
    """CREATE FUNCTION exchange_audit_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN RAISE EXCEPTION '% on % is refused: the audit log is append-only', TG_OP, TG_TABLE_NAME;
    END $$""",
    """CREATE TRIGGER exchange_audit_event_append_only BEFORE UPDATE OR DELETE
    ON exchange_audit_event FOR EACH ROW EXECUTE FUNCTION exchange_audit_refuse()""",
    """CREATE TRIGGER exchange_audit_event_no_truncate BEFORE TRUNCATE
    ON exchange_audit_event FOR EACH STATEMENT EXECUTE FUNCTION exchange_audit_refuse()""",
    """CREATE TRIGGER exchange_audit_head_no_delete BEFORE DELETE
    ON exchange_audit_head FOR EACH ROW EXECUTE FUNCTION exchange_audit_refuse()""",
)


def _create_append_only_guards() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"sqlite": _SQLITE_GUARDS, "postgresql": _POSTGRES_GUARDS}.get(dialect, ())
    for statement in statements:
        op.execute(statement)


def _drop_append_only_guards() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in (
            "exchange_audit_event_no_update",
            "exchange_audit_event_no_delete",
            "exchange_audit_head_no_delete",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        op.execute(
            "DROP TRIGGER IF EXISTS exchange_audit_event_append_only ON exchange_audit_event"
        )
        op.execute(
            "DROP TRIGGER IF EXISTS exchange_audit_event_no_truncate ON exchange_audit_event"
        )
        op.execute("DROP TRIGGER IF EXISTS exchange_audit_head_no_delete ON exchange_audit_head")
        op.execute("DROP FUNCTION IF EXISTS exchange_audit_refuse()")


def upgrade() -> None:
    op.create_table(
        "exchange_alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_alert")),
    )
    op.create_table(
        "exchange_audit_event",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("recorded", sa.String(length=40), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=True),
        sa.Column("agent_subject", sa.String(length=200), nullable=False),
        sa.Column("agent_role", sa.String(length=40), nullable=False),
        sa.Column("agent_organisation", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("outcome", sa.String(length=2), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_exchange_audit_event")),
    )
    with op.batch_alter_table("exchange_audit_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_audit_event_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "exchange_audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_audit_head")),
    )
    op.create_table(
        "exchange_node",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=False),
        sa.Column("sub_region", sa.String(length=100), nullable=False),
        sa.Column("credential_env", sa.String(length=200), nullable=True),
        sa.Column("timeout_seconds", sa.Float(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_node")),
        sa.UniqueConstraint("name", name=op.f("uq_exchange_node_name")),
    )
    op.create_table(
        "exchange_person",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("nhs_number", sa.String(length=10), nullable=True),
        sa.Column("given_name", sa.String(length=200), nullable=True),
        sa.Column("family_name", sa.String(length=200), nullable=True),
        sa.Column("family_key", sa.String(length=200), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("sex", sa.String(length=20), nullable=True),
        sa.Column("postcode", sa.String(length=16), nullable=True),
        sa.Column("address_line", sa.String(length=300), nullable=True),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_person")),
        sa.UniqueConstraint("nhs_number", name=op.f("uq_exchange_person_nhs_number")),
    )
    with op.batch_alter_table("exchange_person", schema=None) as batch_op:
        batch_op.create_index(
            "ix_exchange_person_family_birth", ["family_key", "birth_date"], unique=False
        )

    op.create_table(
        "exchange_break_glass",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("organisation", sa.String(length=20), nullable=True),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["exchange_person.id"],
            name=op.f("fk_exchange_break_glass_person_id_exchange_person"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_break_glass")),
    )
    with op.batch_alter_table("exchange_break_glass", schema=None) as batch_op:
        batch_op.create_index(
            "ix_exchange_break_glass_subject_person", ["subject", "person_id"], unique=False
        )

    op.create_table(
        "exchange_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("resource", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["exchange_person.id"],
            name=op.f("fk_exchange_consent_person_id_exchange_person"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_consent")),
    )
    with op.batch_alter_table("exchange_consent", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_consent_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "exchange_person_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("local_id", sa.String(length=200), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("probability", sa.Float(), nullable=True),
        sa.Column("demographics", sa.JSON(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("linked_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["exchange_node.id"],
            name=op.f("fk_exchange_person_link_node_id_exchange_node"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["exchange_person.id"],
            name=op.f("fk_exchange_person_link_person_id_exchange_person"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_person_link")),
        sa.UniqueConstraint(
            "node_id", "local_id", name=op.f("uq_exchange_person_link_node_id_local_id")
        ),
    )
    with op.batch_alter_table("exchange_person_link", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_person_link_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "exchange_relationship",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("organisation", sa.String(length=20), nullable=True),
        sa.Column("practitioner", sa.String(length=200), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["exchange_person.id"],
            name=op.f("fk_exchange_relationship_person_id_exchange_person"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_relationship")),
    )
    with op.batch_alter_table("exchange_relationship", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_relationship_person_id"), ["person_id"], unique=False
        )

    op.create_table(
        "exchange_review_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("local_id", sa.String(length=200), nullable=False),
        sa.Column("candidate_person_id", sa.String(length=36), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["candidate_person_id"],
            ["exchange_person.id"],
            name=op.f("fk_exchange_review_item_candidate_person_id_exchange_person"),
        ),
        sa.ForeignKeyConstraint(
            ["node_id"],
            ["exchange_node.id"],
            name=op.f("fk_exchange_review_item_node_id_exchange_node"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_review_item")),
    )
    with op.batch_alter_table("exchange_review_item", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_exchange_review_item_status"), ["status"], unique=False
        )

    op.bulk_insert(
        sa.table(
            "exchange_audit_head",
            sa.column("id", sa.Integer()),
            sa.column("seq", sa.Integer()),
            sa.column("hash", sa.String()),
        ),
        [{"id": 1, "seq": 0, "hash": GENESIS_HASH}],
    )
    _create_append_only_guards()


def downgrade() -> None:
    _drop_append_only_guards()
    with op.batch_alter_table("exchange_review_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_review_item_status"))

    op.drop_table("exchange_review_item")
    with op.batch_alter_table("exchange_relationship", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_relationship_person_id"))

    op.drop_table("exchange_relationship")
    with op.batch_alter_table("exchange_person_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_person_link_person_id"))

    op.drop_table("exchange_person_link")
    with op.batch_alter_table("exchange_consent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_consent_person_id"))

    op.drop_table("exchange_consent")
    with op.batch_alter_table("exchange_break_glass", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_break_glass_subject_person")

    op.drop_table("exchange_break_glass")
    with op.batch_alter_table("exchange_person", schema=None) as batch_op:
        batch_op.drop_index("ix_exchange_person_family_birth")

    op.drop_table("exchange_person")
    op.drop_table("exchange_node")
    op.drop_table("exchange_audit_head")
    with op.batch_alter_table("exchange_audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exchange_audit_event_person_id"))

    op.drop_table("exchange_audit_event")
    op.drop_table("exchange_alert")
