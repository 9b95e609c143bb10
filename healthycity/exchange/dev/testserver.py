"""A small FHIR R4 server of our own, standing in for a local exchange.

The demo and the tests need many independent FHIR servers on one machine that can be
told to misbehave: add latency, time out, fail with 500, send malformed JSON, send an
invalid resource, or leak another patient's record. Real servers (HAPI and the like)
are too heavy to start 25 of and cannot be made to fail on cue, so this module serves
the handful of interactions the exchange uses from an in-memory store:

``GET /metadata``, ``GET /Patient?identifier=|family=|given=|birthdate=|gender=``,
``GET /Patient`` (paged, for indexing), ``GET /Patient/{id}``,
``GET /Patient/{id}/$everything``, ``GET /{type}?patient=`` (or ``subject=``),
``GET /{type}/{id}`` and ``GET /Binary/{id}``.

It is a test double, not a FHIR server: no writes, no history, no _include.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import parse_qsl, unquote

import httptools
import orjson
from starlette.types import ASGIApp

FHIR_JSON = "application/fhir+json"
FaultMode = Literal["ok", "timeout", "error", "malformed", "slow", "invalid", "foreign"]

#: Elements through which a resource belongs to a patient's compartment (the subset of
#: the R4 Patient CompartmentDefinition that the served resource types use).
PATIENT_LINKS = ("subject", "patient", "beneficiary", "individual")


def _patient_of(resource: Mapping[str, Any]) -> str | None:
    for element in PATIENT_LINKS:
        value = resource.get(element)
        if isinstance(value, dict):
            ref = value.get("reference")
            if isinstance(ref, str) and ref.startswith("Patient/"):
                return ref.split("/", 1)[1]
    return None


class FhirStore:
    """Resources in memory, indexed by type/id and by patient compartment."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, dict[str, Any]]] = {}
        self.compartments: dict[str, list[tuple[str, str]]] = {}
        self.history: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(self, resource: dict[str, Any]) -> None:
        """Store ``resource``; one carrying ``meta.versionId`` is also kept as that
        version (so the node answers ``_history/{vid}``, as servers with history do)."""
        resource_type, resource_id = resource["resourceType"], str(resource["id"])
        version = (resource.get("meta") or {}).get("versionId")
        if version:
            self.history[(resource_type, resource_id, str(version))] = resource
        by_id = self.resources.setdefault(resource_type, {})
        newer = resource_id in by_id  # a new version: already in its compartment
        by_id[resource_id] = resource
        patient = _patient_of(resource)
        if patient is not None and resource_type != "Patient" and not newer:
            self.compartments.setdefault(patient, []).append((resource_type, resource_id))

    def add_all(self, resources: Iterable[dict[str, Any]]) -> None:
        for resource in resources:
            self.add(resource)

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        return self.resources.get(resource_type, {}).get(resource_id)

    def version(self, resource_type: str, resource_id: str, version: str) -> dict[str, Any] | None:
        return self.history.get((resource_type, resource_id, version))

    def count(self) -> int:
        return sum(len(by_id) for by_id in self.resources.values())

    def patients(self) -> list[dict[str, Any]]:
        return list(self.resources.get("Patient", {}).values())

    def compartment(
        self, patient_id: str, resource_type: str | None = None
    ) -> list[dict[str, Any]]:
        found = []
        for kind, resource_id in self.compartments.get(patient_id, []):
            if resource_type is None or kind == resource_type:
                resource = self.get(kind, resource_id)
                if resource is not None:
                    found.append(resource)
        return found

    def search_patients(self, params: Mapping[str, str]) -> list[dict[str, Any]]:
        matches = []
        for patient in self.patients():
            if _patient_matches(patient, params):
                matches.append(patient)
        return matches


