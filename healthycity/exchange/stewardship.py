"""Identity stewardship over HTTP: the review queue, and linking and unlinking records.

The enterprise person index (:mod:`healthycity.exchange.identity`) keeps possible
matches apart and queues them for a person to decide; a wrong link shows one person's
record to another person's clinician. Registration and data-quality teams work that
queue, and correct links they find wrong, from their own tools, so the operations are
FHIR operations in the manner of HAPI FHIR's MDM ones:

``GET /$review-queue``
    Review items (open ones unless ``status`` says otherwise), most probable first,
    paged with ``_count``/``_offset``; each with the node's record and the candidate
    person's demographics side by side.
``POST /$review-decide``
    Parameters ``item`` and ``decision`` (``link`` | ``keep-apart``).
``GET /Patient/{id}/$links``
    The person's local records: node, local id, how and when and by whom linked.
``POST /Patient/{id}/$link``
    Move a record (``node`` and ``local``, or ``link``) to this person.
``POST /Patient/{id}/$unlink``
    Split a record (``node`` and ``local``, or ``link``) off into a person of its own.

Only roles the policy gives ``PersonLink`` ``read`` (the listings) or ``write`` (the
changes) may call them; the steward's token needs the matching SMART scope. Stewardship
does not depend on a relationship with the person, so the decision is always taken on
basis ``none``: a clinician's relationship with a patient never lets them relink the
patient's records.

Everything is audited. A change is recorded by the identity functions themselves, in the
transaction that makes it, as part of this request (``audit_as``): one entry for every
person whose identity changed, naming the steward, the item or link and the decision, so
each person's access log shows it and the request needs no extra entry. A listing is
recorded once for every person it disclosed. Refusals (400, 403, 404, 409) are recorded
through the service. Parameters are parsed here rather than by FastAPI so that a
malformed request is answered with an OperationOutcome naming the parameter *and*
audited like any other refusal.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from anyio import to_thread
from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from healthycity.exchange import audit, identity
from healthycity.exchange.access import Principal, decide
from healthycity.exchange.db import transaction
from healthycity.exchange.models import Node, Person, PersonLink, ReviewItem
from healthycity.exchange.service import ExchangeService, Reply, RequestInfo

FHIR_JSON = "application/fhir+json"
#: The resource type the policy grants stewardship on (``read`` lists, ``write`` changes).
STEWARD_RESOURCE = "PersonLink"
#: HL7 v3 ActReason "records management": why a steward reads and changes identities,
#: whatever purpose the token states for clinical reads.
PURPOSE = "RECORDMGT"
DEFAULT_COUNT = 20
MAX_COUNT = 100
#: Review statuses as the API names them, and as the index stores them.
STATUSES: dict[str, str | None] = {
    "open": "open",
    "linked": "linked",
    "kept-apart": "rejected",
    "all": None,
}
_API_STATUS = {"open": "open", "linked": "linked", "rejected": "kept-apart"}
_DECISIONS = ("link", "keep-apart")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_MAX_ID = 2**31 - 1  # the widest id every supported database's INTEGER holds
_PERSON_ID_CHARS = 36  # exchange_person.id

Authenticate = Callable[..., Awaitable[Principal | Response]]
#: A listing's reply body, the people it disclosed, and what it returned (for the audit).
Listing = tuple[dict[str, Any], Sequence[str], dict[str, int]]

_PARAMETERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Parameters"]},
        "parameter": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {
                    "name": {"type": "string"},
                    "valueString": {"type": "string"},
                    "valueCode": {"type": "string"},
                    "valueInteger": {"type": "integer"},
                },
            },
        },
    },
}
_PARAMETERS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A FHIR Parameters resource",
        "content": {
            FHIR_JSON: {"schema": _PARAMETERS_SCHEMA},
            "application/json": {"schema": _PARAMETERS_SCHEMA},
        },
    }
}


class BadParameter(Exception):
    """A request parameter that is missing, repeated or malformed (answered with 400)."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name}: {problem}")
        self.name = name
        self.problem = problem


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


# --- parameters ---------------------------------------------------------------------


def _plain(text: str) -> bool:
    """Text that can safely be a key: no control characters (PostgreSQL refuses NUL)."""
    return _CONTROL.search(text) is None


