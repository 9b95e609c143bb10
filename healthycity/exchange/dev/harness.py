"""Local exchange nodes and the exchange itself, wired together on loopback.

The demo, the tests and the benchmarks all need the same arrangement: N FHIR test
servers (one event loop, one port each), a database with those nodes registered and
their patients indexed, a token issuer, and the exchange serving real HTTP against them.
Keeping it in one place means the tests exercise exactly what the demo shows.
Everything binds to 127.0.0.1; nothing here contacts another address.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.exchange.access.policy import StaticKeys, TokenVerifier
from healthycity.exchange.dev.devkeys import DemoIssuer
from healthycity.exchange.dev.testserver import Faults, FhirStore, NodeServers, ServerThread
from healthycity.exchange.federation import nodes
from healthycity.exchange.identity import index as identity
from healthycity.exchange.identity.index import Scorer
from healthycity.exchange.models import ConsentRecord, Node, Person, Relationship
from healthycity.exchange.settings import ExchangeSettings


def closed_port_url() -> str:
    """A loopback URL nothing listens on (a node that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@dataclass
class NodeHandle:
    name: str
    store: FhirStore
    faults: Faults
    url: str = ""
    down: bool = False


@dataclass
class Harness:
    """Build with :meth:`add_node`, then :meth:`start`; use as a context manager."""

    engine: Engine
    settings: ExchangeSettings = field(
        default_factory=lambda: ExchangeSettings(
            node_timeout_seconds=1.0, node_health_interval_seconds=0
        )
    )
    issuer: DemoIssuer = field(default_factory=DemoIssuer)
    scorer: Scorer | None = None
    now: datetime | None = None  # None: the real clock; set it to travel in time
    nodes: dict[str, NodeHandle] = field(default_factory=dict)
    exchange_url: str = ""
    exchange_port: int = 0
    _node_server: NodeServers | None = None
    _exchange_server: ServerThread | None = None

    def clock(self) -> datetime:
        return self.now or datetime.now(UTC)

    def add_node(
        self, name: str, store: FhirStore | None = None, faults: Faults | None = None
    ) -> NodeHandle:
        handle = NodeHandle(name, store or FhirStore(), faults or Faults())
        self.nodes[name] = handle
        return handle

    def add_down_node(self, name: str, patients: Iterable[dict[str, Any]] = ()) -> NodeHandle:
        """A node that is registered (and holds people in the index) but is not running."""
        handle = self.add_node(name)
        handle.store.add_all(patients)
        handle.down = True
        return handle

    def start(self) -> Harness:
        running = [h for h in self.nodes.values() if not h.down]
        if running:
            self._node_server = NodeServers([(h.name, h.store, h.faults) for h in running])
            for handle, url in zip(running, self._node_server.urls, strict=True):
                handle.url = url
            self._node_server.start()
        for handle in self.nodes.values():
            if handle.down:
                handle.url = closed_port_url()
        with transaction(self.engine) as session:
            for handle in self.nodes.values():
                node = nodes.register_node(
                    session, name=handle.name, base_url=handle.url, sub_region="test"
                )
                for patient in handle.store.patients():
                    identity.index_patient(session, node, patient, scorer=self.scorer)
        from healthycity.exchange.api import create_app as create_exchange

        verifier = TokenVerifier(
            StaticKeys(self.issuer.jwks()),
            issuer=self.issuer.issuer,
            audience=self.issuer.audience,
        )
        self._exchange_server = ServerThread(
            create_exchange(
                self.settings,
                engine=self.engine,
                verifier=verifier,
                clock=self.clock,
                base_url="",
            ),
            port=self.exchange_port,
        )
        self.exchange_url = self._exchange_server.urls[0]
        self._exchange_server.start()
        return self

    def stop(self) -> None:
        for server in (self._exchange_server, self._node_server):
            if server is not None:
                server.stop()

    def __enter__(self) -> Harness:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the world ------------------------------------------------------------------

    def person_id(self, nhs_number: str) -> str:
        with transaction(self.engine) as session:
            person = identity.person_by_nhs_number(session, nhs_number)
            if person is None:
                raise LookupError(nhs_number)
            return person.id

    def relate(
        self,
        nhs_number: str,
        kind: str,
        organisation: str | None,
        practitioner: str | None = None,
        *,
        starts: datetime | None = None,
        ends: datetime | None = None,
    ) -> None:
        person_id = self.person_id(nhs_number)
        with transaction(self.engine) as session:
            session.add(
                Relationship(
                    person_id=person_id,
                    kind=kind,
                    organisation=organisation,
                    practitioner=practitioner,
                    starts_at=starts or self.clock() - timedelta(days=365),
                    ends_at=ends,
                )
            )

    def consent(self, nhs_number: str, resource: Mapping[str, Any]) -> None:
        person_id = self.person_id(nhs_number)
        body = dict(resource) | {"patient": {"reference": f"Patient/{person_id}"}}
        with transaction(self.engine) as session:
            session.add(
                ConsentRecord(
                    person_id=person_id,
                    resource=body,
                    status=str(body.get("status", "active")),
                    recorded_at=self.clock(),
                    recorded_by="harness",
                )
            )

    def restrict(self, nhs_number: str) -> None:
        with transaction(self.engine) as session:
            person = session.execute(
                select(Person).where(Person.nhs_number == nhs_number)
            ).scalar_one()
            person.restricted = True

    def node_row(self, name: str) -> Node:
        with transaction(self.engine) as session:
            return session.execute(select(Node).where(Node.name == name)).scalar_one()

    def client(self, token: str | None = None, timeout: float = 10.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.exchange_url, headers=headers, timeout=timeout, trust_env=False
        )
