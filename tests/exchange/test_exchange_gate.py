"""The gate under change: grounds that move while the nodes answer, remembered grounds,
and audit records committed in batches.

A decision is taken on grounds read before the nodes were asked (or remembered from an
earlier request); it may leave the exchange only if those grounds are still the
person's when the decision is recorded. These tests change the grounds *while a node is
answering* and check that the reply honours the new grounds, and that batching audit
records never loses, reorders or breaks one.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from exchange_support import ordinary_record, patient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from healthycity.core.db import transaction
from healthycity.exchange.access.grounds import FactsCache, Grant, GroundFacts, PersonKey, evaluate
from healthycity.exchange.access.policy import AccessPolicy, Principal
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.audit.recorder import Recorder
from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.dev.harness import Harness
from healthycity.exchange.identity import index as identity
from healthycity.exchange.identity.nhsnumber import generate_test_numbers
from healthycity.exchange.models import AuditRecord, PersonLink, Relationship
from healthycity.exchange.settings import ExchangeSettings

ALICE, BOB = generate_test_numbers(2, seed=23)
LATENCY_MS = 600


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Harness]:
    engine = make_engine(f"sqlite:///{tmp_path / 'exchange.db'}")
    upgrade(engine)
    harness = Harness(
        engine, settings=ExchangeSettings(node_timeout_seconds=5.0, node_health_interval_seconds=0)
    )
    node = harness.add_node("slow")
    node.store.add_all(
        [
            patient("a", ALICE, "Smith", "Alice"),
            *ordinary_record("a", "a"),
            patient("b", BOB, "Jones", "Bob"),
            *ordinary_record("b", "b"),
        ]
    )
    other = harness.add_node("other")  # a second record for Alice, linked by NHS number
    other.store.add_all([patient("x", ALICE, "Smith", "Alice"), *ordinary_record("x", "x")])
    with harness:
        harness.relate(ALICE, "gp", "F84001")
        harness.relate(BOB, "gp", "F84001")
        yield harness
    engine.dispose()


def _token(world: Harness) -> str:
    return world.issuer.mint(subject="dr-who", role="R8000", organisation="F84001")


def _everything_while(world: Harness, person: str, change: Any) -> httpx.Response:
    """Ask for ``$everything`` and run ``change`` while the node is still answering."""
    world.nodes["slow"].faults.latency_ms = LATENCY_MS
    answer: dict[str, httpx.Response] = {}

    def ask() -> None:
        with world.client(_token(world)) as client:
            answer["r"] = client.get(f"/Patient/{person}/$everything")

    asker = threading.Thread(target=ask)
    asker.start()
    time.sleep(LATENCY_MS / 3000)  # the request has passed the pre-check by now
    change()
    asker.join(timeout=30)
    world.nodes["slow"].faults.latency_ms = 0
    return answer["r"]


def _last_event(world: Harness) -> dict[str, Any]:
    with transaction(world.engine) as session:
        body = session.execute(
            select(AuditRecord.body).order_by(AuditRecord.seq.desc()).limit(1)
        ).scalar_one()
    import orjson

    event: dict[str, Any] = orjson.loads(body)
    return event


def test_a_consent_recorded_while_the_nodes_answer_is_honoured(world: Harness) -> None:
    alice = world.person_id(ALICE)
    with world.client(_token(world)) as client:  # remembered grounds: record shared
        first = client.get(f"/Patient/{alice}/$everything")
    assert first.status_code == 200 and first.json()["total"] > 1
    opt_out = {"resourceType": "Consent", "status": "active", "provision": {"type": "deny"}}
    response = _everything_while(world, alice, lambda: world.consent(ALICE, opt_out))
    assert response.status_code == 200
    assert response.json()["total"] == 0  # nothing shown, and nothing says why
    event = _last_event(world)
    assert event["outcomeDesc"].startswith("$everything: returned 0, withheld ")
    with transaction(world.engine) as session:
        assert audit.verify(session).ok


def test_a_relationship_ended_while_the_nodes_answer_refuses(world: Harness) -> None:
    bob = world.person_id(BOB)
    with world.client(_token(world)) as client:
        assert client.get(f"/Patient/{bob}/$everything").status_code == 200

    def end_relationship() -> None:
        with transaction(world.engine) as session:
            session.execute(
                update(Relationship)
                .where(Relationship.person_id == bob)
                .values(ends_at=datetime.now(UTC) - timedelta(days=1))
            )

    response = _everything_while(world, bob, end_relationship)
    assert response.status_code == 403
    assert _last_event(world)["outcome"] == "4"
    with world.client(_token(world)) as client:  # and stays refused, before any node is asked
        requests_before = world.nodes["slow"].faults.requests
        assert client.get(f"/Patient/{bob}/$everything").status_code == 403
        assert world.nodes["slow"].faults.requests == requests_before


def test_a_refusal_is_never_taken_on_remembered_grounds(world: Harness) -> None:
    """Remembered grounds that would refuse are read again: a relationship that has just
    started counts at once."""
    alice = world.person_id(ALICE)
    with transaction(world.engine) as session:
        session.execute(
            update(Relationship)
            .where(Relationship.person_id == alice)
            .values(ends_at=datetime.now(UTC) - timedelta(days=1))
        )
    with world.client(_token(world)) as client:
        assert client.get(f"/Patient/{alice}/$everything").status_code == 403
        world.relate(ALICE, "gp", "F84001")
        assert client.get(f"/Patient/{alice}/$everything").status_code == 200


def test_a_record_unlinked_while_the_nodes_answer_is_not_shown(world: Harness) -> None:
    """What the nodes returned for the old links may be someone else's: the exchange asks
    again with the person's current records rather than judge the old answer."""
    alice = world.person_id(ALICE)
    with world.client(_token(world)) as client:
        found = {
            e["resource"]["id"] for e in client.get(f"/Patient/{alice}/$everything").json()["entry"]
        }
    assert {"x", "x-bp", "a", "a-bp"} <= found

    def split_off() -> None:
        with transaction(world.engine) as session:
            link = session.execute(
                select(PersonLink).where(PersonLink.person_id == alice, PersonLink.local_id == "x")
            ).scalar_one()
            identity.unlink(session, link.id, actor="steward")

    response = _everything_while(world, alice, split_off)
    assert response.status_code == 200
    shown = {e["resource"]["id"] for e in response.json()["entry"]}
    assert "a-bp" in shown
    assert not {i for i in shown if i.startswith("x")}  # nothing of the split-off record


