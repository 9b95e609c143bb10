"""The grounds on which a requester may see a person's record, read from the database.

Everything the access decision and the consent session need about one requester and one
person, loaded together so the decision is taken on one consistent reading: the person
and their records at each node, a legitimate relationship, an active break-glass grant
(honoured only for roles the policy lets break glass), and the person's Consents. An
unreadable stored Consent counts as "deny all": wishes we cannot read must never be
taken as permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.exchange.access import (
    AccessPolicy,
    Basis,
    Principal,
    RelationshipFact,
    legitimate_relationship,
)
from healthycity.exchange.consent import (
    ConsentDirective,
    ConsentFormatError,
    ConsentSession,
    Provision,
    Requester,
    compile_consent,
)
from healthycity.exchange.federation import NodeTarget
from healthycity.exchange.models import (
    BreakGlassGrant,
    ConsentRecord,
    Node,
    Person,
    PersonLink,
    Relationship,
)
from healthycity.exchange.nodes import target


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


def load_grounds(
    session: Session,
    principal: Principal,
    person_id: str,
    now: datetime,
    *,
    policy: AccessPolicy,
    node_timeout: float,
    links: list[tuple[NodeTarget, str]] | None = None,
) -> Grounds | None:
    """The grounds, or None when there is no such person. ``links`` (which nodes to ask)
    may be passed in when the nodes were already asked: they play no part in deciding."""
    # Plain column queries, not ORM entities: this runs twice for every request.
    found = session.execute(
        select(Person.id, Person.nhs_number).where(Person.id == person_id)
    ).first()
    if found is None:
        return None
    person = PersonKey(found.id, found.nhs_number)
    if links is None:
        links = node_links(session, person_id, node_timeout)
    if principal.is_citizen:
        own = principal.patient is not None and principal.patient == person.nhs_number
        return Grounds(person, links, "self" if own else "none", None, None, [])
    facts = [
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
    relationship = legitimate_relationship(principal, facts, now)
    row = session.execute(
        select(BreakGlassGrant.id, BreakGlassGrant.reason, BreakGlassGrant.expires_at)
        .where(
            BreakGlassGrant.subject == principal.subject,
            BreakGlassGrant.person_id == person_id,
            BreakGlassGrant.expires_at > now,
        )
        .order_by(BreakGlassGrant.expires_at.desc())
        .limit(1)
    ).first()
    grant = None
    if row is not None and policy.allows(principal.role, "Patient", "break-glass", "any"):
        grant = Grant(row.id, row.reason, as_utc(row.expires_at))
    basis: Basis = "relationship" if relationship else "break-glass" if grant else "none"
    directives: list[ConsentDirective] = []
    for (resource,) in session.execute(
        select(ConsentRecord.resource).where(
            ConsentRecord.person_id == person_id, ConsentRecord.status == "active"
        )
    ):
        try:
            directive = compile_consent(resource)
        except ConsentFormatError:
            directive = DENY_ALL  # unreadable wishes: fail closed, never open
        if directive is not None:
            directives.append(directive)
    return Grounds(person, links, basis, relationship, grant, directives)