def parse_parameters(raw: bytes) -> dict[str, list[Mapping[str, Any]]]:
    """A FHIR Parameters body, as its parameters by name; anything else is refused."""
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as error:
        raise BadParameter("body", "is not JSON") from error
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadParameter("body", "must be a FHIR Parameters resource")
    listed = body.get("parameter", [])
    if not isinstance(listed, list):
        raise BadParameter("parameter", "must be a list")
    found: dict[str, list[Mapping[str, Any]]] = {}
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise BadParameter("parameter", "every parameter needs a name")
        found.setdefault(entry["name"], []).append(entry)
    return found


def _one(
    parameters: Mapping[str, list[Mapping[str, Any]]], name: str, *, required: bool
) -> Mapping[str, Any] | None:
    given = parameters.get(name, [])
    if len(given) > 1:
        raise BadParameter(name, "is given more than once")
    if not given:
        if required:
            raise BadParameter(name, "is required")
        return None
    return given[0]


def text_parameter(
    parameters: Mapping[str, list[Mapping[str, Any]]],
    name: str,
    *,
    max_length: int,
    required: bool = True,
) -> str | None:
    """A string-valued parameter (valueString, valueCode or valueId)."""
    entry = _one(parameters, name, required=required)
    if entry is None:
        return None
    values = [entry[k] for k in ("valueString", "valueCode", "valueId") if k in entry]
    if len(values) != 1 or not isinstance(values[0], str):
        raise BadParameter(name, "needs exactly one valueString or valueCode")
    value = values[0].strip()
    if not value or len(value) > max_length or not _plain(value):
        raise BadParameter(name, f"must be 1 to {max_length} printable characters")
    return value


def id_parameter(
    parameters: Mapping[str, list[Mapping[str, Any]]], name: str, *, required: bool = True
) -> int | None:
    """A positive integer id (valueInteger, valuePositiveInt, or digits as a string)."""
    entry = _one(parameters, name, required=required)
    if entry is None:
        return None
    keys = ("valueInteger", "valuePositiveInt", "valueString", "valueId")
    values = [entry[k] for k in keys if k in entry]
    if len(values) != 1:
        raise BadParameter(name, "needs exactly one valueInteger")
    value = values[0]
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_ID:
        raise BadParameter(name, "must be a positive integer id")
    return value


def query_int(name: str, text: str | None, *, default: int, low: int, high: int) -> int:
    """A search control such as ``_count``: an integer in [low, high]."""
    if text is None:
        return default
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()) or not low <= int(stripped) <= high:
        raise BadParameter(name, f"must be an integer from {low} to {high}")
    return int(stripped)


@dataclass(frozen=True, slots=True)
class RecordRef:
    """Which local record an operation is about: a link id, or a node and local id."""

    link_id: int | None = None
    node: str | None = None
    local: str | None = None


def record_parameters(parameters: Mapping[str, list[Mapping[str, Any]]]) -> RecordRef:
    link_id = id_parameter(parameters, "link", required=False)
    node = text_parameter(parameters, "node", max_length=100, required=False)
    local = text_parameter(parameters, "local", max_length=200, required=False)
    if link_id is not None:
        if node is not None or local is not None:
            raise BadParameter("link", "give link, or node and local, not both")
        return RecordRef(link_id=link_id)
    if node is None or local is None:
        raise BadParameter("node" if node is None else "local", "is required (or give link)")
    return RecordRef(node=node, local=local)


# --- reading the index --------------------------------------------------------------


