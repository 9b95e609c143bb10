"""The enterprise person index: which local Patient records are the same human.

A verified NHS number links records deterministically: it is the one identifier issued
centrally with a check digit, so two records carrying the same valid, verified number
are the same person. Everything else is scored on demographics by a
:class:`Scorer` (see :mod:`healthycity.exchange.matching`): a confident match links, a
possible match creates a separate person *and* a review item, because a wrong link shows
one person's record to another person's clinician, which is worse than a missed link.
Twins (same date of birth, surname and address, different given names) are never
linked by the scorer. Every link and unlink is audited in the same transaction.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from healthycity.exchange.audit import chain as audit
from healthycity.exchange.identity import nhsnumber
from healthycity.exchange.identity.similarity import jaro_winkler, levenshtein
from healthycity.exchange.models import Node, Person, PersonLink, ReviewItem

VERIFICATION_EXTENSION = (
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus"
)
VERIFIED_CODE = "01"
_LETTERS = re.compile(r"[^A-Z]")


def family_key(name: str | None) -> str | None:
    """Upper-case letters only: ``O'Brien-Smith`` and ``OBRIENSMITH`` compare equal."""
    if not name:
        return None
    key = _LETTERS.sub("", name.upper())
    return key or None


def _clean_name(value: str | None) -> str | None:
    if not value:
        return None
    cleaned = " ".join(value.split())
    return cleaned or None


def _postcode(value: str | None) -> str | None:
    if not value:
        return None
    compact = re.sub(r"\s+", "", value.upper())
    return compact or None


_NOT_DIGITS = re.compile(r"\D")


def normal_phone(value: str | None) -> str | None:
    """Digits only, a UK number in its national form (``+44 20 7946 0000`` and
    ``020 7946 0000`` compare equal); None for fewer than six digits."""
    if not value:
        return None
    text = value.strip()
    digits = _NOT_DIGITS.sub("", text)
    if text.startswith("+44") or (digits.startswith("0044") and len(digits) > 11):
        digits = "0" + digits[4 if digits.startswith("0044") else 2 :]
    return digits if len(digits) >= 6 else None


def normal_email(value: str | None) -> str | None:
    """Upper case without spaces; None unless it has a user part and an ``@``."""
    if not value:
        return None
    text = "".join(value.split()).upper()
    user, at, domain = text.partition("@")
    return text if user and at and domain else None


@dataclass(frozen=True, slots=True)
class Demographics:
    """The identifying facts of one record, normalised for comparison."""

    nhs_number: str | None = None
    other_identifier: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    birth_date: date | None = None
    sex: str | None = None
    postcode: str | None = None
    address_line: str | None = None
    town: str | None = None
    email: str | None = None
    phone: str | None = None

    def as_json(self) -> dict[str, str | None]:
        data = asdict(self)
        data["birth_date"] = self.birth_date.isoformat() if self.birth_date else None
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Demographics:
        values = {k: data.get(k) for k in cls.__dataclass_fields__}
        born = values.get("birth_date")
        values["birth_date"] = date.fromisoformat(born) if isinstance(born, str) else None
        return cls(**values)


def verified_nhs_number(patient: Mapping[str, Any]) -> str | None:
    """The patient's NHS number if it is valid and not marked unverified.

    UK Core carries a verification status on the identifier; anything other than
    "01 Number present and verified" is not trusted for deterministic linking. A number
    without the extension is accepted when its check digit is right (the local exchanges
    that predate UK Core do not send the extension).
    """
    for identifier in patient.get("identifier", []):
        if identifier.get("system") != nhsnumber.NHS_NUMBER_SYSTEM:
            continue
        number = nhsnumber.validated(str(identifier.get("value", "")))
        if number is None:
            continue
        statuses = [
            coding.get("code")
            for ext in identifier.get("extension", [])
            if ext.get("url") == VERIFICATION_EXTENSION
            for coding in (ext.get("valueCodeableConcept") or {}).get("coding", [])
        ]
        if statuses and VERIFIED_CODE not in statuses:
            continue
        return number
    return None


