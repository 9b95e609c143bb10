"""The person's grounds version moves with every change to their grounds for access.

Decisions taken before the nodes answer are re-used after only if this number has not
moved (service.py), so a write that changed someone's grounds without moving it would
let a withdrawn consent or an ended relationship go unnoticed. Triggers move it; these
tests prove they do, for every kind of write, on both engines.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.exchange.models import (
    BreakGlassGrant,
    ConsentRecord,
    Node,
    Person,
    PersonLink,
    Relationship,
)

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def _version(engine: Engine, person_id: str) -> int:
    with transaction(engine) as session:
        return int(
            session.execute(
                select(Person.grounds_version).where(Person.id == person_id)
            ).scalar_one()
        )


def _people(engine: Engine) -> None:
    with transaction(engine) as session:
        for person_id in ("p1", "p2"):
            session.add(Person(id=person_id, created_at=NOW))
        session.add(Node(id=1, name="n1", base_url="http://127.0.0.1:1"))


def test_every_write_to_the_grounds_moves_the_version(engine: Engine) -> None:
    _people(engine)
    seen = [_version(engine, "p1")]
    writes = [
        lambda s: s.add(
            ConsentRecord(
                id=1, person_id="p1", resource={"resourceType": "Consent"}, status="active",
                recorded_at=NOW, recorded_by="t",
            )
        ),
        lambda s: s.execute(update(ConsentRecord).values(status="inactive")),
        lambda s: s.execute(delete(ConsentRecord)),
        lambda s: s.add(
            Relationship(id=1, person_id="p1", kind="gp", organisation="F1", starts_at=NOW)
        ),
        lambda s: s.execute(update(Relationship).values(ends_at=NOW + timedelta(days=1))),
        lambda s: s.execute(delete(Relationship)),
        lambda s: s.add(
            BreakGlassGrant(
                id="g", subject="dr", role="R8000", person_id="p1", reason="unconscious",
                started_at=NOW, expires_at=NOW + timedelta(hours=1),
            )
        ),
        lambda s: s.execute(delete(BreakGlassGrant)),
        lambda s: s.add(
            PersonLink(
                id=1, person_id="p1", node_id=1, local_id="a", method="manual",
                demographics={}, linked_at=NOW, linked_by="t",
            )
        ),
        lambda s: s.execute(delete(PersonLink)),
    ]  # fmt: skip
    for write in writes:
        with transaction(engine) as session:
            write(session)
        seen.append(_version(engine, "p1"))
    assert all(after > before for before, after in zip(seen, seen[1:], strict=False)), seen
    assert _version(engine, "p2") == 0  # nobody else's grounds moved


def test_moving_a_row_to_another_person_moves_both(engine: Engine) -> None:
    _people(engine)
    with transaction(engine) as session:
        session.add(Relationship(id=1, person_id="p1", kind="gp", organisation="F1", starts_at=NOW))
    before = (_version(engine, "p1"), _version(engine, "p2"))
    with transaction(engine) as session:
        session.execute(update(Relationship).values(person_id="p2"))
    assert _version(engine, "p1") > before[0]
    assert _version(engine, "p2") > before[1]
