"""The grounds on which a requester may see a person's record, read from the database.

Everything the access decision and the consent session need about one requester and one
person, loaded together so the decision is taken on one consistent reading: the person
and their records at each node, a legitimate relationship, an active break-glass grant
(honoured only for roles the policy lets break glass), and the person's Consents. An
unreadable stored Consent counts as "deny all": wishes we cannot read must never be
taken as permission.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.exchange.access.consent import (
    ConsentDirective,
    ConsentFormatError,
    ConsentSession,
    Provision,
    Requester,
    compile_consent,
)
from healthycity.exchange.access.policy import (
    AccessPolicy,
    Basis,
    Principal,
    RelationshipFact,
    legitimate_relationship,
)
from healthycity.exchange.federation.fanout import NodeTarget
from healthycity.exchange.federation.nodes import target
from healthycity.exchange.models import (
    BreakGlassGrant,
    ConsentRecord,
    Node,
    Person,
    PersonLink,
    Relationship,
)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC, whichever engine the value came back from (SQLite drops the zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Grant:
    """An active break-glass grant."""

    id: str
    reason: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class PersonKey:
    """The person, as far as deciding needs: who they are and their NHS number."""

    id: str
    nhs_number: str | None


@dataclass(frozen=True)
class Grounds:
    """Everything that entitles (or not) this requester to this person's record."""

    person: PersonKey
    links: list[tuple[NodeTarget, str]]
    basis: Basis
    relationship: str | None
    grant: Grant | None
    directives: list[ConsentDirective]

    @property
    def consent_mode(self) -> Literal["normal", "break-glass", "self"]:
        if self.basis == "self":
            return "self"
        return "break-glass" if self.grant is not None else "normal"

    def consent_session(self, principal: Principal, now: datetime) -> ConsentSession:
        requester = Requester(principal.organisation, principal.subject, principal.purpose)
        return ConsentSession(self.directives, requester, now=now, mode=self.consent_mode)


DENY_ALL = ConsentDirective("unreadable", Provision(effect="deny"))


def node_links(
    session: Session, person_id: str, node_timeout: float
) -> list[tuple[NodeTarget, str]]:
    """The enabled nodes holding this person's records, as fan-out targets, with the
    node-local Patient ids (one query, plain columns)."""
    rows = session.execute(
        select(
            Node.name,
            Node.base_url,
            Node.credential_env,
            Node.timeout_seconds,
            PersonLink.local_id,
        )
        .join(PersonLink, PersonLink.node_id == Node.id)
        .where(PersonLink.person_id == person_id, Node.enabled.is_(True))
        .order_by(Node.name)
    )
    return [
        (target(name, base_url, credential_env, timeout or node_timeout), local_id)
        for name, base_url, credential_env, timeout, local_id in rows
    ]


def grounds_version(session: Session, person_id: str) -> int | None:
    """The person's grounds version (migration 0002), or None when there is no such
    person. One indexed read: what a cached or earlier decision is checked against."""
    value = session.execute(
        select(Person.grounds_version).where(Person.id == person_id)
    ).scalar_one_or_none()
    return None if value is None else int(value)


@dataclass(frozen=True)
class GroundFacts:
    """The stored facts behind a decision, as read at ``version``.

    They hold no judgement: :func:`evaluate` turns them into :class:`Grounds` for a
    moment in time, so facts read a second ago can be judged now (a relationship or a
    break-glass grant may have ended meanwhile) without reading them again.
    """

    person: PersonKey
    version: int
    links: list[tuple[NodeTarget, str]]
    relationships: list[RelationshipFact]
    grants: list[Grant]  # this requester's grants for this person, latest expiry first
    directives: list[ConsentDirective]
    citizen: bool


