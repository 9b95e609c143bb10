"""Federated ``$everything`` latency: 25 nodes each adding 50 ms, 20 concurrent clients
(target: p95 under 150 ms).

Three processes, as in production the exchange would not share a core with its nodes
or its clients:

1. 25 FHIR test nodes on loopback (one event loop, one port each), every one holding a
   record for each of the benchmark's people and adding 50 ms to every response;
2. the exchange (uvicorn) over a SQLite (or, with ``--database postgres``, PostgreSQL)
   database in which the nodes are registered, the people indexed and a GP
   relationship recorded;
3. this process: 20 clients, each issuing ``GET /Patient/{id}/$everything`` back to back
   for random people with a GP's token, after a warm-up. They share keep-alive
   connections through the exchange's lean HTTP client (an httpx client here would take
   a third of a core from the exchange on a 2-core machine).

Every request is authenticated, fanned out to all 25 nodes, validated, consent-filtered
and audited, as in normal operation.

It prints the latency percentiles against the target and the CPU each process spent
per request, so a regression can be told from a busy machine.

    .venv/bin/python benchmarks/bench_exchange_everything.py [--nodes 25] [--clients 20]
        [--database sqlite|postgres] [--exchange-workers 1] [--seconds 20]
        [--fanout lean|httpx]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

from healthycity.exchange.federation.nodeclient import NodeClient
from healthycity.exchange.identity.nhsnumber import generate_test_numbers

PEOPLE = 40


def _record(node: int, person: int, number: str) -> list[dict[str, Any]]:
    local = f"n{node}-p{person}"
    subject = {"reference": f"Patient/{local}"}
    sct = "http://snomed.info/sct"
    return [
        {
            "resourceType": "Patient",
            "id": local,
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": number}],
            "name": [{"family": f"Family{person}", "given": ["Sam"]}],
            "gender": "female",
            "birthDate": "1970-01-01",
        },
        {"resourceType": "Condition", "id": f"{local}-c", "subject": subject,
         "code": {"coding": [{"system": sct, "code": "44054006"}]}},
        {"resourceType": "Observation", "id": f"{local}-o", "status": "final", "subject": subject,
         "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
         "valueQuantity": {"value": 120 + node, "unit": "mmHg"}},
        {"resourceType": "MedicationRequest", "id": f"{local}-m", "status": "active",
         "intent": "order", "subject": subject, "medicationCodeableConcept": {"text": "Metformin"}},
        {"resourceType": "Immunization", "id": f"{local}-i", "status": "completed",
         "patient": subject, "occurrenceDateTime": "2025-10-01",
         "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "140"}]}},
        {"resourceType": "Encounter", "id": f"{local}-e", "status": "finished", "subject": subject,
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}},
    ]  # fmt: skip


def serve_nodes(count: int, latency_ms: float, numbers: list[str], urls: Any) -> None:
    """Process 1: the nodes."""
    from healthycity.exchange.dev.testserver import Faults, FhirStore, NodeServers

    served = []
    for node in range(count):
        store = FhirStore()
        for person, number in enumerate(numbers):
            store.add_all(_record(node, person, number))
        served.append((f"node-{node}", store, Faults(latency_ms=latency_ms)))
    servers = NodeServers(served)
    urls.put(servers.urls)
    servers.serve_forever()


def serve_exchange(
    database: str,
    jwks: dict[str, Any],
    issuer: str,
    audience: str,
    port: Any,
    workers: int = 1,
    fanout: str = "lean",
) -> None:
    """Process 2: the exchange (with ``workers`` > 1, uvicorn's worker processes, each
    configured from the environment as ``healthycity exchange serve --workers`` does)."""
    import socket

    import uvicorn

    if workers > 1:
        import json

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            free = probe.getsockname()[1]
        keys = Path(tempfile.mkdtemp()) / "jwks.json"
        keys.write_text(json.dumps(jwks))
        os.environ.update(
            {
                "HEALTHYCITY_EXCHANGE_DATABASE_URL": database,
                "HEALTHYCITY_EXCHANGE_JWKS_PATH": str(keys),
                "HEALTHYCITY_EXCHANGE_JWT_ISSUER": issuer,
                "HEALTHYCITY_EXCHANGE_JWT_AUDIENCE": audience,
                "HEALTHYCITY_EXCHANGE_NODE_HEALTH_INTERVAL_SECONDS": "0",
            }
        )
        port.put(free)
        uvicorn.run(
            "healthycity.exchange.api:create_app",
            factory=True,
            host="127.0.0.1",
            port=free,
            workers=workers,
            log_level="warning",
            access_log=False,
        )
        return

    from healthycity.exchange.access.policy import StaticKeys, TokenVerifier
    from healthycity.exchange.api import create_app
    from healthycity.exchange.db import make_engine
    from healthycity.exchange.settings import ExchangeSettings

    settings = ExchangeSettings(
        database_url=database, node_timeout_seconds=2.0, node_health_interval_seconds=0
    )
    verifier = TokenVerifier(StaticKeys(jwks), issuer=issuer, audience=audience)
    client = None
    if fanout == "httpx":  # the comparison behind docs/decisions/0010-exchange.md
        client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=2000, max_keepalive_connections=2000),
            timeout=10,
            trust_env=False,
        )
    app = create_app(settings, engine=make_engine(database), verifier=verifier, client=client)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port.put(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", access_log=False, backlog=2048)
    profile_to = os.environ.get("BENCH_EXCHANGE_PROFILE")
    if profile_to:  # a profile of the exchange under load, written when it is stopped
        import cProfile
        import signal

        profiler = cProfile.Profile()

        def stop(*_: object) -> None:
            profiler.disable()
            profiler.dump_stats(profile_to)
            os._exit(0)

        signal.signal(signal.SIGTERM, stop)
        profiler.enable()
    uvicorn.Server(config).run(sockets=[sock])


async def client_loop(
    client: NodeClient,
    headers: dict[str, str],
    people: list[str],
    deadline: float,
    out: list[float],
    seed: int,
    expected: int,
) -> int:
    import random

    rng = random.Random(seed)
    errors = 0
    while time.perf_counter() < deadline:
        person = rng.choice(people)
        started = time.perf_counter()
        response = await client.get(f"Patient/{person}/$everything", None, headers)
        elapsed = time.perf_counter() - started
        if response.status != 200 or orjson.loads(response.body)["total"] != expected:
            if errors == 0 and seed < 100:
                print(f"unexpected answer {response.status}: {response.body[-600:]!r}")
            errors += 1
        out.append(elapsed)
    return errors


def cpu_seconds(root: int, *, descendants: bool = True) -> float:
    """CPU time (user + system) used so far by process ``root`` (and its descendants)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, wanted = 0.0, {root}
    changed = descendants
    while changed:
        changed = False
        for pid, (parent, _) in stats.items():
            if parent in wanted and pid not in wanted:
                wanted.add(pid)
                changed = True
    for pid in wanted:
        total += stats.get(pid, (0, 0.0))[1]
    return total