def demographics_of(patient: Mapping[str, Any]) -> Demographics:
    """Normalised demographics from a FHIR Patient (official/usual name first)."""
    names = patient.get("name") or []
    name = next((n for n in names if n.get("use") in ("official", "usual")), None) or (
        names[0] if names else {}
    )
    given = name.get("given") or []
    addresses = patient.get("address") or []
    address = next((a for a in addresses if a.get("use") == "home"), None) or (
        addresses[0] if addresses else {}
    )
    born: date | None = None
    raw_birth = patient.get("birthDate")
    if isinstance(raw_birth, str) and len(raw_birth) == 10:
        try:
            born = date.fromisoformat(raw_birth)
        except ValueError:
            born = None
    lines = address.get("line") or []
    return Demographics(
        nhs_number=verified_nhs_number(patient),
        given_name=_clean_name(given[0] if given else None),
        family_name=_clean_name(name.get("family")),
        birth_date=born,
        sex=patient.get("gender"),
        postcode=_postcode(address.get("postalCode")),
        address_line=_clean_name(" ".join(lines)) if lines else None,
        town=_clean_name(address.get("city")),
        email=_telecom(patient, "email", normal_email),
        phone=_telecom(patient, "phone", normal_phone),
    )


def _telecom(
    patient: Mapping[str, Any], system: str, normalise: Callable[[str | None], str | None]
) -> str | None:
    """The first usable current ``telecom`` value of this system (an ``old`` one or one
    whose period has ended says little about who the record is now)."""
    for contact in patient.get("telecom") or []:
        if contact.get("system") != system or contact.get("use") == "old":
            continue
        if (contact.get("period") or {}).get("end"):
            continue
        value = normalise(contact.get("value"))
        if value is not None:
            return value
    return None


class Scorer(Protocol):
    """Scores two records' demographics: the probability they are the same person."""

    @property
    def match_threshold(self) -> float: ...

    @property
    def possible_threshold(self) -> float: ...

    def probability(self, a: Demographics, b: Demographics) -> float: ...


def different_given_names(a: str | None, b: str | None) -> bool:
    """Given names that are not one name mis-keyed: more than one edit apart and not
    close by Jaro-Winkler. ("Jaina"/"Jacen" differ; "Mitchell"/"Mitchel" do not.)"""
    if not a or not b:
        return False
    left, right = a.upper(), b.upper()
    if left == right or levenshtein(left, right, 1) <= 1:
        return False
    return jaro_winkler(left, right) < 0.9


def are_twins(a: Demographics, b: Demographics) -> bool:
    """Same date of birth, surname and address (or both without one) but different given
    names: the classic false merge. Scorers and batch linkage never link such a pair."""
    return (
        a.birth_date is not None
        and a.birth_date == b.birth_date
        and family_key(a.family_name) is not None
        and family_key(a.family_name) == family_key(b.family_name)
        and (a.postcode, a.address_line) == (b.postcode, b.address_line)
        and different_given_names(a.given_name, b.given_name)
    )


def person_demographics(person: Person) -> Demographics:
    return Demographics(
        nhs_number=person.nhs_number,
        given_name=person.given_name,
        family_name=person.family_name,
        birth_date=person.birth_date,
        sex=person.sex,
        postcode=person.postcode,
        address_line=person.address_line,
        town=person.town,
        email=person.email,
        phone=person.phone,
    )


@dataclass(frozen=True, slots=True)
class IndexOutcome:
    person_id: str
    status: Literal["existing", "linked-nhs-number", "linked-probabilistic", "new", "review"]
    probability: float | None = None


def _system_entry(action: str, person_id: str | None, actor: str, desc: str) -> audit.AuditEntry:
    return audit.AuditEntry(
        interaction="update",
        action=action,
        outcome="0",
        outcome_desc=desc,
        subject=actor,
        role="system",
        organisation=None,
        issuer=None,
        purpose="",
        person_id=person_id,
    )


def _change_entry(
    audit_as: audit.AuditEntry | None,
    action: str,
    person_id: str | None,
    actor: str,
    desc: str,
) -> audit.AuditEntry:
    """The audit entry for one change to the index.

    Without ``audit_as`` the change is recorded as the system's (the indexer, the CLI).
    With it, the change is recorded as part of that audited request (a steward's API
    call): its requester, role, organisation and query are kept, so the person's access
    log names who changed their identity, and the request needs no second entry of its
    own. ``audit_as.outcome_desc`` is put before the change's own description.
    """
    if audit_as is None:
        return _system_entry(action, person_id, actor, desc)
    prefix = f"{audit_as.outcome_desc}: " if audit_as.outcome_desc else ""
    return replace(
        audit_as, action=action, outcome="0", outcome_desc=prefix + desc, person_id=person_id
    )


