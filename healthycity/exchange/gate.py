"""The gate: the one choke point every read of patient data passes, and where every
request's decision and audit entry are made.

The shape of a federated read is always the same, and lives in :meth:`Gate._federated`
so that no operation (:mod:`operations`) can skip a step:

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

The operations (``operations.py``) are built on it; routes (``api.py``) only translate
HTTP into their calls and back.
"""

from __future__ import annotations

import logging
import secrets
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.db import read_transaction
from healthycity.exchange.access.consent import ConsentSession, release
from healthycity.exchange.access.grounds import (
    FactsCache,
    GroundFacts,
    Grounds,
    evaluate,
    grounds_version,
    load_facts,
    load_grounds,
)
from healthycity.exchange.access.policy import AccessDecision, AccessPolicy, Principal, decide
from healthycity.exchange.access.sensitivity import SensitivityClassifier
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.audit.chain import AuditEntry
from healthycity.exchange.audit.recorder import Recorder
from healthycity.exchange.federation.binarylinks import BinaryLinks
from healthycity.exchange.federation.fanout import Federator, Merged, NodeRequest, NodeTarget, merge
from healthycity.exchange.federation.validation import ResourceValidator
from healthycity.exchange.paging import PageLinks
from healthycity.exchange.settings import ExchangeSettings

log = logging.getLogger("healthycity.exchange")


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
    #: When set, only these types may be shown; the rest of the answer is context.
    only: frozenset[str] | None = None


class Gate:
    """The consent and access choke point over the exchange's database and the nodes:
    grounds, decisions (start, can-see, will-see, complete) and the audit of each."""

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
        paging = settings.page_link_secret
        self.pages = PageLinks(
            paging.get_secret_value().encode() if paging else key, settings.page_link_seconds
        )

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
        context_plan: Callable[[list[tuple[NodeTarget, str]]], list[NodeRequest]] | None = None,
    ) -> Reply:
        """A federated read. ``context_plan``, for reads of one type, asks the nodes for
        the person's whole record instead when their consent withholds anything from
        this requester: whether a record may be shown can depend on the records it
        points at (an encounter for a withheld diagnosis), so they must be in hand.
        Only ``requested_types`` are then shown."""
        principal = info.principal
        only = frozenset(requested_types) if context_plan is not None else None
        kind = _Kind(interaction, action, requested_types, finish, only)

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
            whole = context_plan is not None and self._consent_applies(facts, principal)
            asking = context_plan if whole and context_plan is not None else plan
            results = await self.federator.gather(asking(facts.links))
            merged = merge(results)
            now = self.clock()
            outcome = await self.recorder.run(
                self._check_and_record(info, person_id, kind, facts, merged, now, whole=whole)
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
        *,
        whole: bool = True,
    ) -> Callable[[Session], tuple[Reply | GroundFacts, list[tuple[AuditEntry, datetime]]]]:
        """The job that makes a decision count, run in the audit's transaction.

        The decision stands if the grounds it was taken on are still the person's. If
        they moved, it is taken again on what they are now; but if the person's records
        moved (a record unlinked, merged or added), what the nodes returned may belong to
        someone else, so nothing is shown and the fresh facts are handed back for the
        nodes to be asked again; so too when a read of one type was answered without
        the whole record (``whole``) and a consent now applies.
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
            if kind.only is not None and not whole and self._consent_applies(fresh, principal):
                return fresh, []  # a consent now applies: the whole record is needed
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

    def _consent_applies(self, facts: GroundFacts, principal: Principal) -> bool:
        """Whether the person's consent may withhold something from this requester."""
        grounds = self._evaluate(facts, principal, self.clock())
        return bool(grounds.directives) and grounds.consent_mode == "normal"

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
        candidates = merged.candidates
        if kind.only is not None:
            candidates = [c for c in candidates if c.ref.split("/")[0] in kind.only]
        types = [str(c.resource.get("resourceType")) for c in candidates]
        decisions = self._decisions(principal, types or kind.requested_types, grounds)
        allowed = [c for c in candidates if decisions[c.ref.split("/")[0]].allowed]
        role_withheld = Counter(
            f"role policy: {c.ref.split('/')[0]}"
            for c in candidates
            if not decisions[c.ref.split("/")[0]].allowed
        )
        kept = {id(c) for c in allowed}
        released = release(
            grounds.consent_session(principal, now),
            allowed,
            self.classifier,
            context=[c for c in merged.candidates if id(c) not in kept],
        )
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

    def _self(self, info: RequestInfo) -> str:
        return f"{self.base_url or info.base}/{info.query.lstrip('/')}"
