"""The federated read: ask the local exchanges concurrently, then merge what they say.

Each node gets its own deadline and its own circuit breaker, because in a city of ~25
local exchanges one is always slow or down, and a clinician waiting on the slowest node
is worse off than one told plainly which node did not answer. So a failing node never
fails the request: its absence is reported as an OperationOutcome issue in the Bundle
(partial results, never a silent gap), and once it has failed repeatedly it is not even
asked until its breaker's cool-off has passed.

Everything a node returns is parsed and validated (R4B models, cached per version) and
must belong to the patient that was asked about; anything else is dropped and counted.
Merged resources carry ``meta.source`` naming the node they came from, and exact
duplicates (the same resource held by two nodes) are returned once.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import orjson

from healthycity.exchange.access.consent import Candidate
from healthycity.exchange.federation.nodeclient import NodeClient
from healthycity.exchange.federation.validation import ResourceValidator
from healthycity.exchange.settings import ExchangeSettings

BreakerState = Literal["closed", "open", "half-open"]


class CircuitBreaker:
    """Stops calling a node after ``threshold`` consecutive failures, for ``reset`` s.

    After the cool-off one trial request is let through (half-open); success closes the
    breaker, failure opens it again.
    """

    def __init__(
        self,
        threshold: int = 3,
        reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.reset_seconds = reset_seconds
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        if self.opened_at is None:
            return "closed"
        if self.clock() - self.opened_at >= self.reset_seconds:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial_in_flight:
            self._trial_in_flight = True
            return True
        return False

    def record_success(self) -> None:
        self.failures = 0
        self.opened_at = None
        self._trial_in_flight = False

    def record_failure(self) -> None:
        self.failures += 1
        self._trial_in_flight = False
        if self.opened_at is not None or self.failures >= self.threshold:
            self.opened_at = self.clock()


@dataclass(frozen=True, slots=True)
class NodeTarget:
    """What the fan-out needs to know about one node."""

    name: str
    base_url: str
    timeout: float
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NodeRequest:
    """One GET to one node. ``patient`` is the node-local Patient id the answer must
    be about (None for searches that find patients)."""

    node: NodeTarget
    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    patient: str | None = None


@dataclass
class NodeResult:
    node: NodeTarget
    resources: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    error_code: str = "exception"
    invalid: int = 0
    foreign: int = 0
    digests: list[bytes] = field(default_factory=list)  # as sent, parallel to resources
    elapsed_ms: float = 0.0
    problems: list[str] = field(default_factory=list)
    next_url: str | None = None  # a searchset's "next" link, when the node paged it


class NodeFailure(Exception):
    def __init__(self, message: str, code: str = "exception") -> None:
        super().__init__(message)
        self.code = code


#: A Reference to a Patient in compact JSON (relative, absolute or versioned). Inside a
#: JSON string a quote is escaped, so this cannot match text that merely looks like one.
_PATIENT_REFERENCE = re.compile(rb'"reference":"(?:[^"]*/)?Patient/([^"/]+)')


def _belongs_to(resource: Mapping[str, Any], patient: str, canonical: bytes) -> bool:
    """True unless the resource names a patient other than ``patient``.

    Shared resources (Practitioner, Organization, Medication...) name no patient and are
    allowed; a Patient must be the patient itself. ``canonical`` is the resource as
    compact JSON, already made for the validation cache, so this is one regex scan.
    """
    if resource.get("resourceType") == "Patient":
        return str(resource.get("id")) == patient
    wanted = patient.encode()
    return all(found == wanted for found in _PATIENT_REFERENCE.findall(canonical))


def _next_link(data: Mapping[str, Any]) -> str | None:
    for link in data.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == "next":
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None


def follow(node: NodeTarget, url: str, patient: str | None) -> NodeRequest | None:
    """The request for a node's ``next`` link, or None if the link leaves the node
    (a paging link is never a way to make the exchange call somewhere else)."""
    base = node.base_url.rstrip("/") + "/"
    if not url.startswith(base):
        return None
    parts = urlsplit(url)
    path = parts.path[len(urlsplit(base).path) :]
    return NodeRequest(node, unquote(path), dict(parse_qsl(parts.query)), patient)


def _resources_of(data: Any) -> list[dict[str, Any]]:
    if not isinstance(data, dict) or "resourceType" not in data:
        raise NodeFailure("response is not a FHIR resource", "structure")
    if data["resourceType"] != "Bundle":
        return [data]
    resources = []
    for entry in data.get("entry") or []:
        resource = entry.get("resource") if isinstance(entry, dict) else None
        mode = (entry.get("search") or {}).get("mode") if isinstance(entry, dict) else None
        if isinstance(resource, dict) and mode != "outcome":
            resources.append(resource)
    return resources


class Federator:
    """Fans requests out to nodes concurrently and gathers validated resources.

    Each node gets its own keep-alive pool (:class:`~healthycity.exchange.nodeclient.
    NodeClient`, a lean HTTP/1.1 client; see its docstring for why not httpx). Passing
    an ``httpx.AsyncClient`` makes every node use that instead.
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None,
        validator: ResourceValidator,
        *,
        breaker_threshold: int = 3,
        breaker_reset_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        connect_timeout: float = 1.0,
        connections_per_node: int = 100,
    ) -> None:
        self.client = client
        self.validator = validator
        self.connect_timeout = connect_timeout
        self.connections_per_node = connections_per_node
        self._clients: dict[str, NodeClient] = {}
        self.breaker_threshold = breaker_threshold
        self.breaker_reset_seconds = breaker_reset_seconds
        self.clock = clock
        self.breakers: dict[str, CircuitBreaker] = {}

    def client_for(self, node: NodeTarget) -> NodeClient:
        client = self._clients.get(node.base_url)
        if client is None:
            client = NodeClient(
                node.base_url,
                max_idle=self.connections_per_node,
                connect_timeout=self.connect_timeout,
            )
            self._clients[node.base_url] = client
        return client

    async def _get(self, request: NodeRequest) -> tuple[int, bytes]:
        node = request.node
        headers = {"Accept": "application/fhir+json", **node.headers}
        if self.client is not None:
            response = await self.client.get(
                f"{node.base_url}/{request.path}", params=dict(request.params), headers=headers
            )
            return response.status_code, response.content
        answer = await self.client_for(node).get(request.path, request.params, headers)
        return answer.status, answer.body

    async def aclose(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    def breaker(self, node: str) -> CircuitBreaker:
        breaker = self.breakers.get(node)
        if breaker is None:
            breaker = CircuitBreaker(self.breaker_threshold, self.breaker_reset_seconds, self.clock)
            self.breakers[node] = breaker
        return breaker

    async def gather(self, requests: Sequence[NodeRequest]) -> list[NodeResult]:
        """Ask every node at once; each result carries its resources or its failure."""
        return list(await asyncio.gather(*(self._one(r) for r in requests)))

    async def _one(self, request: NodeRequest) -> NodeResult:
        node = request.node
        result = NodeResult(node)
        breaker = self.breaker(node.name)
        if not breaker.allow():
            result.error = "not asked: it failed repeatedly and is cooling off (circuit open)"
            result.error_code = "transient"
            return result
        started = time.perf_counter()
        try:
            async with asyncio.timeout(node.timeout):
                status, body = await self._get(request)
            if status == 404 and request.patient is not None:
                breaker.record_success()
                return result
            if status >= 400:
                raise NodeFailure(f"answered HTTP {status}")
            try:
                data = orjson.loads(body)
            except orjson.JSONDecodeError as error:
                raise NodeFailure("sent malformed JSON", "structure") from error
            resources = _resources_of(data)
            result.next_url = _next_link(data)
        except TimeoutError:
            breaker.record_failure()
            result.error, result.error_code = f"timed out after {node.timeout:g} s", "timeout"
        except httpx.TimeoutException:
            breaker.record_failure()
            result.error, result.error_code = f"timed out after {node.timeout:g} s", "timeout"
        except (httpx.TransportError, OSError) as error:
            breaker.record_failure()
            result.error = f"unreachable ({type(error).__name__})"
        except NodeFailure as error:
            breaker.record_failure()
            result.error, result.error_code = str(error), error.code
        else:
            breaker.record_success()
            self._accept(request, resources, result)
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        return result

    def _accept(
        self, request: NodeRequest, resources: list[dict[str, Any]], result: NodeResult
    ) -> None:
        for resource in resources:
            canonical = orjson.dumps(resource, option=orjson.OPT_SORT_KEYS)
            digest = ResourceValidator.digest(resource, canonical)
            verdict = self.validator.check(resource, canonical, digest=digest)
            if not verdict.ok:
                result.invalid += 1
                if verdict.problem:
                    result.problems.append(verdict.problem)
                continue
            if request.patient is not None and not _belongs_to(
                resource, request.patient, canonical
            ):
                result.foreign += 1
                continue
            result.resources.append(resource)
            result.digests.append(digest)


def federator_for(settings: ExchangeSettings, client: httpx.AsyncClient | None = None) -> Federator:
    """The exchange's federator, configured from its settings: one per process, shared
    by requests and the relationship refresh so each node has one pool and one breaker."""
    return Federator(
        client,
        ResourceValidator(settings.validation_cache_size),
        breaker_threshold=settings.breaker_failure_threshold,
        breaker_reset_seconds=settings.breaker_reset_seconds,
        connect_timeout=settings.node_connect_timeout_seconds,
    )


@dataclass
class Merged:
    """Resources from all nodes, each with its origin, plus what went wrong where."""

    candidates: list[Candidate]
    issues: list[dict[str, Any]]
    duplicates: int
    node_summaries: list[str]


def _content_key(resource: Mapping[str, Any], canonical: bytes | None = None) -> bytes:
    """What "exact duplicate" compares: the content, ignoring server-assigned meta."""
    if "meta" in resource or canonical is None:
        body = {k: v for k, v in resource.items() if k != "meta"}
        canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(canonical, digest_size=16).digest()


def merge(results: Sequence[NodeResult]) -> Merged:
    """One list of candidates with ``meta.source``, exact duplicates dropped, and an
    OperationOutcome issue for every node that failed or sent something unusable."""
    seen: set[bytes] = set()
    candidates: list[Candidate] = []
    issues: list[dict[str, Any]] = []
    duplicates = 0
    summaries: list[str] = []
    for result in results:
        node = result.node
        label = f"node {node.name} ({node.base_url})"
        if result.error is not None:
            issues.append(
                {
                    "severity": "error",
                    "code": result.error_code,
                    "diagnostics": f"{label} {result.error}; its records are missing from "
                    "this result",
                }
            )
            summaries.append(f"{node.name}: {result.error}")
            continue
        if result.invalid:
            issues.append(
                {
                    "severity": "warning",
                    "code": "structure",
                    "diagnostics": f"{label} sent {result.invalid} resource(s) that are not "
                    "valid FHIR R4; they were not passed on",
                }
            )
            summaries.append(f"{node.name}: {result.invalid} invalid")
        if result.foreign:
            issues.append(
                {
                    "severity": "warning",
                    "code": "security",
                    "diagnostics": f"{label} sent {result.foreign} resource(s) about another "
                    "patient; they were not passed on",
                }
            )
            summaries.append(f"{node.name}: {result.foreign} about another patient")
        digests = result.digests if len(result.digests) == len(result.resources) else None
        for index, resource in enumerate(result.resources):
            digest = digests[index] if digests is not None else None
            # Without meta the content key is the digest itself: one hash, not two.
            key = (
                digest if digest is not None and "meta" not in resource else _content_key(resource)
            )
            if key in seen:
                duplicates += 1
                continue
            seen.add(key)
            meta = dict(resource.get("meta") or {})
            meta["source"] = node.base_url
            candidates.append(Candidate(resource | {"meta": meta}, node.base_url, digest))
    return Merged(candidates, issues, duplicates, summaries)


def searchset(
    entries: Sequence[tuple[Mapping[str, Any], str]],
    issues: Sequence[Mapping[str, Any]],
    *,
    self_link: str,
    scores: Mapping[int, float] | None = None,
) -> dict[str, Any]:
    """A searchset Bundle. ``total`` counts only what is returned, never what was
    withheld, so the count cannot betray a withheld record."""
    bundle_entries: list[dict[str, Any]] = []
    for index, (resource, origin) in enumerate(entries):
        search: dict[str, Any] = {"mode": "match"}
        if scores is not None and index in scores:
            search["score"] = round(scores[index], 4)
        bundle_entries.append(
            {
                "fullUrl": f"{origin}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": search,
            }
        )
    if issues:
        bundle_entries.append(
            {
                "resource": {"resourceType": "OperationOutcome", "issue": list(issues)},
                "search": {"mode": "outcome"},
            }
        )
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(entries),
        "link": [{"relation": "self", "url": self_link}],
        "entry": bundle_entries,
    }