def _new_person(session: Session, facts: Demographics, now: datetime) -> Person:
    person = Person(
        id=str(uuid.uuid4()),
        nhs_number=facts.nhs_number,
        given_name=facts.given_name,
        family_name=facts.family_name,
        family_key=family_key(facts.family_name),
        birth_date=facts.birth_date,
        sex=facts.sex,
        postcode=facts.postcode,
        address_line=facts.address_line,
        town=facts.town,
        email=facts.email,
        phone=facts.phone,
        restricted=False,
        created_at=now,
    )
    session.add(person)
    return person


def candidates_for(session: Session, facts: Demographics, limit: int = 50) -> Sequence[Person]:
    """People worth scoring against ``facts`` (blocking: same birth date, or same
    surname and postcode), so the scorer never compares against everyone."""
    rules = []
    if facts.birth_date is not None:
        rules.append(Person.birth_date == facts.birth_date)
    key = family_key(facts.family_name)
    if key and facts.postcode:
        rules.append((Person.family_key == key) & (Person.postcode == facts.postcode))
    if not rules:
        return []
    return session.execute(select(Person).where(or_(*rules)).limit(limit)).scalars().all()


def index_patient(
    session: Session,
    node: Node,
    patient: Mapping[str, Any],
    *,
    actor: str = "indexer",
    scorer: Scorer | None = None,
    now: datetime | None = None,
) -> IndexOutcome:
    """Put one node's Patient into the index (in the caller's transaction)."""
    now = now or datetime.now(UTC)
    local_id = str(patient["id"])
    facts = demographics_of(patient)
    existing = session.execute(
        select(PersonLink).where(PersonLink.node_id == node.id, PersonLink.local_id == local_id)
    ).scalar_one_or_none()
    if existing is not None:
        existing.demographics = facts.as_json()
        return IndexOutcome(existing.person_id, "existing")

    if facts.nhs_number is not None:
        person = session.execute(
            select(Person).where(Person.nhs_number == facts.nhs_number)
        ).scalar_one_or_none()
        status: Literal["linked-nhs-number", "new"] = "linked-nhs-number"
        if person is None:
            person, status = _new_person(session, facts, now), "new"
        _link(session, person.id, node, local_id, facts, "nhs-number", None, actor, now)
        return IndexOutcome(person.id, status)

    best: tuple[float, Person] | None = None
    if scorer is not None:
        for candidate in candidates_for(session, facts):
            theirs = person_demographics(candidate)
            if are_twins(facts, theirs):
                continue
            p = scorer.probability(facts, theirs)
            if best is None or p > best[0]:
                best = (p, candidate)
    if scorer is not None and best is not None and best[0] >= scorer.match_threshold:
        _link(session, best[1].id, node, local_id, facts, "probabilistic", best[0], actor, now)
        return IndexOutcome(best[1].id, "linked-probabilistic", best[0])

    person = _new_person(session, facts, now)
    _link(session, person.id, node, local_id, facts, "new", None, actor, now)
    if scorer is not None and best is not None and best[0] >= scorer.possible_threshold:
        session.add(
            ReviewItem(
                node_id=node.id,
                local_id=local_id,
                candidate_person_id=best[1].id,
                probability=best[0],
                reason="possible match on demographics",
                status="open",
                created_at=now,
            )
        )
        return IndexOutcome(person.id, "review", best[0])
    return IndexOutcome(person.id, "new")


def _link(
    session: Session,
    person_id: str,
    node: Node,
    local_id: str,
    facts: Demographics,
    method: str,
    probability: float | None,
    actor: str,
    now: datetime,
) -> PersonLink:
    session.flush()
    link = PersonLink(
        person_id=person_id,
        node_id=node.id,
        local_id=local_id,
        method=method,
        probability=probability,
        demographics=facts.as_json(),
        linked_at=now,
        linked_by=actor,
    )
    session.add(link)
    session.flush()
    audit.append(
        session,
        _system_entry("link", person_id, actor, f"{node.name}/Patient/{local_id} by {method}"),
        now=now,
    )
    return link


def relink(
    session: Session,
    link_id: int,
    person_id: str,
    *,
    actor: str,
    now: datetime | None = None,
    audit_as: audit.AuditEntry | None = None,
) -> None:
    """Move one local record to another person (a reviewer's decision), audited.

    ``audit_as``: the request this change belongs to (see :func:`_change_entry`).
    """
    now = now or datetime.now(UTC)
    link = session.get(PersonLink, link_id)
    if link is None or session.get(Person, person_id) is None:
        raise LookupError("no such link or person")
    previous = link.person_id
    link.person_id, link.method, link.linked_by, link.linked_at = person_id, "manual", actor, now
    audit.append(
        session,
        _change_entry(audit_as, "link", person_id, actor, f"link {link_id} moved from {previous}"),
        now=now,
    )
    audit.append(
        session,
        _change_entry(audit_as, "unlink", previous, actor, f"link {link_id} moved to {person_id}"),
        now=now,
    )


