"""The identity review queue and a steward's link and unlink decisions, on the index.

Each function works in the caller's transaction and hands back either what was done (a
``Parameters`` body and the people whose grounds changed) or why not; the HTTP side,
authorisation and audit of the request live in ``exchange/stewardship.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthycity.exchange.audit import chain as audit
from healthycity.exchange.identity import index as identity
from healthycity.exchange.identity.parameters import (
    RecordRef,
    demographics_parts,
    instant,
    parameters_resource,
    patient_reference,
    plain,
    present_parts,
)
from healthycity.exchange.models import Node, Person, PersonLink, ReviewItem

#: Review statuses as the API names them, and as the index stores them.
STATUSES: dict[str, str | None] = {
    "open": "open",
    "linked": "linked",
    "kept-apart": "rejected",
    "all": None,
}
API_STATUS = {"open": "open", "linked": "linked", "rejected": "kept-apart"}
PERSON_ID_CHARS = 36  # exchange_person.id


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a stewardship operation cannot proceed, found inside its transaction."""

    status: int
    reason: str
    person_id: str | None = None


@dataclass
class Done:
    """A completed operation: its reply and the people whose grounds it changed."""

    body: dict[str, Any]
    changed: list[str] = field(default_factory=list)


# --- reading the index ---------------------------------------------------------------


def _person_facts(person: Person) -> dict[str, Any]:
    return identity.person_demographics(person).as_json()


def _record_url(node: Node, local_id: str) -> str:
    return f"{node.base_url.rstrip('/')}/Patient/{local_id}"


@dataclass(frozen=True, slots=True)
class QueuePage:
    """One page of the review queue and the people it shows."""

    total: int
    items: list[dict[str, Any]]
    people: list[str]


def review_page(session: Session, status: str | None, count: int, offset: int) -> QueuePage:
    """Review items with ``status`` (None: all), most probable first, as parameter parts,
    each with the node's record and the candidate person side by side."""
    filters = [] if status is None else [ReviewItem.status == status]
    total = session.execute(
        select(func.count()).select_from(ReviewItem).where(*filters)
    ).scalar_one()
    rows = session.execute(
        select(ReviewItem, Node)
        .join(Node, Node.id == ReviewItem.node_id)
        .where(*filters)
        .order_by(ReviewItem.probability.desc(), ReviewItem.id)
        .limit(count)
        .offset(offset)
    ).all()
    items: list[dict[str, Any]] = []
    people: list[str] = []
    for item, node in rows:
        record = session.execute(
            select(PersonLink).where(
                PersonLink.node_id == item.node_id, PersonLink.local_id == item.local_id
            )
        ).scalar_one_or_none()
        holder = session.get(Person, record.person_id) if record is not None else None
        candidate = session.get(Person, item.candidate_person_id)
        parts = present_parts(
            [
                ("id", "valueInteger", item.id),
                ("status", "valueCode", API_STATUS.get(item.status, item.status)),
                ("node", "valueString", node.name),
                ("local", "valueString", item.local_id),
                ("source", "valueUri", _record_url(node, item.local_id)),
                ("link", "valueInteger", record.id if record is not None else None),
                ("person", "valueReference", patient_reference(holder.id) if holder else None),
                ("candidate", "valueReference", patient_reference(item.candidate_person_id)),
                ("probability", "valueDecimal", round(item.probability, 6)),
                ("reason", "valueString", item.reason or None),
                ("created", "valueDateTime", instant(item.created_at)),
                ("decided", "valueDateTime", instant(item.decided_at)),
                ("decidedBy", "valueString", item.decided_by),
            ]
        )
        if record is not None:
            restricted = holder.restricted if holder is not None else False
            parts.append(
                {
                    "name": "recordDemographics",
                    "part": demographics_parts(record.demographics, restricted=restricted),
                }
            )
        if candidate is not None:
            parts.append(
                {
                    "name": "candidateDemographics",
                    "part": demographics_parts(
                        _person_facts(candidate), restricted=candidate.restricted
                    ),
                }
            )
        items.append({"name": "item", "part": parts})
        for person in (holder, candidate):
            if person is not None and person.id not in people:
                people.append(person.id)
    return QueuePage(total, items, people)


def links_parts(session: Session, person: Person) -> list[dict[str, Any]]:
    """Every local record of ``person`` (disabled nodes included: the link still
    stands), as ``link`` parameters."""
    rows = session.execute(
        select(PersonLink, Node)
        .join(Node, Node.id == PersonLink.node_id)
        .where(PersonLink.person_id == person.id)
        .order_by(Node.name, PersonLink.local_id)
    ).all()
    found: list[dict[str, Any]] = []
    for link, node in rows:
        parts = present_parts(
            [
                ("id", "valueInteger", link.id),
                ("node", "valueString", node.name),
                ("local", "valueString", link.local_id),
                ("source", "valueUri", _record_url(node, link.local_id)),
                ("method", "valueCode", link.method),
                ("probability", "valueDecimal", link.probability),
                ("linked", "valueDateTime", instant(link.linked_at)),
                ("linkedBy", "valueString", link.linked_by),
            ]
        )
        parts.append(
            {
                "name": "demographics",
                "part": demographics_parts(link.demographics, restricted=person.restricted),
            }
        )
        found.append({"name": "link", "part": parts})
    return found


