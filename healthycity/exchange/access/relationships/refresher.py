"""Refreshing legitimate relationships: asking the nodes, deriving, storing, on a schedule.

:func:`refresh` asks every enabled node holding each person for the records that bear
on their relationships (:func:`fetch_node`), derives them (:mod:`.derivation`) and
replaces each node's rows (:mod:`.storage`) in one transaction per person; a node that
fails keeps its rows. :func:`watch` runs it on the running exchange's schedule.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from anyio import to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.db import read_transaction, transaction
from healthycity.exchange.access.grounds import as_utc, node_links
from healthycity.exchange.access.relationships.derivation import (
    Derivation,
    DerivationRules,
    derive,
    references_to_fetch,
)
from healthycity.exchange.access.relationships.storage import (
    SyncCounts,
    forget_unlinked_nodes,
    sync_person_node,
)
from healthycity.exchange.federation.fanout import (
    Federator,
    NodeRequest,
    NodeResult,
    NodeTarget,
    follow,
)
from healthycity.exchange.models import Person

log = logging.getLogger("healthycity.exchange.relationships")

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from healthycity.exchange.settings import ExchangeSettings

#: What :func:`refresh` asks each node for, per local Patient id.
SEARCHED_TYPES = ("CareTeam", "ServiceRequest", "Encounter", "EpisodeOfCare")
#: How many rounds of "fetch what the records point at" a refresh makes (a
#: PractitionerRole found in round one may point at an Organization fetched in round two).
REFERENCE_ROUNDS = 2
#: Pages of one search a refresh follows (`next` links) before calling the answer
#: incomplete, at ``_count=PAGE_SIZE`` each: a person with more is a data problem to report,
#: not something to read forever.
MAX_PAGES = 20
PAGE_SIZE = 1000


# --- asking the nodes -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeFailed:
    person_id: str
    node: str
    error: str


@dataclass
class PersonOutcome:
    """What a refresh did for one person."""

    person_id: str
    counts: SyncCounts = field(default_factory=SyncCounts)
    nodes: int = 0
    failures: list[NodeFailed] = field(default_factory=list)
    unusable: int = 0
    missing: bool = False  # no such person (any more)


@dataclass
class RefreshReport:
    """The totals of a refresh over many persons."""

    persons: int = 0
    counts: SyncCounts = field(default_factory=SyncCounts)
    failures: list[NodeFailed] = field(default_factory=list)
    unusable: int = 0
    missing: list[str] = field(default_factory=list)

    def include(self, outcome: PersonOutcome) -> None:
        self.persons += 1
        self.counts += outcome.counts
        self.failures += outcome.failures
        self.unusable += outcome.unusable
        if outcome.missing:
            self.missing.append(outcome.person_id)


def _failure(results: Sequence[NodeResult]) -> str | None:
    """Why these answers cannot be trusted to be complete, if they cannot. Resources a
    node sent but the exchange dropped (invalid FHIR, about someone else) could hold a
    relationship, so they count as a failure too: nothing is removed on partial data."""
    for result in results:
        if result.error is not None:
            return result.error
        if result.invalid:
            return f"sent {result.invalid} invalid resource(s)"
        if result.foreign:
            return f"sent {result.foreign} resource(s) about another patient"
    return None


async def fetch_node(
    federator: Federator, node: NodeTarget, local_ids: Sequence[str]
) -> tuple[list[dict[str, Any]], str | None]:
    """One node's records that bear on the person's relationships: the Patient, the
    searches in :data:`SEARCHED_TYPES` for each local id, then (up to
    :data:`REFERENCE_ROUNDS` times) the Organizations and Practitioners they point at.
    Returns the resources, or the reason the node's answer is incomplete.

    Every request names the local patient: a 404 then means "not here" rather than a
    node failure, and the fan-out refuses anything about another patient.
    """
    requests: list[NodeRequest] = []
    for local in local_ids:
        requests.append(NodeRequest(node, f"Patient/{local}", {}, local))
        requests += [
            NodeRequest(node, kind, {"patient": local, "_count": str(PAGE_SIZE)}, local)
            for kind in SEARCHED_TYPES
        ]
    results = await federator.gather(requests)
    problem = _failure(results)
    if problem is not None:
        return [], problem
    resources = [r for result in results for r in result.resources]
    for page in range(MAX_PAGES):
        following = [
            (r, follow(node, r.next_url, r_request.patient))
            for r, r_request in zip(results, requests, strict=True)
            if r.next_url
        ]
        if not following:
            break
        if page == MAX_PAGES - 1 or any(request is None for _, request in following):
            return [], "its search results go on beyond what a refresh reads, or page elsewhere"
        requests = [request for _, request in following if request is not None]
        results = await federator.gather(requests)
        problem = _failure(results)
        if problem is not None:
            return [], problem
        resources += [r for result in results for r in result.resources]
    asked: set[tuple[str, str]] = set()
    for _ in range(REFERENCE_ROUNDS):
        wanted = references_to_fetch(resources) - asked
        if not wanted:
            break
        asked |= wanted
        results = await federator.gather(
            [NodeRequest(node, f"{kind}/{rid}", {}, local_ids[0]) for kind, rid in sorted(wanted)]
        )
        problem = _failure(results)
        if problem is not None:
            return [], problem
        resources += [r for result in results for r in result.resources]
    return resources, None


async def refresh_person(
    engine: Engine,
    federator: Federator,
    person_id: str,
    *,
    rules: DerivationRules,
    now: datetime,
    node_timeout: float,
) -> PersonOutcome:
    """Ask every enabled node holding this person, derive, and sync each node that
    answered completely, in one transaction. A node that failed keeps its rows."""
    outcome = PersonOutcome(person_id)

    def read_links() -> list[tuple[NodeTarget, str]]:
        with read_transaction(engine) as session:
            return node_links(session, person_id, node_timeout)

    links = await to_thread.run_sync(read_links)
    by_node: dict[str, tuple[NodeTarget, list[str]]] = {}
    for node, local in links:
        by_node.setdefault(node.name, (node, []))[1].append(local)
    outcome.nodes = len(by_node)
    answers = await asyncio.gather(
        *(fetch_node(federator, node, locals_) for node, locals_ in by_node.values())
    )
    derived: dict[str, Derivation] = {}
    for name, (resources, problem) in zip(by_node, answers, strict=True):
        if problem is not None:
            outcome.failures.append(NodeFailed(person_id, name, problem))
            continue
        derived[name] = derive(resources, now, rules)
        outcome.unusable += len(derived[name].unusable)

    def write() -> None:
        with transaction(engine) as session:
            if session.get(Person, person_id) is None:
                outcome.missing = True
                return
            for name, derivation in derived.items():
                outcome.counts += sync_person_node(
                    session, person_id, name, derivation.relationships
                )
            outcome.counts.removed += forget_unlinked_nodes(session, person_id)

    await to_thread.run_sync(write)
    return outcome


def all_person_ids(session: Session) -> list[str]:
    return list(session.execute(select(Person.id).order_by(Person.id)).scalars())


async def refresh(
    engine: Engine,
    federator: Federator,
    settings: ExchangeSettings,
    *,
    person_ids: Sequence[str] | None = None,
    now: datetime | None = None,
    concurrency: int = 8,
    progress: Callable[[PersonOutcome], None] | None = None,
) -> RefreshReport:
    """Refresh the node-derived relationships of these persons (default: everyone).

    ``concurrency`` persons are in flight at once (each asks all its nodes at once).
    ``progress`` is called after each person. Node failures are in the report; the
    rows from a failed node stay as they were.
    """
    if person_ids is None:

        def everyone() -> list[str]:
            with read_transaction(engine) as session:
                return all_person_ids(session)

        person_ids = await to_thread.run_sync(everyone)
    rules = DerivationRules.from_settings(settings)
    moment = as_utc(now or datetime.now(UTC))
    report = RefreshReport()
    pending = iter(person_ids)

    async def worker() -> None:
        for person_id in pending:
            outcome = await refresh_person(
                engine,
                federator,
                person_id,
                rules=rules,
                now=moment,
                node_timeout=settings.node_timeout_seconds,
            )
            report.include(outcome)
            if progress is not None:
                progress(outcome)

    await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    return report


async def watch(
    engine: Engine, settings: ExchangeSettings, federator: Federator, interval: float
) -> None:
    """Refresh everyone's node-derived relationships every ``interval`` seconds until
    cancelled (the running exchange's schedule, through its own federator; the first
    round waits one interval, as ``exchange relationships refresh`` is there for an
    immediate one). A failed round is logged and the next one still happens."""
    while True:
        await asyncio.sleep(interval)
        try:
            report = await refresh(engine, federator, settings)
            log.info(
                "relationships refreshed: %d persons, %d added, %d removed, %d node failures",
                report.persons,
                report.counts.added,
                report.counts.removed,
                len(report.failures),
            )
        except Exception:  # keep the schedule whatever one round hit
            log.exception("relationship refresh failed")
