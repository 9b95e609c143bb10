"""The exchange's operations: reads, searches, ``$everything``, documents, break-glass,
the access log and consent writes.

Every federated read goes through the gate (:meth:`gate.Gate._federated`); operations
that only touch the exchange's own database take their decision with the same policy
and audit in the transaction that makes the change.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from anyio import to_thread

from healthycity.core.db import transaction
from healthycity.exchange.access.grounds import Grounds
from healthycity.exchange.access.policy import decide
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.bundles import paged, present, with_version
from healthycity.exchange.consents import ConsentOperations
from healthycity.exchange.federation.fanout import NodeRequest, NodeTarget, searchset
from healthycity.exchange.gate import Reply, RequestInfo, log, operation_outcome
from healthycity.exchange.identity import index as identity
from healthycity.exchange.identity.nhsnumber import NHS_NUMBER_SYSTEM, validated
from healthycity.exchange.models import Alert, BreakGlassGrant, Person
from healthycity.exchange.paging import CURSOR, Cursor
from healthycity.exchange.patient_search import PERSON_SYSTEM, PatientSearch
from healthycity.exchange.reads import NodeReads, locals_by_origin, validators, whole_record
from healthycity.exchange.search import (
    COMMON_PARAMS,
    DATE,
    Filter,
    Query,
    SearchError,
    matches,
    order,
    parse,
)

#: The resource types a ``{type}?patient=`` search may ask for.
SEARCHABLE_TYPES = (
    "Observation",
    "Condition",
    "MedicationRequest",
    "AllergyIntolerance",
    "Encounter",
    "Immunization",
    "Procedure",
    "DocumentReference",
)


#: ``$everything``'s parameters (R4 Patient-everything, with ``_type`` and ``_since``).
EVERYTHING_PARAMS = frozenset({"start", "end", "_type", "_since", "_count"})


class ExchangeService(ConsentOperations, NodeReads, PatientSearch):
    """The exchange's operations over its database and the nodes, all through the gate."""

    def open_search(
        self,
        info: RequestInfo,
        path: str,
        items: list[tuple[str, str]],
        *,
        resource_type: str | None,
        strict: bool,
    ) -> tuple[RequestInfo, Query, int, list[tuple[str, str]]]:
        """A search's parameters, from the request or from its page link (``_cursor``),
        parsed; the audit records what was searched, never the opaque cursor. Raises
        SearchError or CursorError (both answered 400)."""
        offset = 0
        cursor = [value for name, value in items if name == CURSOR]
        if cursor:
            opened = self.pages.open(cursor[0], info.principal.subject, path, self.clock())
            items, offset = list(opened.items), opened.offset
            shown = urlencode([*items, ("_offset", str(offset))])
            info = replace(info, query=f"{path}?{shown}")
        limits = {
            "default_count": self.settings.page_size_default,
            "max_count": self.settings.page_size_max,
        }
        if resource_type is not None:
            query = parse(resource_type, items, strict=strict, **limits)
        else:
            query = _everything_query(items, strict=strict, **limits)
        return info, query, offset, items

    def _sealer(self, info: RequestInfo, path: str, items: list[tuple[str, str]]) -> Any:
        base = self.base_url or info.base
        now = self.clock()
        kept = tuple((k, v) for k, v in items if k not in (CURSOR, "_format", "_pretty"))

        def seal(offset: int) -> str:
            token = self.pages.seal(Cursor(path, kept, offset), info.principal.subject, now)
            return f"{base}{path}?{urlencode([(CURSOR, token)])}"

        return seal

    async def everything(
        self,
        info: RequestInfo,
        person_id: str,
        query: Query | None = None,
        offset: int = 0,
        items: list[tuple[str, str]] | None = None,
        path: str = "",
    ) -> Reply:
        query = query or _everything_query([], strict=False, default_count=50, max_count=500)
        items = items or []
        path = path or f"/Patient/{person_id}/$everything"
        seal = self._sealer(info, path, items)
        now = self.clock()

        def finish(
            shown: list[tuple[dict[str, Any], str]], issues: list[dict[str, Any]], grounds: Grounds
        ) -> Reply:
            patients = [(r, o) for r, o in shown if r.get("resourceType") == "Patient"]
            pinned = []
            if patients:
                golden = self._golden(grounds, patients, now)
                # Its demographics are the first node's record's: that node is its source.
                golden = golden | {"meta": golden["meta"] | {"source": patients[0][1]}}
                if matches(golden, query):
                    pinned = [(golden, self.base_url or info.base)]
            # The node Patients stay (each is a record of the person at its node), after
            # the exchange's own, which every other resource now names as its subject.
            rest = present(
                shown, person_id, locals_by_origin(grounds), now, drop_node_patients=False
            )
            found = order([e for e in rest if matches(e[0], query)], query)
            return Reply(
                200,
                paged(
                    found,
                    issues,
                    query=query,
                    base=self.base_url or info.base,
                    path=path,
                    offset=offset,
                    seal=seal,
                    pinned=pinned,
                ),
            )

        return await self._federated(
            info,
            person_id=person_id,
            interaction="operation",
            action="$everything",
            requested_types=["Patient", *SEARCHABLE_TYPES],
            plan=whole_record,
            finish=finish,
        )

    async def search_type(
        self,
        info: RequestInfo,
        resource_type: str,
        person_id: str,
        query: Query | None = None,
        offset: int = 0,
        items: list[tuple[str, str]] | None = None,
    ) -> Reply:
        """One type of the person's records, searched after consent released them."""
        items = items or [("patient", person_id)]
        if query is None:
            query = parse(
                resource_type,
                items,
                default_count=self.settings.page_size_default,
                max_count=self.settings.page_size_max,
                strict=False,
            )
        path = f"/{resource_type}"
        seal = self._sealer(info, path, items)
        now = self.clock()

        def plan(links: list[tuple[NodeTarget, str]]) -> list[NodeRequest]:
            return [
                NodeRequest(node, resource_type, {"patient": local}, patient=local)
                for node, local in links
            ]

        def finish(
            shown: list[tuple[dict[str, Any], str]], issues: list[dict[str, Any]], grounds: Grounds
        ) -> Reply:
            typed = [(r, o) for r, o in shown if r.get("resourceType") == resource_type]
            presented = present(typed, person_id, locals_by_origin(grounds), now)
            found = order([e for e in presented if matches(e[0], query)], query)
            bundle = paged(
                found,
                issues,
                query=query,
                base=self.base_url or info.base,
                path=path,
                offset=offset,
                seal=seal,
            )
            return Reply(200, bundle)

        return await self._federated(
            info,
            person_id=person_id,
            interaction="search-type",
            action=f"search {resource_type}",
            requested_types=[resource_type],
            plan=plan,
            finish=finish,
            context_plan=whole_record,
        )

    async def read_patient(
        self,
        info: RequestInfo,
        person_id: str,
        *,
        as_search: bool = False,
        version: str | None = None,
    ) -> Reply:
        """The person as one Patient, composed live from the nodes' records. Its
        ``versionId`` is derived from what it says (it changes exactly when that does),
        so only the current version can be read by ``_history/{vid}``: older ones were
        never stored (the exchange composes the Patient, it does not keep it)."""

        def plan(links: list[tuple[NodeTarget, str]]) -> list[NodeRequest]:
            return [
                NodeRequest(node, f"Patient/{local}", {}, patient=local) for node, local in links
            ]

        def finish(
            shown: list[tuple[dict[str, Any], str]], issues: list[dict[str, Any]], grounds: Grounds
        ) -> Reply:
            patients = [(r, o) for r, o in shown if r.get("resourceType") == "Patient"]
            if not patients:
                if as_search:
                    return Reply(200, searchset([], issues, self_link=self._self(info)))
                return Reply(404, operation_outcome("not-found", "not found"))
            golden = self._golden(grounds, patients, self.clock())
            if as_search:
                entries = [(golden, self.base_url)]
                return Reply(200, searchset(entries, issues, self_link=self._self(info)))
            if version is not None and golden["meta"]["versionId"] != version:
                text = f"Patient/{person_id} has no version {version} (only the current one)"
                return Reply(404, operation_outcome("not-found", text))
            return Reply(200, golden, validators(golden))

        return await self._federated(
            info,
            person_id=person_id,
            interaction="search-type" if as_search else "read" if version is None else "vread",
            action="search Patient (identifier)" if as_search else "read Patient",
            requested_types=["Patient"],
            plan=plan,
            finish=finish,
        )

    def _golden(
        self, grounds: Grounds, patients: list[tuple[dict[str, Any], str]], now: datetime
    ) -> dict[str, Any]:
        """One Patient for the person: demographics from the first node's (released)
        record, identifiers and links from all of them.

        Only the released node Patients (``patients``) contribute, never the index: the
        NHS number is shown as a released record holds it (with its verification status
        extension), and not at all when only a withheld record holds it, so the
        exchange's Patient says nothing a withheld node Patient would have said."""
        first = patients[0][0]
        person = grounds.person
        identifiers: list[dict[str, Any]] = [{"system": PERSON_SYSTEM, "value": person.id}]
        held = [
            i
            for resource, _ in patients
            for i in resource.get("identifier") or []
            if isinstance(i, dict)
            and i.get("system") == NHS_NUMBER_SYSTEM
            and person.nhs_number
            and i.get("value") == person.nhs_number
        ]
        if held:  # the one carrying its verification status extension, if any does
            identifiers.append(dict(next((i for i in held if i.get("extension")), held[0])))
        links = []
        security: list[Any] = []
        for resource, origin in patients:
            identifiers.append({"system": f"{origin}/Patient", "value": resource["id"]})
            links.append(
                {"other": {"reference": f"{origin}/Patient/{resource['id']}"}, "type": "seealso"}
            )
            for label in (resource.get("meta") or {}).get("security", []):
                if label not in security:
                    security.append(label)
        golden = {
            key: value
            for key, value in first.items()
            if key
            in (
                "name",
                "gender",
                "birthDate",
                "address",
                "telecom",
                "deceasedBoolean",
                "deceasedDateTime",
                "generalPractitioner",
                "communication",
            )
        }
        meta: dict[str, Any] = {"source": self.base_url or "urn:healthycity:exchange"}
        if security:
            meta["security"] = security
        # Last updated when the newest of its node records was, if they all say; else
        # (a node that does not say) at this read.
        stamps = [(r.get("meta") or {}).get("lastUpdated") for r, _ in patients]
        if all(isinstance(stamp, str) and stamp for stamp in stamps):
            meta["lastUpdated"] = max(str(stamp) for stamp in stamps)
        composed = {
            "resourceType": "Patient",
            "id": person.id,
            "meta": meta,
            "identifier": identifiers,
            **golden,
            "link": links,
        }
        return with_version(composed, now)

    async def search_patient_by_nhs_number(self, info: RequestInfo, number: str) -> Reply:
        valid = validated(number)
        if valid is None:
            return await self.refuse(
                info,
                interaction="search-type",
                action="search Patient (identifier)",
                status=400,
                reason="not a valid NHS number",
            )

        def lookup() -> str | None:
            with transaction(self.engine) as session:
                person = identity.person_by_nhs_number(session, valid)
                return person.id if person else None

        person_id = await to_thread.run_sync(lookup)
        if person_id is None:
            return await to_thread.run_sync(
                lambda: self._empty_search(info, "search Patient (identifier)")
            )
        return await self.read_patient(info, person_id, as_search=True)

    def _empty_search(self, info: RequestInfo, action: str) -> Reply:
        with transaction(self.engine) as session:
            audit.append(
                session,
                self._entry(
                    info, interaction="search-type", action=action, outcome="0", desc="no match"
                ),
                now=self.clock(),
            )
        return Reply(200, searchset([], [], self_link=self._self(info)))

    async def binary(self, info: RequestInfo, token: str) -> Reply:
        principal = info.principal
        link = self.links.open(token, principal.subject)
        if link is None:
            return await self.refuse(
                info,
                interaction="read",
                action="read Binary",
                status=403,
                reason="the document link is invalid, expired or not yours",
            )
        person_id = str(link["p"])

        def plan(links: list[tuple[NodeTarget, str]]) -> list[NodeRequest]:
            return [
                NodeRequest(node, f"Binary/{link['b']}", {}, patient=None)
                for node, _ in links
                if node.base_url == link["n"]
            ][:1]

        def finish(
            shown: list[tuple[dict[str, Any], str]], issues: list[dict[str, Any]], _: Grounds
        ) -> Reply:
            binaries = [r for r, _ in shown if r.get("resourceType") == "Binary"]
            if binaries:
                return Reply(200, binaries[0])
            if issues:
                return Reply(502, {"resourceType": "OperationOutcome", "issue": issues})
            return Reply(404, operation_outcome("not-found", "not found"))

        return await self._federated(
            info,
            person_id=person_id,
            interaction="read",
            action="read Binary",
            requested_types=["Binary"],
            plan=plan,
            finish=finish,
        )

    async def break_glass(self, info: RequestInfo, person_id: str, reason: str) -> Reply:
        principal = info.principal
        now = self.clock()
        action = "break-glass"

        def run() -> Reply:
            with transaction(self.engine) as session:
                person = session.get(Person, person_id)
                refusal: tuple[int, str] | None
                if person is None:
                    refusal = (404, "no person")
                else:
                    decision = decide(
                        principal,
                        "Patient",
                        "break-glass",
                        basis="none",
                        patient_nhs_number=person.nhs_number,
                        policy=self.policy,
                    )
                    refusal = None if decision.allowed else (403, decision.reason)
                    if (
                        refusal is None
                        and len(reason.strip()) < self.settings.break_glass_min_reason_chars
                    ):
                        refusal = (400, "break-glass needs a stated reason")
                if refusal is None:
                    expires = now + timedelta(minutes=self.settings.break_glass_minutes)
                    grant = BreakGlassGrant(
                        id=str(uuid.uuid4()),
                        subject=principal.subject,
                        role=principal.role,
                        organisation=principal.organisation,
                        person_id=person_id,
                        reason=reason.strip(),
                        started_at=now,
                        expires_at=expires,
                    )
                    session.add(grant)
                    session.add(
                        Alert(
                            kind="break-glass",
                            subject=principal.subject,
                            person_id=person_id,
                            message=f"{principal.subject} ({principal.role}, "
                            f"{principal.organisation}) broke glass: {reason.strip()}; "
                            f"until {expires.isoformat()}",
                            created_at=now,
                        )
                    )
                    entry = self._entry(
                        info,
                        interaction="operation",
                        action=action,
                        outcome="0",
                        desc=f"granted until {expires.isoformat()}",
                        person_id=person_id,
                    )
                    entry.purpose = "ETREAT"
                    entry.break_glass_reason = reason.strip()
                    audit.append(session, entry, now=now)
                    log.warning(
                        "break-glass by %s for %s: %s", principal.subject, person_id, reason
                    )
                    return Reply(
                        201,
                        {
                            "resourceType": "Parameters",
                            "parameter": [
                                {"name": "grant", "valueString": grant.id},
                                {"name": "expires", "valueInstant": _instant(expires)},
                            ],
                        },
                    )
            return self.record_refusal(
                info,
                interaction="operation",
                action=action,
                status=refusal[0],
                reason=refusal[1],
                person_id=person_id,
            )

        return await to_thread.run_sync(run)

    async def access_log(self, info: RequestInfo, person_id: str) -> Reply:
        """Who has accessed this person's record (for the citizen or a privacy officer)."""
        principal = info.principal
        now = self.clock()

        def run() -> Reply:
            with transaction(self.engine) as session:
                grounds = self._grounds(session, principal, person_id, now)
                if grounds is None:
                    refusal: tuple[int, str] | None = (404, "no person")
                else:
                    decision = self._decisions(principal, ["AuditEvent"], grounds)["AuditEvent"]
                    refusal = None if decision.allowed else (403, decision.reason)
                if refusal is None:
                    events = list(audit.events_for_person(session, person_id))[:1000]
                    entry = self._entry(
                        info,
                        interaction="search-type",
                        action="search AuditEvent",
                        outcome="0",
                        desc=f"returned {len(events)}",
                        person_id=person_id,
                    )
                    entry.returned = {"AuditEvent": len(events)}
                    audit.append(session, entry, now=now)
                    origin = self.base_url or "urn:healthycity:exchange"
                    return Reply(
                        200,
                        searchset([(e, origin) for e in events], [], self_link=self._self(info)),
                    )
            return self.record_refusal(
                info,
                interaction="search-type",
                action="search AuditEvent",
                status=refusal[0],
                reason=refusal[1],
                person_id=person_id,
            )

        return await to_thread.run_sync(run)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _everything_query(
    items: list[tuple[str, str]], *, strict: bool, default_count: int, max_count: int
) -> Query:
    """``$everything``'s parameters: ``_count`` as any search's; ``start``/``end`` on the
    records' clinical time (records without one are kept: their time is unknown, not
    outside the range); ``_type`` a comma list of types; ``_since`` on lastUpdated."""
    controls = [(k, v) for k, v in items if k in ("_count", "_format", "_pretty")]
    query = parse(
        "Patient", controls, strict=strict, default_count=default_count, max_count=max_count
    )
    for name, value in items:
        if name in ("_count", "_format", "_pretty", CURSOR):
            continue
        if name not in EVERYTHING_PARAMS:
            text = f"parameter {name} is not supported on $everything"
            if strict:
                raise SearchError(f"{text} (Prefer: handling=strict)")
            query.not_applied.append(f"{text}; it was not applied")
            continue
        if name == "_type":
            types = tuple(t for t in value.split(",") if t)
            unknown = [t for t in types if t not in ("Patient", *SEARCHABLE_TYPES)]
            if unknown or not types:
                raise SearchError(f"_type names types this exchange does not hold: {unknown}")
            query.types = types
        else:
            prefix = {"start": "ge", "end": "le", "_since": "ge"}[name]
            param = COMMON_PARAMS["_lastUpdated"] if name == "_since" else DATE
            parse(
                "Patient",
                [(param.name, f"{prefix}{value}")],
                strict=True,
                default_count=default_count,
                max_count=max_count,
            )  # validates the date
            query.filters.append(
                Filter(param, (f"{prefix}{value}",), keep_undated=name != "_since")
            )
        query.applied.append((name, value))
    return query