def find_record(session: Session, ref: RecordRef) -> PersonLink | None:
    """The link a :class:`RecordRef` names, locked for the change about to be made."""
    if ref.link_id is not None:
        return session.get(PersonLink, ref.link_id, with_for_update=True)
    return session.execute(
        select(PersonLink)
        .join(Node, Node.id == PersonLink.node_id)
        .where(Node.name == ref.node, PersonLink.local_id == ref.local)
        .with_for_update(of=PersonLink)
    ).scalar_one_or_none()


def person_by_id(session: Session, person_id: str, *, lock: bool = False) -> Person | None:
    if len(person_id) > PERSON_ID_CHARS or not plain(person_id):
        return None
    return session.get(Person, person_id, with_for_update=True if lock else None)


# --- the changes --------------------------------------------------------------------


def decide_item(
    session: Session, item_id: int, decision: str, *, actor: str, audit_as: audit.AuditEntry
) -> Done | Refusal:
    """Close review item ``item_id`` with ``decision`` (``link`` or ``keep-apart``).

    The item's row is locked first, so two stewards deciding at once cannot both
    succeed on PostgreSQL (SQLite serialises every writing transaction anyway).
    """
    item = session.get(ReviewItem, item_id, with_for_update=True)
    if item is None:
        return Refusal(404, "no such review item")
    if item.status != "open":
        shown = API_STATUS.get(item.status, item.status)
        return Refusal(409, f"review item {item_id} was already decided ({shown})")
    record = session.execute(
        select(PersonLink)
        .where(PersonLink.node_id == item.node_id, PersonLink.local_id == item.local_id)
        .with_for_update()
    ).scalar_one_or_none()
    if record is None:
        return Refusal(409, f"the record of review item {item_id} is no longer in the index")
    before = record.person_id
    link = decision == "link"
    audit_as.outcome_desc = f"review item {item_id} ({decision})"
    identity.decide_review(session, item_id, link=link, actor=actor, audit_as=audit_as)
    status = "linked" if link else "kept-apart"
    body = parameters_resource(
        ("item", "valueInteger", item_id),
        ("status", "valueCode", status),
        ("person", "valueReference", patient_reference(record.person_id)),
        ("candidate", "valueReference", patient_reference(item.candidate_person_id)),
        ("link", "valueInteger", record.id),
    )
    return Done(body, [before, item.candidate_person_id] if link else [])


def _numbers_conflict(record: PersonLink, person: Person) -> bool:
    """The record carries a verified NHS number and the person holds a different one:
    a manual link cannot overrule two numbers issued centrally for two people."""
    number = record.demographics.get("nhs_number")
    return bool(number and person.nhs_number and number != person.nhs_number)


def link_record(
    session: Session, person_id: str, ref: RecordRef, *, actor: str, audit_as: audit.AuditEntry
) -> Done | Refusal:
    """Move the record ``ref`` names to ``person_id`` (a steward's manual link)."""
    person = person_by_id(session, person_id, lock=True)
    if person is None:
        return Refusal(404, "no such person")
    record = find_record(session, ref)
    if record is None:
        return Refusal(404, "no such record in the index", person_id)
    if record.person_id == person_id:
        return Refusal(409, f"link {record.id} is already this person's", person_id)
    if _numbers_conflict(record, person):
        return Refusal(
            409,
            f"link {record.id} carries a verified NHS number different from the person's",
            person_id,
        )
    before = record.person_id
    audit_as.outcome_desc = "manual link"
    identity.relink(session, record.id, person_id, actor=actor, audit_as=audit_as)
    body = parameters_resource(
        ("person", "valueReference", patient_reference(person_id)),
        ("link", "valueInteger", record.id),
        ("previous", "valueReference", patient_reference(before)),
    )
    return Done(body, [before, person_id])


def unlink_record(
    session: Session, person_id: str, ref: RecordRef, *, actor: str, audit_as: audit.AuditEntry
) -> Done | Refusal:
    """Split the record ``ref`` names off ``person_id`` into a new person."""
    person = person_by_id(session, person_id, lock=True)
    if person is None:
        return Refusal(404, "no such person")
    record = find_record(session, ref)
    if record is None:
        return Refusal(404, "no such record in the index", person_id)
    if record.person_id != person_id:
        return Refusal(409, f"link {record.id} is not this person's", person_id)
    others = session.execute(
        select(func.count())
        .select_from(PersonLink)
        .where(PersonLink.person_id == person_id, PersonLink.id != record.id)
    ).scalar_one()
    if others == 0:
        return Refusal(409, "the person's only record cannot be split off", person_id)
    audit_as.outcome_desc = "manual unlink"
    new_person = identity.unlink(session, record.id, actor=actor, audit_as=audit_as)
    body = parameters_resource(
        ("person", "valueReference", patient_reference(new_person)),
        ("link", "valueInteger", record.id),
        ("previous", "valueReference", patient_reference(person_id)),
    )
    return Done(body, [person_id, new_person])
