"""Identity stewardship over HTTP: the review queue, and linking and unlinking records.

This module holds the routes; the queue and the decisions are :mod:`identity.review`,
the ``Parameters`` payloads :mod:`identity.parameters`.

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

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.exchange.access.policy import Principal, decide
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.fhirhttp import FHIR_JSON, Authenticate, to_response
from healthycity.exchange.gate import Reply, RequestInfo
from healthycity.exchange.identity.parameters import (
    MAX_ID,
    BadParameter,
    id_parameter,
    parse_parameters,
    part,
    patient_reference,
    plain,
    query_int,
    record_parameters,
    text_parameter,
)
from healthycity.exchange.identity.review import (
    PERSON_ID_CHARS,
    STATUSES,
    Done,
    Refusal,
    decide_item,
    link_record,
    links_parts,
    person_by_id,
    review_page,
    unlink_record,
)
from healthycity.exchange.operations import ExchangeService

#: The resource type the policy grants stewardship on (``read`` lists, ``write`` changes).
STEWARD_RESOURCE = "PersonLink"
#: HL7 v3 ActReason "records management": why a steward reads and changes identities,
#: whatever purpose the token states for clinical reads.
PURPOSE = "RECORDMGT"
DEFAULT_COUNT = 20
MAX_COUNT = 100
_DECISIONS = ("link", "keep-apart")

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


# --- routes -------------------------------------------------------------------------


def _response(reply: Reply) -> Response:
    return to_response(reply)


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
        target = person if person and len(person) <= PERSON_ID_CHARS and plain(person) else None
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
            skip = query_int("_offset", offset, default=0, low=0, high=MAX_ID)
        except BadParameter as error:
            return await steward.bad(admitted, action, error)

        def listing(session: Session) -> Listing:
            page = review_page(session, STATUSES[wanted], size, skip)
            body = {
                "resourceType": "Parameters",
                "parameter": [
                    part("total", "valueInteger", page.total),
                    part("offset", "valueInteger", skip),
                    part("count", "valueInteger", len(page.items)),
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
            person = person_by_id(session, person_id)
            if person is None:
                return Refusal(404, "no such person")
            links = links_parts(session, person)
            body = {
                "resourceType": "Parameters",
                "parameter": [
                    part("person", "valueReference", patient_reference(person.id)),
                    *links,
                ],
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