def load_facts(
    session: Session,
    principal: Principal,
    person_id: str,
    now: datetime,
    *,
    node_timeout: float,
) -> GroundFacts | None:
    """The facts for this requester and person, or None when there is no such person.

    The version is read first: on PostgreSQL each statement sees the newest commits, so
    what follows is at least as new as the version, and a later comparison with the
    version can only find the facts too old, never too new.
    """
    # Plain column queries, not ORM entities: this runs on every cache miss.
    found = session.execute(
        select(Person.id, Person.nhs_number, Person.grounds_version).where(Person.id == person_id)
    ).first()
    if found is None:
        return None
    person = PersonKey(found.id, found.nhs_number)
    links = node_links(session, person_id, node_timeout)
    if principal.is_citizen:
        return GroundFacts(person, int(found.grounds_version), links, [], [], [], True)
    relationships = [
        RelationshipFact(
            kind,
            organisation,
            practitioner,
            as_utc(starts),
            as_utc(ends) if ends is not None else None,
        )
        for kind, organisation, practitioner, starts, ends in session.execute(
            select(
                Relationship.kind,
                Relationship.organisation,
                Relationship.practitioner,
                Relationship.starts_at,
                Relationship.ends_at,
            ).where(Relationship.person_id == person_id)
        )
    ]
    grants = [
        Grant(row.id, row.reason, as_utc(row.expires_at))
        for row in session.execute(
            select(BreakGlassGrant.id, BreakGlassGrant.reason, BreakGlassGrant.expires_at)
            .where(
                BreakGlassGrant.subject == principal.subject,
                BreakGlassGrant.person_id == person_id,
                BreakGlassGrant.expires_at > now,
            )
            .order_by(BreakGlassGrant.expires_at.desc())
        )
    ]
    # The latest active privacy Consent is the citizen's current statement and alone
    # decides (recording a new one supersedes the old: an opt-out can be reversed).
    directives: list[ConsentDirective] = []
    for (resource,) in session.execute(
        select(ConsentRecord.resource)
        .where(ConsentRecord.person_id == person_id, ConsentRecord.status == "active")
        .order_by(ConsentRecord.recorded_at.desc(), ConsentRecord.id.desc())
    ):
        try:
            directive = compile_consent(resource)
        except ConsentFormatError:
            directive = DENY_ALL  # unreadable wishes: fail closed, never open
        if directive is not None:
            directives.append(directive)
            break
    return GroundFacts(
        person, int(found.grounds_version), links, relationships, grants, directives, False
    )


def evaluate(
    facts: GroundFacts, principal: Principal, now: datetime, *, policy: AccessPolicy
) -> Grounds:
    """The grounds these facts give this requester at ``now`` (pure)."""
    if facts.citizen:
        own = principal.patient is not None and principal.patient == facts.person.nhs_number
        return Grounds(facts.person, facts.links, "self" if own else "none", None, None, [])
    relationship = legitimate_relationship(principal, facts.relationships, now)
    grant = next((g for g in facts.grants if g.expires_at > now), None)
    if grant is not None and not policy.allows(principal.role, "Patient", "break-glass", "any"):
        grant = None  # honoured only for roles the policy lets break glass
    basis: Basis = "relationship" if relationship else "break-glass" if grant else "none"
    return Grounds(facts.person, facts.links, basis, relationship, grant, facts.directives)


def load_grounds(
    session: Session,
    principal: Principal,
    person_id: str,
    now: datetime,
    *,
    policy: AccessPolicy,
    node_timeout: float,
) -> Grounds | None:
    """The grounds, or None when there is no such person (facts read and judged now)."""
    facts = load_facts(session, principal, person_id, now, node_timeout=node_timeout)
    return None if facts is None else evaluate(facts, principal, now, policy=policy)


class FactsCache:
    """Recently read facts, per person and requester, trusted only at their version.

    A hit still costs nothing at the database before the nodes are asked; the decision
    taken on it is checked against the person's current version in the audit's
    transaction (gate.py), so a change to the grounds is never missed, only found a
    step later. Entries also expire after ``seconds``, because node settings (a node
    disabled, a new URL) do not move a person's version. Thread-safe: requests on the
    event loop and the recorder's thread both use it.
    """

    def __init__(self, size: int = 10_000, seconds: float = 10.0) -> None:
        self.size = size
        self.seconds = seconds
        self._entries: OrderedDict[tuple[str, str, bool], tuple[float, GroundFacts]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(principal: Principal, person_id: str) -> tuple[str, str, bool]:
        return (person_id, principal.subject, principal.is_citizen)

    def get(self, principal: Principal, person_id: str) -> GroundFacts | None:
        if self.size <= 0:
            return None
        key = self.key(principal, person_id)
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if time.monotonic() - found[0] > self.seconds:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, principal: Principal, facts: GroundFacts) -> None:
        if self.size <= 0:
            return
        key = self.key(principal, facts.person.id)
        with self._lock:
            self._entries[key] = (time.monotonic(), facts)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def forget(self, person_id: str) -> None:
        """Drop every entry about this person (after this process changed their grounds)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == person_id]:
                del self._entries[key]