def unlink(
    session: Session,
    link_id: int,
    *,
    actor: str,
    now: datetime | None = None,
    audit_as: audit.AuditEntry | None = None,
) -> str:
    """Split one local record off into a person of its own; returns the new person id.

    ``audit_as``: the request this change belongs to (see :func:`_change_entry`).
    """
    now = now or datetime.now(UTC)
    link = session.get(PersonLink, link_id)
    if link is None:
        raise LookupError("no such link")
    facts = Demographics.from_json(link.demographics)
    # The number stays with the person it was verified for; the split-off record is
    # kept apart until someone links it again.
    person = _new_person(session, Demographics(**{**asdict(facts), "nhs_number": None}), now)
    session.flush()
    previous = link.person_id
    link.person_id, link.method, link.linked_by, link.linked_at = person.id, "manual", actor, now
    audit.append(
        session,
        _change_entry(
            audit_as, "unlink", previous, actor, f"link {link_id} split off to {person.id}"
        ),
        now=now,
    )
    # The new person's own access log says where their record came from.
    audit.append(
        session,
        _change_entry(
            audit_as, "unlink", person.id, actor, f"link {link_id} split off from {previous}"
        ),
        now=now,
    )
    return person.id


def decide_review(
    session: Session,
    item_id: int,
    *,
    link: bool,
    actor: str,
    now: datetime | None = None,
    audit_as: audit.AuditEntry | None = None,
) -> None:
    """Close a review item: link the record to the candidate, or keep them apart.

    Either way the decision is audited against both people, so each one's access log
    shows that their identity was looked at and what was decided. ``audit_as``: the
    request this decision belongs to (see :func:`_change_entry`).
    """
    now = now or datetime.now(UTC)
    item = session.get(ReviewItem, item_id)
    if item is None or item.status != "open":
        raise LookupError("no such open review item")
    item.status, item.decided_at, item.decided_by = ("linked" if link else "rejected"), now, actor
    record = session.execute(
        select(PersonLink).where(
            PersonLink.node_id == item.node_id, PersonLink.local_id == item.local_id
        )
    ).scalar_one()
    if link:
        relink(
            session, record.id, item.candidate_person_id, actor=actor, now=now, audit_as=audit_as
        )
        return
    desc = f"review item {item_id}: link {record.id} kept apart from"
    for person_id, other in (
        (record.person_id, item.candidate_person_id),
        (item.candidate_person_id, record.person_id),
    ):
        audit.append(
            session,
            _change_entry(audit_as, "keep-apart", person_id, actor, f"{desc} {other}"),
            now=now,
        )


def person_by_nhs_number(session: Session, number: str) -> Person | None:
    return session.execute(select(Person).where(Person.nhs_number == number)).scalar_one_or_none()


def links_of(session: Session, person_id: str) -> list[tuple[Node, str]]:
    """The enabled nodes holding a record of this person, and their local ids."""
    rows = session.execute(
        select(Node, PersonLink.local_id)
        .join(PersonLink, PersonLink.node_id == Node.id)
        .where(PersonLink.person_id == person_id, Node.enabled.is_(True))
        .order_by(Node.name)
    ).all()
    return [(node, local_id) for node, local_id in rows]


def search_persons(
    session: Session,
    *,
    family: str,
    birth_date: date,
    given: str | None = None,
    scorer: Scorer | None = None,
    limit: int = 20,
) -> list[tuple[Person, float]]:
    """People with this surname and date of birth, scored as PDS scores a search.

    Without a scorer the score is 1.0 for an exact given-name match (or none asked)
    and 0.8 otherwise.
    """
    key = family_key(family)
    if key is None:
        return []
    people = (
        session.execute(
            select(Person)
            .where(Person.family_key == key, Person.birth_date == birth_date)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    asked = Demographics(given_name=given, family_name=family, birth_date=birth_date)
    scored: list[tuple[Person, float]] = []
    for person in people:
        if scorer is not None:
            score = scorer.probability(asked, person_demographics(person))
        else:
            exact = not given or (person.given_name or "").upper() == given.upper()
            score = 1.0 if exact else 0.8
        scored.append((person, score))
    scored.sort(key=lambda pair: -pair[1])
    return scored