def _instant(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back what was stored, without the zone
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _part(name: str, kind: str, value: Any) -> dict[str, Any]:
    return {"name": name, kind: value}


def _parts(values: Iterable[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    """Parameters parts for the values that are present."""
    return [_part(name, kind, value) for name, kind, value in values if value is not None]


def demographics_parts(facts: Mapping[str, Any], *, restricted: bool) -> list[dict[str, Any]]:
    """A record's identifying facts as parts. A restricted person's address, postcode
    and town are withheld, as PDS withholds them: a steward can still compare names,
    birth dates and numbers, and the address is not needed to see that."""
    parts = _parts(
        [
            ("nhsNumber", "valueString", facts.get("nhs_number")),
            ("given", "valueString", facts.get("given_name")),
            ("family", "valueString", facts.get("family_name")),
            ("birthDate", "valueDate", facts.get("birth_date")),
            ("gender", "valueCode", facts.get("sex")),
        ]
    )
    if restricted:
        parts.append(_part("restricted", "valueBoolean", True))
    else:
        parts.extend(
            _parts(
                [
                    ("postcode", "valueString", facts.get("postcode")),
                    ("address", "valueString", facts.get("address_line")),
                    ("town", "valueString", facts.get("town")),
                ]
            )
        )
    return parts


def _person_facts(person: Person) -> dict[str, Any]:
    return identity.person_demographics(person).as_json()


def _record_url(node: Node, local_id: str) -> str:
    return f"{node.base_url.rstrip('/')}/Patient/{local_id}"


def _reference(person_id: str) -> dict[str, str]:
    return {"reference": f"Patient/{person_id}"}


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
        parts = _parts(
            [
                ("id", "valueInteger", item.id),
                ("status", "valueCode", _API_STATUS.get(item.status, item.status)),
                ("node", "valueString", node.name),
                ("local", "valueString", item.local_id),
                ("source", "valueUri", _record_url(node, item.local_id)),
                ("link", "valueInteger", record.id if record is not None else None),
                ("person", "valueReference", _reference(holder.id) if holder else None),
                ("candidate", "valueReference", _reference(item.candidate_person_id)),
                ("probability", "valueDecimal", round(item.probability, 6)),
                ("reason", "valueString", item.reason or None),
                ("created", "valueDateTime", _instant(item.created_at)),
                ("decided", "valueDateTime", _instant(item.decided_at)),
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
        parts = _parts(
            [
                ("id", "valueInteger", link.id),
                ("node", "valueString", node.name),
                ("local", "valueString", link.local_id),
                ("source", "valueUri", _record_url(node, link.local_id)),
                ("method", "valueCode", link.method),
                ("probability", "valueDecimal", link.probability),
                ("linked", "valueDateTime", _instant(link.linked_at)),
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


def _person(session: Session, person_id: str, *, lock: bool = False) -> Person | None:
    if len(person_id) > _PERSON_ID_CHARS or not _plain(person_id):
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
        shown = _API_STATUS.get(item.status, item.status)
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
    body = _parameters(
        ("item", "valueInteger", item_id),
        ("status", "valueCode", status),
        ("person", "valueReference", _reference(record.person_id)),
        ("candidate", "valueReference", _reference(item.candidate_person_id)),
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
    person = _person(session, person_id, lock=True)
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
    body = _parameters(
        ("person", "valueReference", _reference(person_id)),
        ("link", "valueInteger", record.id),
        ("previous", "valueReference", _reference(before)),
    )
    return Done(body, [before, person_id])


def unlink_record(
    session: Session, person_id: str, ref: RecordRef, *, actor: str, audit_as: audit.AuditEntry
) -> Done | Refusal:
    """Split the record ``ref`` names off ``person_id`` into a new person."""
    person = _person(session, person_id, lock=True)
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
    body = _parameters(
        ("person", "valueReference", _reference(new_person)),
        ("link", "valueInteger", record.id),
        ("previous", "valueReference", _reference(person_id)),
    )
    return Done(body, [person_id, new_person])


def _parameters(*values: tuple[str, str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": _parts(values)}


# --- routes -------------------------------------------------------------------------


def _response(reply: Reply) -> Response:
    return Response(
        orjson.dumps(reply.body),
        status_code=reply.status,
        headers=reply.headers,
        media_type=FHIR_JSON,
    )


class Steward:
    """What every stewardship route does around its operation: authenticate, check the
    role policy, parse, run in one transaction with its audit, and refuse with audit."""

    def __init__(
        self,
        authenticate: Authenticate,
        info_of: Callable[[Request, Principal], RequestInfo],
        service: Callable[[], ExchangeService],
    ) -> None:
        self.authenticate = authenticate
        self.info_of = info_of
        self.service = service

    def entry(self, info: RequestInfo, action: str, desc: str = "") -> audit.AuditEntry:
        """The audit entry template for this request (who, from where, why)."""
        p = info.principal
        return audit.AuditEntry(
            interaction="operation",
            action=action,
            outcome="0",
            outcome_desc=desc,
            subject=p.subject,
            role=p.role,
            organisation=p.organisation,
            issuer=p.issuer or None,
            purpose=PURPOSE,
            query=info.query,
            client_address=info.client,
        )

    async def admit(
        self, request: Request, action: str, permission: Literal["read", "write"], person: str
    ) -> RequestInfo | Response:
        """The request's info if the requester may do this, else the audited refusal."""
        principal = await self.authenticate(request, interaction="operation", action=action)
        if not isinstance(principal, Principal):
            return principal
        info = self.info_of(request, principal)
        service = self.service()
        decision = decide(
            principal,
            STEWARD_RESOURCE,
            permission,
            basis="none",
            patient_nhs_number=None,
            policy=service.policy,
        )
        if decision.allowed:
            return info
        if service.policy.allows(principal.role, STEWARD_RESOURCE, permission, "none"):
            reason = decision.reason  # the role may, but the token's scopes do not
        else:
            reason = f"role {principal.role} is not an identity steward ({permission})"
        target = person if person and len(person) <= _PERSON_ID_CHARS and _plain(person) else None
        reply = await service.refuse(
            info,
            interaction="operation",
            action=action,
            status=403,
            reason=reason,
            person_id=target,
        )
        return _response(reply)

    async def bad(self, info: RequestInfo, action: str, error: BadParameter) -> Response:
        """An audited 400 whose OperationOutcome names the parameter."""
        reply = await self.service().refuse(
            info,
            interaction="operation",
            action=action,
            status=400,
            reason=f"parameter {error.name} {error.problem}",
        )
        for issue in reply.body.get("issue", []):
            issue["expression"] = [error.name]
        return _response(reply)

    async def change(
        self,
        info: RequestInfo,
        action: str,
        operation: Callable[[Session, audit.AuditEntry], Done | Refusal],
    ) -> Response:
        """Run a change and its audit in one transaction, or record why not."""
        service = self.service()
        template = self.entry(info, action)

        def run() -> Reply:
            with transaction(service.engine) as session:
                outcome = operation(session, template)
            if isinstance(outcome, Refusal):
                return service.record_refusal(
                    info,
                    interaction="operation",
                    action=action,
                    status=outcome.status,
                    reason=outcome.reason,
                    person_id=outcome.person_id,
                )
            # Remembered grounds of these people name their old records: forget them,
            # so this process's next read fans out to the records they have now.
            for person_id in outcome.changed:
                service.facts.forget(person_id)
            return Reply(200, outcome.body)

        return _response(await to_thread.run_sync(run))

    async def read(
        self,
        info: RequestInfo,
        action: str,
        operation: Callable[[Session], Listing | Refusal],
    ) -> Response:
        """Run a listing and record, in the same transaction, one entry for every person
        it discloses (one entry without a person when it discloses nobody)."""
        service = self.service()

        def run() -> Reply:
            now = service.clock()
            with transaction(service.engine) as session:
                outcome = operation(session)
                if not isinstance(outcome, Refusal):
                    body, people, returned = outcome
                    desc = f"returned {sum(returned.values())}"
                    entries: list[tuple[audit.AuditEntry, datetime]] = []
                    disclosed: list[str | None] = list(people) or [None]
                    for person_id in disclosed:
                        entry = self.entry(info, action, desc)
                        entry.person_id = person_id
                        entry.returned = returned
                        entries.append((entry, now))
                    audit.append_many(session, entries)
                    return Reply(200, body)
            return service.record_refusal(
                info,
                interaction="operation",
                action=action,
                status=outcome.status,
                reason=outcome.reason,
                person_id=outcome.person_id,
            )

        return _response(await to_thread.run_sync(run))


def add_stewardship_routes(
    app: FastAPI,
    authenticate: Authenticate,
    info_of: Callable[[Request, Principal], RequestInfo],
    service: Callable[[], ExchangeService],
) -> None:
    """Register the identity stewardship operations on the exchange's app.

    Takes the same closures as the type-search routes, so authentication, request
    details and the service are exactly those of every other route.
    """
    steward = Steward(authenticate, info_of, service)

    async def review_queue(
        request: Request,
        status: Annotated[
            str | None, Query(description="open (default), linked, kept-apart or all")
        ] = None,
        count: Annotated[
            str | None, Query(alias="_count", description=f"page size, 1 to {MAX_COUNT}")
        ] = None,
        offset: Annotated[
            str | None, Query(alias="_offset", description="items to skip (default 0)")
        ] = None,
    ) -> Response:
        action = "$review-queue"
        admitted = await steward.admit(request, action, "read", "")
        if isinstance(admitted, Response):
            return admitted
        try:
            wanted = (status or "open").strip()
            if wanted not in STATUSES:
                raise BadParameter("status", f"must be one of {', '.join(STATUSES)}")
            size = query_int("_count", count, default=DEFAULT_COUNT, low=1, high=MAX_COUNT)
            skip = query_int("_offset", offset, default=0, low=0, high=_MAX_ID)
        except BadParameter as error:
            return await steward.bad(admitted, action, error)

        def listing(session: Session) -> Listing:
            page = review_page(session, STATUSES[wanted], size, skip)
            body = {
                "resourceType": "Parameters",
                "parameter": [
                    _part("total", "valueInteger", page.total),
                    _part("offset", "valueInteger", skip),
                    _part("count", "valueInteger", len(page.items)),
                    *page.items,
                ],
            }
            return body, page.people, {"ReviewItem": len(page.items)}

        return await steward.read(admitted, action, listing)

    async def review_decide(request: Request) -> Response:
        action = "$review-decide"
        admitted = await steward.admit(request, action, "write", "")
        if isinstance(admitted, Response):
            return admitted
        try:
            parameters = parse_parameters(await request.body())
            item_id = id_parameter(parameters, "item")
            decision = text_parameter(parameters, "decision", max_length=20)
            if decision not in _DECISIONS:
                raise BadParameter("decision", "must be link or keep-apart")
        except BadParameter as error:
            return await steward.bad(admitted, action, error)
        assert item_id is not None  # required parameters are never None
        actor = admitted.principal.subject[:200]
        return await steward.change(
            admitted,
            action,
            lambda session, template: decide_item(
                session, item_id, decision, actor=actor, audit_as=template
            ),
        )

    async def person_links(request: Request, person_id: str) -> Response:
        action = "$links"
        admitted = await steward.admit(request, action, "read", person_id)
        if isinstance(admitted, Response):
            return admitted

        def listing(session: Session) -> Listing | Refusal:
            person = _person(session, person_id)
            if person is None:
                return Refusal(404, "no such person")
            links = links_parts(session, person)
            body = {
                "resourceType": "Parameters",
                "parameter": [_part("person", "valueReference", _reference(person.id)), *links],
            }
            return body, [person.id], {STEWARD_RESOURCE: len(links)}

        return await steward.read(admitted, action, listing)

    def record_change(
        action: str,
        operation: Callable[..., Done | Refusal],
    ) -> Callable[[Request, str], Awaitable[Response]]:
        async def route(request: Request, person_id: str) -> Response:
            admitted = await steward.admit(request, action, "write", person_id)
            if isinstance(admitted, Response):
                return admitted
            try:
                ref = record_parameters(parse_parameters(await request.body()))
            except BadParameter as error:
                return await steward.bad(admitted, action, error)
            actor = admitted.principal.subject[:200]
            return await steward.change(
                admitted,
                action,
                lambda session, template: operation(
                    session, person_id, ref, actor=actor, audit_as=template
                ),
            )

        return route

    app.add_api_route(
        "/$review-queue",
        review_queue,
        methods=["GET"],
        summary="Possible identity matches awaiting (or given) a steward's decision",
        name="stewardship_review_queue",
    )
    app.add_api_route(
        "/$review-decide",
        review_decide,
        methods=["POST"],
        summary="Decide a review item: link the record to the candidate, or keep apart",
        name="stewardship_review_decide",
        openapi_extra=_PARAMETERS_BODY,
    )
    app.add_api_route(
        "/Patient/{person_id}/$links",
        person_links,
        methods=["GET"],
        summary="The local records linked to this person, and how they were linked",
        name="stewardship_links",
    )
    app.add_api_route(
        "/Patient/{person_id}/$link",
        record_change("$link", link_record),
        methods=["POST"],
        summary="Move a local record (node and local, or link) to this person",
        name="stewardship_link",
        openapi_extra=_PARAMETERS_BODY,
    )
    app.add_api_route(
        "/Patient/{person_id}/$unlink",
        record_change("$unlink", unlink_record),
        methods=["POST"],
        summary="Split a local record (node and local, or link) off into a new person",
        name="stewardship_unlink",
        openapi_extra=_PARAMETERS_BODY,
    )


__all__ = ["add_stewardship_routes", "STEWARD_RESOURCE", "BadParameter"]
