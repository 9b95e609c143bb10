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
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

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

    def add(self, resource: dict[str, Any]) -> None:
        resource_type, resource_id = resource["resourceType"], str(resource["id"])
        self.resources.setdefault(resource_type, {})[resource_id] = resource
        patient = _patient_of(resource)
        if patient is not None and resource_type != "Patient":
            self.compartments.setdefault(patient, []).append((resource_type, resource_id))

    def add_all(self, resources: Iterable[dict[str, Any]]) -> None:
        for resource in resources:
            self.add(resource)

    def get(self, resource_type: str, resource_id: str) -> dict[str, Any] | None:
        return self.resources.get(resource_type, {}).get(resource_id)

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


def load_path(store: FhirStore, path: Path) -> int:
    """Load an NDJSON file, a Bundle, or a folder of them; returns resources added."""
    before = store.count()
    paths = sorted(path.iterdir()) if path.is_dir() else [path]
    for item in paths:
        if item.suffix == ".ndjson":
            store.add_all(r for r in read_ndjson(item) if "resourceType" in r and "id" in r)
        elif item.suffix == ".json":
            data = orjson.loads(item.read_bytes())
            if data.get("resourceType") == "Bundle":
                store.add_all(bundle_resources(data))
            elif "id" in data:
                store.add(data)
    return store.count() - before


# --- faults -----------------------------------------------------------------------------


@dataclass
class Faults:
    """How a node misbehaves; tests flip these while the server runs."""

    latency_ms: float = 0.0
    mode: FaultMode = "ok"
    slow_ms: float = 10_000.0
    requests: int = field(default=0, compare=False)


# --- the app ----------------------------------------------------------------------------


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=FHIR_JSON)


def _outcome(status: int, code: str, text: str) -> Response:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": text}],
    }
    return _json(body, status)


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


def create_app(store: FhirStore, faults: Faults | None = None, *, name: str = "node") -> ASGIApp:
    """An ASGI app serving ``store``, misbehaving as ``faults`` says."""
    faults = faults or Faults()

    def base_of(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    async def metadata(request: Request) -> Response:
        return _json(
            {
                "resourceType": "CapabilityStatement",
                "status": "active",
                "date": "2026-01-01",
                "kind": "instance",
                "fhirVersion": "4.0.1",
                "format": ["json"],
                "software": {"name": f"healthycity test node {name}"},
                "implementation": {"description": name, "url": base_of(request)},
            }
        )

    async def patient_search(request: Request) -> Response:
        params = dict(request.query_params)
        count = min(int(params.pop("_count", "100") or 100), 1000)
        offset = int(params.pop("_offset", "0") or 0)
        matches = store.search_patients(params)
        page = matches[offset : offset + count]
        bundle = _searchset(base_of(request), page, total=len(matches))
        if offset + count < len(matches):
            bundle["link"] = [
                {
                    "relation": "next",
                    "url": f"{base_of(request)}/Patient?_count={count}&_offset={offset + count}",
                }
            ]
        return _json(bundle)

    async def read(request: Request) -> Response:
        resource_type = request.path_params["type"]
        resource = store.get(resource_type, request.path_params["id"])
        if resource is None:
            return _outcome(404, "not-found", f"{resource_type}/{request.path_params['id']}")
        return _json(resource)

    async def everything(request: Request) -> Response:
        patient_id = request.path_params["id"]
        patient = store.get("Patient", patient_id)
        if patient is None:
            return _outcome(404, "not-found", f"Patient/{patient_id}")
        return _json(_searchset(base_of(request), [patient, *store.compartment(patient_id)]))

    async def type_search(request: Request) -> Response:
        resource_type = request.path_params["type"]
        if resource_type == "Patient":
            return await patient_search(request)
        target = request.query_params.get("patient") or request.query_params.get("subject")
        if not target:
            return _outcome(400, "not-supported", "search needs patient= or subject=")
        patient_id = target.removeprefix("Patient/")
        return _json(_searchset(base_of(request), store.compartment(patient_id, resource_type)))

    app = Starlette(
        routes=[
            Route("/metadata", metadata),
            Route("/Patient/{id}/$everything", everything),
            Route("/{type}/{id}", read),
            Route("/{type}", type_search),
        ]
    )
    return FaultInjector(app, faults)


async def _client_left(receive: Receive, seconds: float) -> bool:
    """Wait ``seconds``, or until the client hangs up (then True): a node that is slow
    must not keep answering someone who has gone."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        async with asyncio.timeout(seconds):
            await disconnected()
    except TimeoutError:
        return False
    return True


class FaultInjector:
    """ASGI middleware that applies :class:`Faults` to every request."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        faults = self.faults
        faults.requests += 1
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        mode = faults.mode
        if mode in ("timeout", "slow"):
            # "timeout" waits until the client gives up; "slow" answers, but late.
            seconds = 3600.0 if mode == "timeout" else faults.slow_ms / 1000
            if await _client_left(receive, seconds):
                return
        elif mode == "error":
            await _outcome(500, "exception", "injected failure")(scope, receive, send)
            return
        elif mode == "malformed":
            await Response(b'{"resourceType": "Bundle", "entry": [', media_type=FHIR_JSON)(
                scope, receive, send
            )
            return
        if mode in ("invalid", "foreign"):
            await self._corrupting(scope, receive, send, mode)
            return
        await self.app(scope, receive, send)

    async def _corrupting(self, scope: Scope, receive: Receive, send: Send, mode: str) -> None:
        """Pass the response through, but spoil the first entry of a searchset."""
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        body = b"".join(chunks)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, dict) and data.get("entry"):
            first = data["entry"][0]["resource"]
            if mode == "invalid":
                first["birthDate" if first["resourceType"] == "Patient" else "status"] = 12
            else:
                last = data["entry"][-1]["resource"]
                for element in ("subject", "patient"):
                    if element in last:
                        last[element] = {"reference": "Patient/someone-else"}
            body = orjson.dumps(data)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": start["status"], "headers": headers})
        await send({"type": "http.response.body", "body": body})


# --- running servers in a thread --------------------------------------------------------


class _PortDispatcher:
    """One ASGI app per listening port, so one event loop can host many nodes."""

    def __init__(self, apps: Mapping[int, ASGIApp]) -> None:
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        port = scope["server"][1]
        await self.apps[port](scope, receive, send)


class ServerThread:
    """Uvicorn serving one or more apps on loopback ports, in a background thread.

    Binds ephemeral ports on 127.0.0.1 only. Use as a context manager, or call
    :meth:`start` and :meth:`stop`.
    """

    def __init__(self, apps: Sequence[ASGIApp], *, host: str = "127.0.0.1", port: int = 0) -> None:
        import uvicorn

        if not apps:
            raise ValueError("nothing to serve")
        self.sockets: list[socket.socket] = []
        by_port: dict[int, ASGIApp] = {}
        for app in apps:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port if len(apps) == 1 else 0))
            sock.listen(1024)
            self.sockets.append(sock)
            by_port[sock.getsockname()[1]] = app
        self.host = host
        self.ports = [s.getsockname()[1] for s in self.sockets]
        # One app is served as itself (its lifespan runs); several share one loop
        # through a dispatcher that picks the app by the port the request came in on.
        single = len(apps) == 1
        config = uvicorn.Config(
            apps[0] if single else _PortDispatcher(by_port),
            log_level="warning",
            access_log=False,
            lifespan="on" if single else "off",
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