def _patient_matches(patient: Mapping[str, Any], params: Mapping[str, str]) -> bool:
    identifier = params.get("identifier")
    if identifier:
        system, bar, value = identifier.rpartition("|")
        if not bar:
            system, value = "", identifier
        if not any(
            i.get("value") == value and (not system or i.get("system") == system)
            for i in patient.get("identifier", [])
        ):
            return False
    names = patient.get("name", [])
    family = params.get("family")
    if family and not any(
        str(n.get("family", "")).lower().startswith(family.lower()) for n in names
    ):
        return False
    given = params.get("given")
    if given and not any(
        str(g).lower().startswith(given.lower()) for n in names for g in n.get("given", [])
    ):
        return False
    birthdate = params.get("birthdate")
    if birthdate and patient.get("birthDate") != birthdate.removeprefix("eq"):
        return False
    gender = params.get("gender")
    return not (gender and patient.get("gender") != gender)


# --- loading ----------------------------------------------------------------------------


def read_ndjson(path: Path) -> Iterator[dict[str, Any]]:
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                yield orjson.loads(line)


def _rewrite_references(value: Any, mapping: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            if key == "reference" and isinstance(inner, str) and inner in mapping:
                out[key] = mapping[inner]
            else:
                out[key] = _rewrite_references(inner, mapping)
        return out
    if isinstance(value, list):
        return [_rewrite_references(item, mapping) for item in value]
    return value


def bundle_resources(bundle: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The resources of a (transaction, batch or collection) Bundle, with ``urn:uuid``
    full URLs turned into ordinary ``Type/id`` references, as a server would on import."""
    mapping: dict[str, str] = {}
    resources: list[dict[str, Any]] = []
    for entry in bundle.get("entry", []):
        resource = entry.get("resource")
        if not isinstance(resource, dict):
            continue
        full_url = entry.get("fullUrl", "")
        if "id" not in resource and full_url.startswith("urn:uuid:"):
            resource = resource | {"id": full_url.removeprefix("urn:uuid:")}
        if full_url:
            mapping[full_url] = f"{resource['resourceType']}/{resource['id']}"
        resources.append(resource)
    return [_rewrite_references(r, mapping) for r in resources]


# --- faults -----------------------------------------------------------------------------


@dataclass
class Faults:
    """How a node misbehaves; tests flip these while the server runs."""

    latency_ms: float = 0.0
    mode: FaultMode = "ok"
    slow_ms: float = 10_000.0
    requests: int = field(default=0, compare=False)


# --- answering ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Answer:
    """What a node says to one request, before any fault is applied."""

    status: int
    data: Any


def _outcome(status: int, code: str, text: str) -> Answer:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    return Answer(status, body)


def _searchset(base: str, resources: Sequence[Mapping[str, Any]], total: int | None = None) -> Any:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources) if total is None else total,
        "entry": [
            {
                "fullUrl": f"{base}/{r['resourceType']}/{r['id']}",
                "resource": r,
                "search": {"mode": "match"},
            }
            for r in resources
        ],
    }


def _number(value: str | None, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default


def answer(store: FhirStore, name: str, base: str, path: str, query: Mapping[str, str]) -> Answer:
    """The node's answer to ``GET {path}?{query}`` (pure: the same store, the same answer)."""
    parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
    if parts == ["metadata"]:
        return Answer(
            200,
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "date": "2026-01-01",
                "kind": "instance",
                "fhirVersion": "4.0.1",
                "format": ["json"],
                "software": {"name": f"healthycity test node {name}"},
                "implementation": {"description": name, "url": base},
            },
        )
    if len(parts) == 3 and parts[0] == "Patient" and parts[2] == "$everything":
        patient = store.get("Patient", parts[1])
        if patient is None:
            return _outcome(404, "not-found", f"Patient/{parts[1]}")
        return Answer(200, _searchset(base, [patient, *store.compartment(parts[1])]))
    if len(parts) == 2:
        resource = store.get(parts[0], parts[1])
        if resource is None:
            return _outcome(404, "not-found", f"{parts[0]}/{parts[1]}")
        return Answer(200, resource)
    if len(parts) == 1 and parts[0] == "Patient":
        params = dict(query)
        count = min(max(_number(params.pop("_count", None), 100), 1), 1000)
        offset = max(_number(params.pop("_offset", None), 0), 0)
        matches = store.search_patients(params)
        bundle = _searchset(base, matches[offset : offset + count], total=len(matches))
        if offset + count < len(matches):
            bundle["link"] = [
                {
                    "relation": "next",
                    "url": f"{base}/Patient?_count={count}&_offset={offset + count}",
                }
            ]
        return Answer(200, bundle)
    if len(parts) == 4 and parts[2] == "_history":
        kept = store.version(parts[0], parts[1], parts[3])
        if kept is None:
            return _outcome(404, "not-found", f"{parts[0]}/{parts[1]} has no version {parts[3]}")
        return Answer(200, kept)
    if len(parts) == 1 and "_id" in query and not (query.get("patient") or query.get("subject")):
        by_id = [store.get(parts[0], wanted) for wanted in query["_id"].split(",")]
        return Answer(200, _searchset(base, [r for r in by_id if r is not None]))
    if len(parts) == 1:
        target = query.get("patient") or query.get("subject")
        if not target:
            return _outcome(400, "not-supported", "search needs patient= or subject=")
        patient_id = target.removeprefix("Patient/")
        found = store.compartment(patient_id, parts[0])
        count = min(max(_number(query.get("_count"), 1000), 1), 1000)
        offset = max(_number(query.get("_offset"), 0), 0)
        bundle = _searchset(base, found[offset : offset + count], total=len(found))
        if offset + count < len(found):
            bundle["link"] = [
                {
                    "relation": "next",
                    "url": f"{base}/{parts[0]}?patient={patient_id}&_count={count}"
                    f"&_offset={offset + count}",
                }
            ]
        return Answer(200, bundle)
    return _outcome(404, "not-found", f"no route for {path}")


def _spoil(data: Any, mode: str) -> Any:
    """A copy of a searchset whose first entry is invalid, or whose last names another
    patient (the "invalid" and "foreign" faults)."""
    if not (isinstance(data, dict) and data.get("entry")):
        return data
    spoilt = orjson.loads(orjson.dumps(data))  # never touch the store's own resources
    if mode == "invalid":
        first = spoilt["entry"][0]["resource"]
        first["birthDate" if first["resourceType"] == "Patient" else "status"] = 12
    else:
        last = spoilt["entry"][-1]["resource"]
        for element in ("subject", "patient"):
            if element in last:
                last[element] = {"reference": "Patient/someone-else"}
    return spoilt


# --- serving ----------------------------------------------------------------------------

_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found", 405: b"Method Not Allowed"}
_MALFORMED = b'{"resourceType": "Bundle", "entry": ['


def _http(status: int, body: bytes, keep_alive: bool) -> bytes:
    reason = _REASONS.get(status, b"Internal Server Error" if status >= 500 else b"Error")
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/fhir+json\r\ncontent-length: %d\r\n"
        b"connection: %s\r\n\r\n"
        % (status, reason, len(body), b"keep-alive" if keep_alive else b"close")
    )
    return head + body