async def drive(
    url: str,
    token: str,
    people: list[str],
    clients: int,
    seconds: float,
    expected: int,
    meters: dict[str, int] | None = None,
) -> tuple[list[float], int, dict[str, float]]:
    """The clients: keep-alive connections through the exchange's own lean HTTP client,
    because on a 2-core machine an httpx client costs the exchange a share of a core."""
    client = NodeClient(url, max_idle=clients, connect_timeout=5)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        for person in people:  # every record seen once: validation verdicts are cached
            await client.get(f"Patient/{person}/$everything", None, headers)
        warm: list[float] = []
        await asyncio.gather(
            *(
                client_loop(
                    client, headers, people, time.perf_counter() + 3, warm, 100 + i, expected
                )
                for i in range(clients)
            )
        )
        timings: list[float] = []
        pids = {"clients": os.getpid(), **(meters or {})}

        def reading(name: str, pid: int) -> float:
            return cpu_seconds(pid, descendants=name != "clients")

        before = {name: reading(name, pid) for name, pid in pids.items()}
        deadline = time.perf_counter() + seconds
        errors = await asyncio.gather(
            *(
                client_loop(client, headers, people, deadline, timings, i, expected)
                for i in range(clients)
            )
        )
        used = {name: reading(name, pid) - before[name] for name, pid in pids.items()}
    finally:
        await client.aclose()
    return timings, sum(errors), used


POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _database(kind: str) -> tuple[str, Any]:
    """A fresh database for the exchange, and how to remove it afterwards."""
    if kind == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="bench-exchange-"))
        return f"sqlite:///{folder / 'exchange.db'}", lambda: None
    from sqlalchemy import create_engine, text

    name = f"bench_exchange_{os.getpid()}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return POSTGRES_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=25)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--exchange-workers", type=int, default=1)
    parser.add_argument(
        "--fanout",
        choices=["lean", "httpx"],
        default="lean",
        help="the exchange's client for the nodes: its own (default) or one httpx.AsyncClient",
    )
    parser.add_argument(
        "--database",
        choices=["sqlite", "postgres"],
        default="sqlite",
        help="the exchange's database (postgres: a scratch database on 127.0.0.1:5432)",
    )
    args = parser.parse_args()

    from sqlalchemy import select

    from healthycity.core.db import transaction
    from healthycity.exchange.db import make_engine, upgrade
    from healthycity.exchange.dev.devkeys import DemoIssuer
    from healthycity.exchange.federation import nodes
    from healthycity.exchange.identity import index as identity
    from healthycity.exchange.models import Node, Relationship

    numbers = generate_test_numbers(PEOPLE, seed=5)
    context = multiprocessing.get_context("spawn")
    url_queue = context.Queue()
    node_process = context.Process(
        target=serve_nodes, args=(args.nodes, args.latency_ms, numbers, url_queue), daemon=True
    )
    node_process.start()
    node_urls: list[str] = url_queue.get(timeout=120)

    database, drop = _database(args.database)
    engine = make_engine(database)
    upgrade(engine)
    from datetime import UTC, datetime, timedelta

    with transaction(engine) as session:
        for index, url in enumerate(node_urls):
            node = nodes.register_node(session, name=f"node-{index:02d}", base_url=url)
            for person, number in enumerate(numbers):
                identity.index_patient(session, node, _record(index, person, number)[0])
    people: list[str] = []
    with transaction(engine) as session:
        assert len(session.execute(select(Node)).scalars().all()) == args.nodes
        for number in numbers:
            person = identity.person_by_nhs_number(session, number)
            assert person is not None
            people.append(person.id)
            session.add(
                Relationship(
                    person_id=person.id, kind="gp", organisation="F84001",
                    starts_at=datetime.now(UTC) - timedelta(days=30),
                )
            )  # fmt: skip
    engine.dispose()

    issuer = DemoIssuer()
    port_queue = context.Queue()
    exchange_process = context.Process(
        target=serve_exchange,
        args=(
            database,
            issuer.jwks(),
            issuer.issuer,
            issuer.audience,
            port_queue,
            args.exchange_workers,
            args.fanout,
        ),
        daemon=args.exchange_workers == 1,  # uvicorn's workers are its children,
    )
    exchange_process.start()
    url = f"http://127.0.0.1:{port_queue.get(timeout=120)}"
    ready_by = time.monotonic() + 120
    while True:
        try:
            httpx.get(f"{url}/metadata", timeout=1, trust_env=False)
            break
        except httpx.HTTPError:
            if time.monotonic() > ready_by:
                raise
            time.sleep(0.2)
    token = issuer.mint(subject="dr-bench", role="R8000", organisation="F84001", lifetime=7200)
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    try:
        meters = {"exchange": exchange_process.pid or 0, "nodes": node_process.pid or 0}
        timings, errors, used = asyncio.run(
            drive(url, token, people, args.clients, args.seconds, args.nodes * 6, meters)
        )
    finally:
        exchange_process.terminate()
        node_process.terminate()
        exchange_process.join(timeout=10)
        drop()
    timings.sort()
    p50 = statistics.median(timings) * 1000
    p95 = timings[int(0.95 * (len(timings) - 1))] * 1000
    p99 = timings[int(0.99 * (len(timings) - 1))] * 1000
    print(
        f"{args.nodes} nodes x {args.latency_ms:g} ms latency, {args.clients} clients, "
        f"{len(timings)} requests in {args.seconds:g} s ({len(timings) / args.seconds:.0f}/s), "
        f"{errors} errors"
    )
    print(
        f"each response: {args.nodes * 6} resources from {args.nodes} nodes; database: "
        f"{args.database}; fan-out client: {args.fanout}; exchange "
        f"workers: {args.exchange_workers}; load average before: {load_before}"
    )
    print(
        "CPU per request, ms: "
        + "; ".join(f"{name} {1000 * cpu / max(1, len(timings)):.2f}" for name, cpu in used.items())
        + f" (machine: {os.cpu_count()} cores)"
    )
    print(f"latency ms: p50 {p50:.1f}  p95 {p95:.1f}  p99 {p99:.1f}  max {timings[-1] * 1000:.1f}")
    met = p95 < 150 and errors == 0
    print(
        f"target: p95 under 150 ms: {'met' if met else 'MISSED'} (p95 / target = {p95 / 150:.2f})"
    )
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
