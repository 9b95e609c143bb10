"""Consent history kept in the database (issue 18, item 4; exchange migration 0006), on
SQLite and PostgreSQL: the migration copies each existing Consent's current version in,
every later version is kept beside it, and removing a Consent removes its history."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.exchange.db import MIGRATIONS_DIR, upgrade
from healthycity.exchange.models import ConsentRecord, ConsentVersion, Person

NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _downgrade(engine: Engine, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_the_migration_keeps_current_versions_and_history_follows_its_consent(
    engine: Engine,
) -> None:
    _downgrade(engine, "0005")
    with transaction(engine) as session:
        session.add(Person(id="p1", created_at=NOW))
        session.flush()
        for status, version in (("active", "3"), ("inactive", None)):
            meta = {"versionId": version, "lastUpdated": "2026-02-01T00:00:00.000Z"}
            body = {"resourceType": "Consent", "status": status}
            session.execute(
                ConsentRecord.__table__.insert().values(
                    person_id="p1",
                    resource=body | ({"meta": meta} if version else {}),
                    status=status,
                    recorded_at=NOW,
                    recorded_by="test",
                )
            )
    upgrade(engine)
    with transaction(engine) as session:
        kept = session.execute(
            select(
                ConsentVersion.consent_id, ConsentVersion.version, ConsentVersion.resource
            ).order_by(ConsentVersion.consent_id)
        ).all()
        assert [(v, r["status"]) for _, v, r in kept] == [(3, "active"), (1, "inactive")]
        first = kept[0][0]
        session.add(
            ConsentVersion(
                consent_id=first,
                version=4,
                resource={"resourceType": "Consent", "status": "inactive"},
                recorded_at=NOW,
            )
        )
    with transaction(engine) as session:
        session.execute(delete(ConsentRecord).where(ConsentRecord.id == first))
    with transaction(engine) as session:
        left = session.execute(select(ConsentVersion.consent_id)).scalars().all()
    assert first not in left and len(left) == 1
