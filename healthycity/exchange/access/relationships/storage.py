"""Legitimate relationships as rows: replacing what one node's records gave a person.

Rows derived from a node's records carry ``source = "node:<name>"``; rows entered by hand
(``manual``) are never touched here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from healthycity.exchange.access.grounds import as_utc
from healthycity.exchange.access.relationships.derivation import (
    NODE_SOURCE_PREFIX,
    DerivedRelationship,
    RelationshipKey,
    node_source,
)
from healthycity.exchange.models import Node, PersonLink, Relationship


@dataclass
class SyncCounts:
    added: int = 0
    removed: int = 0
    kept: int = 0

    def __iadd__(self, other: SyncCounts) -> SyncCounts:
        self.added += other.added
        self.removed += other.removed
        self.kept += other.kept
        return self


def _row_key(row: Relationship) -> RelationshipKey:
    ends = as_utc(row.ends_at) if row.ends_at is not None else None
    return (row.kind, row.organisation, row.practitioner, as_utc(row.starts_at), ends)


def sync_person_node(
    session: Session,
    person_id: str,
    node_name: str,
    derived: Iterable[DerivedRelationship],
) -> SyncCounts:
    """Make the person's rows from this node exactly ``derived``, in the caller's
    transaction. Rows that are already right are kept (so a second run with the same
    data writes nothing and the person's grounds version does not move); rows from
    other nodes and rows entered by hand are never touched."""
    source = node_source(node_name)
    wanted = {item.key: item for item in derived}
    counts = SyncCounts()
    present: set[RelationshipKey] = set()
    rows = session.execute(
        select(Relationship)
        .where(Relationship.person_id == person_id, Relationship.source == source)
        .order_by(Relationship.id)
    ).scalars()
    for row in rows:
        key = _row_key(row)
        if key in wanted and key not in present:
            present.add(key)
            counts.kept += 1
        else:
            session.delete(row)
            counts.removed += 1
    for key, item in wanted.items():
        if key in present:
            continue
        session.add(
            Relationship(
                person_id=person_id,
                kind=item.kind,
                organisation=item.organisation,
                practitioner=item.practitioner,
                starts_at=item.starts_at,
                ends_at=item.ends_at,
                source=source,
            )
        )
        counts.added += 1
    session.flush()
    return counts


def forget_unlinked_nodes(session: Session, person_id: str) -> int:
    """Delete rows derived from nodes that no longer hold a record of this person (the
    record was unlinked or moved to another person: what it says is about someone
    else). Rows from a disabled node that still holds the person are kept."""
    linked = {
        node_source(name)
        for (name,) in session.execute(
            select(Node.name)
            .join(PersonLink, PersonLink.node_id == Node.id)
            .where(PersonLink.person_id == person_id)
        )
    }
    stale = [
        row_id
        for row_id, source in session.execute(
            select(Relationship.id, Relationship.source).where(
                Relationship.person_id == person_id,
                Relationship.source.startswith(NODE_SOURCE_PREFIX, autoescape=True),
            )
        )
        if source not in linked
    ]
    if stale:
        session.execute(delete(Relationship).where(Relationship.id.in_(stale)))
    return len(stale)