class _NodeProtocol(asyncio.Protocol):
    """One client connection to one node: HTTP/1.1 requests in, answers out, in order.

    A plain protocol over the C parser rather than an ASGI app under a server: 25 nodes
    in one process answer a fan-out's 25 requests, and on a 2-core machine every
    microsecond a node spends is one the exchange under test does not get.
    """

    def __init__(self, node: Node) -> None:
        self.node = node
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.queue: list[tuple[bytes, bytes, bool]] = []  # method, url, keep-alive
        self.busy = False
        self.pending: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            if self.transport is not None:
                self.transport.write(_http(400, b"{}", False))
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.pending is not None:  # the client gave up: do not answer into the void
            self.pending.cancel()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_message_complete(self) -> None:
        method = self.parser.get_method()
        self.queue.append((method, self.url, self.parser.should_keep_alive()))
        self.url = b""
        if not self.busy:
            self._next()

    def _next(self) -> None:
        if not self.queue or self.transport is None:
            self.busy = False
            return
        self.busy = True
        method, url, keep_alive = self.queue.pop(0)
        faults = self.node.faults
        faults.requests += 1
        delay = faults.latency_ms / 1000
        if faults.mode == "timeout":
            return  # never answers; the client's deadline is what ends it
        if faults.mode == "slow":
            delay += faults.slow_ms / 1000
        if delay > 0:
            loop = asyncio.get_running_loop()
            self.pending = loop.call_later(delay, self._respond, method, url, keep_alive)
        else:
            self._respond(method, url, keep_alive)

    def _respond(self, method: bytes, url: bytes, keep_alive: bool) -> None:
        self.pending = None
        if self.transport is None:
            return
        self.transport.write(self.node.respond(method, url, keep_alive))
        if keep_alive:
            self._next()
        else:
            self.transport.close()


