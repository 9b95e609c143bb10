"""The exchange's operations: every read goes through one gate, and every request is audited.

The shape of a federated read is always the same, and lives in :meth:`ExchangeService.
_federated` so that no route can skip a step:

1. *Facts* for this requester and person: the person and their records at each node,
   relationships, break-glass grants, consents, and the person's *grounds version*
   (moved by database triggers whenever any of those change). Facts read recently for
   the same requester and person are re-used (:class:`~grounds.FactsCache`).
2. A *pre-check* refuses early (and audits the refusal) when the role policy and scopes
   allow none of the requested types, so nodes are not even asked. A refusal is always
   taken on facts read afresh, never on remembered ones.
3. The nodes are asked concurrently (:mod:`federation`), outside any transaction.
4. The grounds are judged at this moment, each resource type is checked against the
   role policy, and the consent session releases what may be shown
   (:func:`consent.release`); this yields the reply and its AuditEntry.
5. In **one transaction** (:mod:`recorder`, shared by whatever requests are ready at
   the same moment): the person's grounds version is compared with the one the decision
   was taken on — if they differ (a consent recorded while the nodes were answering),
   the facts are read again and the decision is taken again, there — and the AuditEntry
   is appended to the hash chain. The reply leaves only after that transaction commits.

Routes (``api.py``) only translate HTTP into these calls and back.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from anyio import to_thread
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.exchange import audit, identity
from healthycity.exchange.access import (
    AccessDecision,
    AccessPolicy,
    Principal,
    decide,
)
from healthycity.exchange.audit import AuditEntry
from healthycity.exchange.binarylinks import BinaryLinks
from healthycity.exchange.consent import (
    Candidate,
    ConsentFormatError,
    ConsentSession,
    compile_consent,
    release,
)
from healthycity.exchange.db import read_transaction, transaction
from healthycity.exchange.federation import (
    Federator,
    Merged,
    NodeRequest,
    NodeTarget,
    merge,
    searchset,
)
from healthycity.exchange.grounds import (
    FactsCache,
    GroundFacts,
    Grounds,
    evaluate,
    grounds_version,
    load_facts,
    load_grounds,
)
from healthycity.exchange.models import (
    Alert,
    BreakGlassGrant,
    ConsentRecord,
    Person,
)
from healthycity.exchange.nhsnumber import NHS_NUMBER_SYSTEM, validated
from healthycity.exchange.recorder import Recorder
from healthycity.exchange.sensitivity import SensitivityClassifier
from healthycity.exchange.settings import ExchangeSettings
from healthycity.exchange.validation import ResourceValidator

log = logging.getLogger("healthycity.exchange")

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


def operation_outcome(code: str, text: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """The HTTP request as the audit trail needs it."""

    principal: Principal
    query: str
    client: str | None = None
    base: str = ""  # the exchange's own base URL as this request reached it


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


#: Builds an operation's reply from what may be shown, the node issues and the grounds.
Finish = Callable[[list[tuple[dict[str, Any], str]], list[dict[str, Any]], Grounds], Reply]


def _link_keys(links: Sequence[tuple[NodeTarget, str]]) -> set[tuple[str, str]]:
    """Which node records a person is made of, for comparing two readings."""
    return {(node.base_url, local) for node, local in links}


@dataclass(frozen=True, slots=True)
class _Kind:
    """What a federated read is, for deciding and auditing it."""

    interaction: str
    action: str
    requested_types: Sequence[str]
    finish: Finish


class ExchangeService:
    """The exchange's operations over its database and the nodes."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: ExchangeSettings,
        federator: Federator,
        policy: AccessPolicy | None = None,
        classifier: SensitivityClassifier | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        base_url: str = "",
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.federator = federator
        self.policy = policy or AccessPolicy.default()
        self.classifier = classifier or SensitivityClassifier.default()
        self.clock = clock
        self.base_url = base_url.rstrip("/")
        self.facts = FactsCache(settings.grounds_cache_size, settings.grounds_cache_seconds)
        self.recorder = Recorder(engine, max_batch=settings.audit_batch_size)
        secret = settings.binary_link_secret
        key = secret.get_secret_value().encode() if secret else secrets.token_bytes(32)
        self.links = BinaryLinks(key, settings.binary_link_seconds)

    @property
    def validator(self) -> ResourceValidator:
        return self.federator.validator

    # --- grounds --------------------------------------------------------------------

    def _grounds(
        self, session: Session, principal: Principal, person_id: str, now: datetime
    ) -> Grounds | None:
        return load_grounds(
            session,
            principal,
            person_id,
            now,
            policy=self.policy,
            node_timeout=self.settings.node_timeout_seconds,
        )

    def _session(self, principal: Principal, grounds: Grounds, now: datetime) -> ConsentSession:
        return grounds.consent_session(principal, now)

    # --- auditing -------------------------------------------------------------------

    def _entry(
        self,
        info: RequestInfo,
        *,
        interaction: str,
        action: str,
        outcome: audit.Outcome,
        desc: str,
        person_id: str | None = None,
    ) -> audit.AuditEntry:
        p = info.principal
        return audit.AuditEntry(
            interaction=interaction,
            action=action,
            outcome=outcome,
            outcome_desc=desc,
            subject=p.subject,
            role=p.role,
            organisation=p.organisation,
            issuer=p.issuer or None,
            purpose=p.purpose,
            person_id=person_id,
            query=info.query,
            client_address=info.client,
        )

    def _refusal(
        self,
        info: RequestInfo,
        *,
        interaction: str,
        action: str,
        status: int,
        reason: str,
        person_id: str | None = None,
    ) -> tuple[Reply, audit.AuditEntry]:
        """A refused request's reply (401/403/404/400) and its audit entry."""
        entry = self._entry(
            info,
            interaction=interaction,
            action=action,
            outcome="4" if status < 500 else "8",
            desc=f"refused ({status}): {reason}",
            person_id=person_id if person_id and status != 404 else None,
        )
        code = {401: "login", 403: "forbidden", 404: "not-found"}.get(status, "invalid")
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        text = reason if status != 404 else "not found"
        return Reply(status, operation_outcome(code, text), headers), entry

    def record_refusal(
        self,
        info: RequestInfo,
        *,
        interaction: str,
        action: str,
        status: int,
        reason: str,
        person_id: str | None = None,
    ) -> Reply:
        """Audit a refused request in a transaction of its own and build its reply (for
        operations that run on a worker thread)."""
        job = self._refusal_job(info, interaction, action, status, reason, person_id)
        [(ok, value)] = self.recorder.run_batch([job])
        if not ok:
            raise value
        reply: Reply = value
        return reply

    async def refuse(
        self,
        info: RequestInfo,
        *,
        interaction: str,
        action: str,
        status: int,
        reason: str,
        person_id: str | None = None,
    ) -> Reply:
        """Audit a refused request (with the recorder's next batch) and build its reply."""
        return await self.recorder.run(
            self._refusal_job(info, interaction, action, status, reason, person_id)
        )

    def _refusal_job(
        self,
        info: RequestInfo,
        interaction: str,
        action: str,
        status: int,
        reason: str,
        person_id: str | None,
    ) -> Callable[[Session], tuple[Reply, list[tuple[AuditEntry, datetime]]]]:
        """A refusal as a recorder job: its reply, and the audit entry that must commit
        before the reply leaves."""
        reply, entry = self._refusal(
            info,
            interaction=interaction,
            action=action,
            status=status,
            reason=reason,
            person_id=person_id,
        )
        now = self.clock()
        return lambda _session: (reply, [(entry, now)])

    # --- the federated read ---------------------------------------------------------

    async def _federated(
        self,
        info: RequestInfo,
        *,
        person_id: str,
        interaction: str,
        action: str,
        requested_types: Sequence[str],
        plan: Callable[[list[tuple[NodeTarget, str]]], list[NodeRequest]],
        finish: Finish,
    ) -> Reply:
        principal = info.principal
        kind = _Kind(interaction, action, requested_types, finish)

        async def refuse(status: int, reason: str) -> Reply:
            return await self.refuse(
                info,
                interaction=interaction,
                action=action,
                status=status,
                reason=reason,
                person_id=person_id,
            )

        def why_not(facts: GroundFacts) -> str | None:
            grounds = self._evaluate(facts, principal, self.clock())
            return self._refusal_reason(principal, grounds, requested_types)

        facts = self.facts.get(principal, person_id)
        remembered = facts is not None
        asked = 0
        while asked < 3:
            if facts is None:
                facts = await to_thread.run_sync(self._read_facts, principal, person_id)
                if facts is None:
                    return await refuse(404, "no person")
            reason = why_not(facts)
            if reason is not None:
                if remembered:  # a refusal is never taken on remembered grounds: read them
                    facts, remembered = None, False
                    continue
                return await refuse(403, reason)
            asked += 1
            results = await self.federator.gather(plan(facts.links))
            merged = merge(results)
            now = self.clock()
            outcome = await self.recorder.run(
                self._check_and_record(info, person_id, kind, facts, merged, now)
            )
            if not isinstance(outcome, GroundFacts):
                return outcome
            facts, remembered = outcome, False  # the records moved meanwhile: ask again
        return await refuse(
            409, "the person's records kept changing while the nodes were asked; try again"
        )

    def _check_and_record(
        self,
        info: RequestInfo,
        person_id: str,
        kind: _Kind,
        facts: GroundFacts,
        merged: Merged,
        now: datetime,
    ) -> Callable[[Session], tuple[Reply | GroundFacts, list[tuple[AuditEntry, datetime]]]]:
        """The job that makes a decision count, run in the audit's transaction.

        The decision stands if the grounds it was taken on are still the person's. If
        they moved, it is taken again on what they are now; but if the person's records
        moved (a record unlinked, merged or added), what the nodes returned may belong to
        someone else, so nothing is shown and the fresh facts are handed back for the
        nodes to be asked again.
        """
        principal = info.principal
        answer = self._decide(info, person_id, kind, facts, merged, now)

        def job(session: Session) -> tuple[Reply | GroundFacts, list[tuple[AuditEntry, datetime]]]:
            version = grounds_version(session, person_id)
            if version == facts.version:
                return answer
            fresh = None
            if version is not None:
                fresh = load_facts(
                    session,
                    principal,
                    person_id,
                    now,
                    node_timeout=self.settings.node_timeout_seconds,
                )
            if fresh is None:  # the person is gone (merged or removed) meanwhile
                reply, entry = self._refusal(
                    info,
                    interaction=kind.interaction,
                    action=kind.action,
                    status=404,
                    reason="no person",
                )
                return reply, [(entry, now)]
            self.facts.put(principal, fresh)
            if _link_keys(fresh.links) != _link_keys(facts.links):
                return fresh, []
            return self._decide(info, person_id, kind, fresh, merged, now)

        return job

    def _read_facts(self, principal: Principal, person_id: str) -> GroundFacts | None:
        with read_transaction(self.engine) as session:
            facts = load_facts(
                session,
                principal,
                person_id,
                self.clock(),
                node_timeout=self.settings.node_timeout_seconds,
            )
        if facts is not None:
            self.facts.put(principal, facts)
        return facts

    def _evaluate(self, facts: GroundFacts, principal: Principal, now: datetime) -> Grounds:
        return evaluate(facts, principal, now, policy=self.policy)

    def _refusal_reason(
        self, principal: Principal, grounds: Grounds, requested_types: Sequence[str]
    ) -> str | None:
        """Why the role policy and scopes allow none of the requested types, or None."""
        decisions = self._decisions(principal, requested_types, grounds)
        if any(d.allowed for d in decisions.values()):
            return None
        return next(iter(decisions.values())).reason

    def _decide(
        self,
        info: RequestInfo,
        person_id: str,
        kind: _Kind,
        facts: GroundFacts,
        merged: Merged,
        now: datetime,
    ) -> tuple[Reply, list[tuple[AuditEntry, datetime]]]:
        """What may be shown of the nodes' answers, and the audit entry saying so (pure:
        the caller makes it count by committing the entry)."""
        principal = info.principal
        grounds = self._evaluate(facts, principal, now)
        reason = self._refusal_reason(principal, grounds, kind.requested_types)
        if reason is not None:  # the grounds changed while the nodes answered
            reply, refused = self._refusal(
                info,
                interaction=kind.interaction,
                action=kind.action,
                status=403,
                reason=reason,
                person_id=person_id,
            )
            return reply, [(refused, now)]
        types = [str(c.resource.get("resourceType")) for c in merged.candidates]
        decisions = self._decisions(principal, types or kind.requested_types, grounds)
        allowed = [c for c in merged.candidates if decisions[c.ref.split("/")[0]].allowed]
        role_withheld = Counter(
            f"role policy: {c.ref.split('/')[0]}"
            for c in merged.candidates
            if not decisions[c.ref.split("/")[0]].allowed
        )
        released = release(grounds.consent_session(principal, now), allowed, self.classifier)
        base = self.base_url or info.base
        shown = [
            (self.links.rewrite(r, origin, person_id, principal.subject, base), origin)
            for r, origin in released.resources
        ]
        outcome = released.outcome
        withheld = outcome.withheld + sum(role_withheld.values())
        entry = self._entry(
            info,
            interaction=kind.interaction,
            action=kind.action,
            outcome="0",
            desc=f"returned {len(shown)}, withheld {withheld}",
            person_id=person_id,
        )
        entry.returned = Counter(str(r.get("resourceType")) for r, _ in shown)
        entry.withheld = withheld
        entry.withheld_reasons = outcome.reasons + role_withheld
        entry.redacted = outcome.redacted
        entry.overridden = outcome.overridden
        entry.break_glass_reason = grounds.grant.reason if grounds.grant else None
        entry.node_issues = tuple(merged.node_summaries)
        return kind.finish(shown, merged.issues, grounds), [(entry, now)]

    def _decisions(
        self, principal: Principal, types: Sequence[str], grounds: Grounds
    ) -> dict[str, AccessDecision]:
        return {
            t: decide(
                principal,
                t,
                "read",
                basis=grounds.basis,
                patient_nhs_number=grounds.person.nhs_number,
                policy=self.policy,
            )
            for t in dict.fromkeys(types)
        }

    # --- operations -----------------------------------------------------------------

    async def everything(self, info: RequestInfo, person_id: str) -> Reply:
        def plan(links: list[tuple[NodeTarget, str]]) -> list[NodeRequest]:
            return [
                NodeRequest(node, f"Patient/{local}/$everything", {}, patient=local)
                for node, local in links
            ]

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
            plan=plan,
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

    async def record_consent(self, info: RequestInfo, resource: Mapping[str, Any]) -> Reply:
        """A citizen states their wishes: store a Consent about their own record."""
        principal = info.principal
        now = self.clock()
        action = "create Consent"
        reference = str((resource.get("patient") or {}).get("reference", ""))
        person_id = reference.removeprefix("Patient/") if reference.startswith("Patient/") else ""
        problem: str | None = None
        if resource.get("resourceType") != "Consent":
            problem = "the body must be a Consent"
        elif not person_id:
            problem = "Consent.patient must reference Patient/{id}"
        else:
            verdict = self.validator.check(resource)
            if not verdict.ok:
                problem = f"invalid Consent ({verdict.problem})"
            else:
                try:
                    compile_consent(resource)
                except ConsentFormatError as error:
                    problem = str(error)
        if problem is not None:
            return await self.refuse(
                info, interaction="create", action=action, status=400, reason=problem
            )

        def run() -> Reply:
            with transaction(self.engine) as session:
                grounds = self._grounds(session, principal, person_id, now)
                if grounds is None:
                    refusal: tuple[int, str] | None = (404, "no person")
                else:
                    decision = decide(
                        principal,
                        "Consent",
                        "write",
                        basis=grounds.basis,
                        patient_nhs_number=grounds.person.nhs_number,
                        policy=self.policy,
                    )
                    refusal = None if decision.allowed else (403, decision.reason)
                if refusal is None:
                    record = ConsentRecord(
                        person_id=person_id,
                        resource=dict(resource),
                        status=str(resource.get("status")),
                        recorded_at=now,
                        recorded_by=principal.subject,
                    )
                    session.add(record)
                    session.flush()
                    stored = dict(resource) | {"id": f"consent-{record.id}"}
                    record.resource = stored
                    audit.append(
                        session,
                        self._entry(
                            info,
                            interaction="create",
                            action=action,
                            outcome="0",
                            desc=f"stored consent-{record.id}",
                            person_id=person_id,
                        ),
                        now=now,
                    )
                    return Reply(201, stored, {"Location": f"Consent/consent-{record.id}"})
            return self.record_refusal(
                info,
                interaction="create",
                action=action,
                status=refusal[0],
                reason=refusal[1],
                person_id=person_id,
            )

        return await to_thread.run_sync(run)

    def _self(self, info: RequestInfo) -> str:
        return f"{self.base_url or info.base}/{info.query.lstrip('/')}"


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
