"""How the exchange's replies become HTTP responses, and the headers every one carries.

Kept apart from the routes so the main API, the stewardship routes and the consent
routes answer alike: FHIR JSON, never cached (a patient's record must not stay in a
shared cache or a browser's), never sniffed as another content type.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

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