@dataclass
class Node:
    """One node being served: its store, its faults, its address."""

    store: FhirStore
    faults: Faults
    name: str
    base: str = ""

    def respond(self, method: bytes, url: bytes, keep_alive: bool) -> bytes:
        mode = self.faults.mode
        if method != b"GET":
            return _http(
                405, orjson.dumps(_outcome(405, "not-supported", "GET only").data), keep_alive
            )
        if mode == "error":
            return _http(
                500, orjson.dumps(_outcome(500, "exception", "injected failure").data), keep_alive
            )
        if mode == "malformed":
            return _http(200, _MALFORMED, keep_alive)
        parsed = httptools.parse_url(url)
        query = dict(parse_qsl((parsed.query or b"").decode("latin-1")))
        result = answer(self.store, self.name, self.base, parsed.path.decode("latin-1"), query)
        data = _spoil(result.data, mode) if mode in ("invalid", "foreign") else result.data
        return _http(result.status, orjson.dumps(data), keep_alive)


class NodeServers:
    """Test nodes on loopback ports, all served by one event loop in a background thread.

    Each node gets its own ephemeral port on 127.0.0.1. Use as a context manager, or
    call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self, nodes: Sequence[tuple[str, FhirStore, Faults]], *, host: str = "127.0.0.1"
    ) -> None:
        if not nodes:
            raise ValueError("nothing to serve")
        self.host = host
        self.sockets: list[socket.socket] = []
        self.nodes: list[Node] = []
        for name, store, faults in nodes:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, 0))
            sock.listen(1024)
            self.sockets.append(sock)
            port = sock.getsockname()[1]
            self.nodes.append(Node(store, faults, name, f"http://{host}:{port}"))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True, name="test-nodes")
        self._ready = threading.Event()

    @property
    def urls(self) -> list[str]:
        return [node.base for node in self.nodes]

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def listen() -> list[asyncio.Server]:
            servers = []
            for node, sock in zip(self.nodes, self.sockets, strict=True):
                servers.append(
                    await self.loop.create_server(functools.partial(_NodeProtocol, node), sock=sock)
                )
            return servers

        servers = self.loop.run_until_complete(listen())
        self._ready.set()
        try:
            self.loop.run_forever()
        finally:
            for server in servers:
                server.close()
            self.loop.run_until_complete(asyncio.sleep(0))
            self.loop.close()

    def start(self, timeout: float = 10.0) -> NodeServers:
        self.thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("test nodes did not start")
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until the process ends (the benchmark's nodes)."""
        self._run()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()

    def __enter__(self) -> NodeServers:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- running servers in a thread --------------------------------------------------------


class ServerThread:
    """Uvicorn serving one ASGI app (the exchange) on a loopback port, in a background
    thread. Binds 127.0.0.1 only; ``port`` 0 picks a free one. Use as a context manager,
    or call :meth:`start` and :meth:`stop`."""

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(1024)
        self.sockets = [sock]
        self.host = host
        self.ports = [sock.getsockname()[1]]
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=1,
            backlog=1024,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": self.sockets}, daemon=True
        )

    @property
    def urls(self) -> list[str]:
        return [f"http://{self.host}:{port}" for port in self.ports]

    def start(self, timeout: float = 10.0) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)
        for sock in self.sockets:
            sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