# --- the pieces ---------------------------------------------------------------------------

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _principal(subject: str, role: str = "R8000") -> Principal:
    return Principal(
        subject=subject,
        issuer="https://issuer.test",
        role=role,
        organisation="F1",
        scopes=frozenset(),
        patient=None,
        purpose="TREAT",
        token_id=None,
    )


DOCTOR = _principal("dr")


def _facts(**overrides: Any) -> GroundFacts:
    values: dict[str, Any] = {
        "person": PersonKey("p1", ALICE),
        "version": 3,
        "links": [],
        "relationships": [],
        "grants": [],
        "directives": [],
        "citizen": False,
    }
    values.update(overrides)
    return GroundFacts(**values)


def test_a_remembered_grant_is_judged_at_the_moment_of_use() -> None:
    facts = _facts(grants=[Grant("g1", "unconscious in A&E", NOW + timedelta(minutes=5))])
    policy = AccessPolicy.default()
    assert evaluate(facts, DOCTOR, NOW, policy=policy).basis == "break-glass"
    assert evaluate(facts, DOCTOR, NOW + timedelta(minutes=6), policy=policy).basis == "none"


def test_the_facts_cache_keeps_requesters_apart_and_expires() -> None:
    cache = FactsCache(size=2, seconds=0.2)
    facts = _facts()
    cache.put(DOCTOR, facts)
    other = _principal("nurse", "R8001")
    assert cache.get(DOCTOR, "p1") is facts
    assert cache.get(other, "p1") is None  # grants are per requester
    time.sleep(0.25)
    assert cache.get(DOCTOR, "p1") is None
    cache.put(DOCTOR, facts)
    cache.forget("p1")
    assert cache.get(DOCTOR, "p1") is None
    for n in range(3):  # bounded
        cache.put(DOCTOR, _facts(person=PersonKey(f"p{n}", None)))
    assert cache.get(DOCTOR, "p0") is None and cache.get(DOCTOR, "p2") is not None


def _entry(n: int) -> audit.AuditEntry:
    return audit.AuditEntry(
        interaction="read",
        action=f"job {n}",
        outcome="0",
        outcome_desc="test",
        subject="tester",
        role="R8000",
        organisation="F1",
        issuer="https://issuer.test",
    )


def test_the_recorder_batches_keeps_the_chain_and_isolates_a_failing_job(
    engine: Engine,
) -> None:
    recorder = Recorder(engine, max_batch=16)

    def job(n: int) -> Any:
        def run(_session: Session) -> tuple[int, list[tuple[audit.AuditEntry, datetime]]]:
            if n == 7:
                raise ValueError("job 7 is broken")
            return n, [(_entry(n), NOW)]

        return run

    async def main() -> list[Any]:
        results = await asyncio.gather(
            *(recorder.run(job(n)) for n in range(40)), return_exceptions=True
        )
        await recorder.aclose()
        return list(results)

    results = asyncio.run(main())
    assert [r for r in results if not isinstance(r, Exception)] == [n for n in range(40) if n != 7]
    assert isinstance(results[7], ValueError)
    assert recorder.batches < recorder.jobs  # several jobs shared a transaction
    with transaction(engine) as session:
        report = audit.verify(session)
        actions = session.execute(select(AuditRecord.action).order_by(AuditRecord.seq)).scalars()
        recorded = sorted(int(a.split()[1]) for a in actions)
    assert report.ok and report.rows == 39
    assert recorded == [n for n in range(40) if n != 7]


def test_the_capability_statement_is_valid_and_names_every_operation() -> None:
    from healthycity.exchange.api import capability_statement, create_app
    from healthycity.exchange.federation.validation import ResourceValidator

    statement = capability_statement("http://127.0.0.1:8081")
    assert ResourceValidator(10).check(statement).ok
    declared = {o["name"] for r in statement["rest"][0]["resource"] for o in r.get("operation", [])}
    declared |= {o["name"] for o in statement["rest"][0]["operation"]}
    routes = create_app(ExchangeSettings(database_url="sqlite://")).openapi()["paths"]
    served = {path.rsplit("$", 1)[1] for path in routes if "$" in path}
    assert served == declared
