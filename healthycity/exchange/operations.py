"""The exchange's operations: reads, searches, ``$everything``, documents, break-glass,
the access log and consent writes.

Every federated read goes through the gate (:meth:`gate.Gate._federated`); operations
that only touch the exchange's own database take their decision with the same policy
and audit in the transaction that makes the change.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from anyio import to_thread

from healthycity.core.db import transaction
from healthycity.exchange.access.consent import (
    Candidate,
    release,
)
from healthycity.exchange.access.grounds import Grounds
from healthycity.exchange.access.policy import decide
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.consents import ConsentOperations
from healthycity.exchange.federation.fanout import NodeRequest, NodeTarget, searchset
from healthycity.exchange.gate import Reply, RequestInfo, log, operation_outcome
from healthycity.exchange.identity import index as identity
from healthycity.exchange.identity.nhsnumber import NHS_NUMBER_SYSTEM, validated
from healthycity.exchange.models import Alert, BreakGlassGrant, Person

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
PERSON_SYSTEM = "https://healthycity.invalid/Id/exchange-person"


class ExchangeService(ConsentOperations):
    """The exchange's operations over its database and the nodes, all through the gate."""

    async def everything(self, info: RequestInfo, person_id: str) -> Reply:
        def finish(
            shown: list[tuple[dict[str, Any], str]], issues: list[dict[str, Any]], _: Grounds
        ) -> Reply:
            return Reply(200, searchset(shown, issues, self_link=self._self(info)))

        return await self._federated(
            info,
            person_id=person_id,
            interaction="operation",
            action="$everything",
            requested_types=["Patient", *SEARCHABLE_TYPES],
            plan=_whole_record,
            finish=finish,
        )

    async def search_type(self, info: RequestInfo, resource_type: str, person_id: str) -> Reply:
        def plan(links: list[tuple[NodeTarget, str]]) -> list[NodeRequest]:
            return [
                NodeRequest(node, resource_type, {"patient": local}, patient=local)
                for node, local in links
            ]

        def finish(
            shown: list[tuple[dict[str, Any], str]], issues: list[dict[str, Any]], _: Grounds
        ) -> Reply:
            matching = [(r, o) for r, o in shown if r.get("resourceType") == resource_type]
            return Reply(200, searchset(matching, issues, self_link=self._self(info)))

        return await self._federated(
            info,
            person_id=person_id,
            interaction="search-type",
            action=f"search {resource_type}",
            requested_types=[resource_type],
            plan=plan,
            finish=finish,
            context_plan=_whole_record,
        )

    async def read_patient(
        self, info: RequestInfo, person_id: str, *, as_search: bool = False
    ) -> Reply:
        """The person as one Patient, composed live from the nodes' records."""

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
            golden = self._golden(grounds, patients)
            if as_search:
                entries = [(golden, self.base_url)]
                return Reply(200, searchset(entries, issues, self_link=self._self(info)))
            return Reply(200, golden)

        return await self._federated(
            info,
            person_id=person_id,
            interaction="search-type" if as_search else "read",
            action="search Patient (identifier)" if as_search else "read Patient",
            requested_types=["Patient"],
            plan=plan,
            finish=finish,
        )

    def _golden(
        self, grounds: Grounds, patients: list[tuple[dict[str, Any], str]]
    ) -> dict[str, Any]:
        """One Patient for the person: demographics from the first node's (released)
        record, identifiers and links from all of them."""
        first = patients[0][0]
        person = grounds.person
        identifiers: list[dict[str, Any]] = [{"system": PERSON_SYSTEM, "value": person.id}]
        if person.nhs_number:
            identifiers.append({"system": NHS_NUMBER_SYSTEM, "value": person.nhs_number})
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
        return {
            "resourceType": "Patient",
            "id": person.id,
            "meta": meta,
            "identifier": identifiers,
            **golden,
            "link": links,
        }

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

    async def search_patient_demographics(
        self, info: RequestInfo, family: str, birth_date: date, given: str | None
    ) -> Reply:
        """A PDS-style trace on the index: scored matches, each released through consent
        and audited against the person it discloses."""
        principal = info.principal
        now = self.clock()

        def run() -> Reply:
            with transaction(self.engine) as session:
                found = identity.search_persons(
                    session, family=family, birth_date=birth_date, given=given
                )
                entries: list[tuple[dict[str, Any], str]] = []
                scores: dict[int, float] = {}
                for person, score in found:
                    grounds = self._grounds(session, principal, person.id, now)
                    if grounds is None:
                        continue
                    decision = self._decisions(principal, ["Patient"], grounds)["Patient"]
                    if not decision.allowed:
                        continue
                    summary = self._index_patient(person)
                    released = release(
                        self._session(principal, grounds, now),
                        [Candidate(summary, self.base_url or "urn:healthycity:exchange")],
                        self.classifier,
                    )
                    if not released.resources:
                        continue
                    scores[len(entries)] = score
                    entries.append(released.resources[0])
                    entry = self._entry(
                        info,
                        interaction="search-type",
                        action="search Patient (demographics)",
                        outcome="0",
                        desc=f"match score {score:.2f}",
                        person_id=person.id,
                    )
                    entry.returned = {"Patient": 1}
                    audit.append(session, entry, now=now)
                withheld = len(found) - len(entries)
                if not entries:
                    entry = self._entry(
                        info,
                        interaction="search-type",
                        action="search Patient (demographics)",
                        outcome="0",
                        desc="no match shown",
                    )
                    entry.withheld = withheld
                    audit.append(session, entry, now=now)
            return Reply(200, searchset(entries, [], self_link=self._self(info), scores=scores))

        return await to_thread.run_sync(run)

    def _index_patient(self, person: Person) -> dict[str, Any]:
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "id": person.id,
            "meta": {"source": self.base_url or "urn:healthycity:exchange"},
            "identifier": [{"system": PERSON_SYSTEM, "value": person.id}],
        }
        if person.nhs_number:
            patient["identifier"].append({"system": NHS_NUMBER_SYSTEM, "value": person.nhs_number})
        name: dict[str, Any] = {}
        if person.family_name:
            name["family"] = person.family_name
        if person.given_name:
            name["given"] = [person.given_name]
        if name:
            patient["name"] = [name]
        if person.birth_date:
            patient["birthDate"] = person.birth_date.isoformat()
        if person.sex:
            patient["gender"] = person.sex
        if person.postcode and not person.restricted:
            patient["address"] = [{"postalCode": person.postcode}]
        if person.restricted:
            patient["meta"]["security"] = [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
            ]
        return patient

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


def _whole_record(links: list[tuple[NodeTarget, str]]) -> list[NodeRequest]:
    """Ask every node holding the person for their whole record there."""
    return [
        NodeRequest(node, f"Patient/{local}/$everything", {}, patient=local)
        for node, local in links
    ]


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
