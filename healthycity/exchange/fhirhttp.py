"""How the exchange's replies become HTTP responses, the headers every one carries, and
which formats it speaks.

Kept apart from the routes so the main API, the stewardship routes and the consent
routes answer alike: FHIR JSON, never cached (a patient's record must not stay in a
shared cache or a browser's), never sniffed as another content type. The exchange
speaks FHIR R4 JSON only, so a client asking for XML, Turtle or another FHIR version is
told so (406) before anything else happens, and a body in another media type is refused
(415): answering JSON to a client that asked for XML, or R4 to one that asked for STU3,
would have it misread what it gets (FHIR R4 http.html, "Content Types and encodings").
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from healthycity.exchange.access.policy import Principal
from healthycity.exchange.gate import Reply

FHIR_JSON = "application/fhir+json"

#: Headers on every response of the exchange (item 8 of issue 13).
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
)

#: Authenticates a request: the principal, or the (audited) refusal to send back.
Authenticate = Callable[..., Awaitable[Principal | Response]]


class FhirResponse(Response):
    media_type = FHIR_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def to_response(reply: Reply) -> FhirResponse:
    return FhirResponse(reply.body, status_code=reply.status, headers=reply.headers)


class SecurityHeaders:
    """ASGI middleware adding :data:`SECURITY_HEADERS` to every HTTP response (errors
    raised by the framework included), replacing any value a route set."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        names = {name for name, _ in SECURITY_HEADERS}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message["headers"] = [*kept, *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: Media types that mean FHIR JSON (``_format`` also takes the short ``json``).
JSON_TYPES = frozenset(
    {"application/fhir+json", "application/json", "application/json+fhir", "json", "text/json"}
)
#: Wildcards an Accept header may use to take whatever the server speaks.
WILDCARDS = frozenset({"*/*", "application/*", "*"})
#: The FHIR versions this server answers in (the ``fhirVersion`` MIME parameter).
FHIR_VERSIONS = frozenset({"4.0", "4.0.0", "4.0.1"})


def media_ranges(header: str) -> list[tuple[str, dict[str, str]]]:
    """An Accept or Content-Type value as (type, parameters) pairs, lower-cased, without
    the ranges a client weighted ``q=0`` (it refuses those)."""
    ranges = []
    for part in header.split(","):
        kind, *raw = (piece.strip() for piece in part.split(";"))
        if not kind:
            continue
        params = {}
        for item in raw:
            name, _, value = item.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        if params.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        ranges.append((kind.lower(), params))
    return ranges


def _speaks(kind: str, params: dict[str, str], *, wildcards: bool) -> bool:
    version = params.get("fhirversion")
    if version is not None and version not in FHIR_VERSIONS:
        return False
    return kind in JSON_TYPES or (wildcards and kind in WILDCARDS)


def negotiation_problem(
    method: str, query: Iterable[tuple[str, str]], headers: dict[str, str]
) -> tuple[int, str] | None:
    """Why the exchange cannot answer this request in a format the client takes (406) or
    read its body (415), or None."""
    for name, value in query:
        if name == "_format":
            ranges = media_ranges(value)
            if not ranges or not all(_speaks(k, p, wildcards=False) for k, p in ranges):
                return 406, f"_format={value} is not served: this server speaks FHIR R4 JSON only"
    accept = headers.get("accept", "").strip()
    if accept:
        ranges = media_ranges(accept)
        if not any(_speaks(k, p, wildcards=True) for k, p in ranges):
            return 406, (
                f"Accept: {accept} cannot be met: this server answers application/fhir+json "
                "(FHIR 4.0) only"
            )
    if method in ("POST", "PUT", "PATCH"):
        content_type = headers.get("content-type", "").strip()
        if content_type:  # none given: the body is read as JSON, and refused if it is not
            ranges = media_ranges(content_type)
            if len(ranges) != 1 or not _speaks(*ranges[0], wildcards=False):
                return 415, (
                    f"Content-Type {content_type or '(none)'} is not accepted: send "
                    "application/fhir+json (FHIR 4.0)"
                )
    return None


def outcome_body(code: str, text: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }


class Negotiation:
    """ASGI middleware answering 406 and 415 (as OperationOutcome) before any route runs,
    so no route ever answers in a format the client did not ask for."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        problem = negotiation_problem(scope["method"], query, headers)
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, text = problem
        code = "not-supported"
        response = FhirResponse(outcome_body(code, text), status_code=status)
        await response(scope, receive, send)


def _tags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


class Conditional:
    """ASGI middleware for conditional reads: a GET answered 200 with an ``ETag`` that
    the client already holds (``If-None-Match``) becomes 304 with no body, so a client's
    refresh costs no transfer. The read itself still ran (authenticated, decided and
    audited), so a 304 never tells a client more than the 200 would have."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        wanted = ""
        for name, value in scope.get("headers", []):
            if name.lower() == b"if-none-match":
                wanted = value.decode("latin-1")
        if not wanted:
            await self.app(scope, receive, send)
            return
        held = _tags(wanted)
        state = {"unchanged": False}

        async def maybe_not_modified(message: Message) -> None:
            if message["type"] == "http.response.start" and message.get("status") == 200:
                headers = message.get("headers", [])
                etag = next((v.decode("latin-1") for k, v in headers if k.lower() == b"etag"), "")
                if etag and (etag.removeprefix("W/") in held or "*" in held):
                    state["unchanged"] = True
                    kept = [
                        (k, v)
                        for k, v in headers
                        if k.lower() not in (b"content-length", b"content-type")
                    ]
                    message = {**message, "status": 304, "headers": kept}
            elif message["type"] == "http.response.body" and state["unchanged"]:
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(scope, receive, maybe_not_modified)
