"""Security headers on every response; the one inline script is allowed by its hash.

Pages work without JavaScript; the only inline script is the design system's
one-liner that marks JavaScript as available. It is allowed by its SHA-256 hash under
a strict CSP rather than by a nonce written into the page, so a page's bytes do not
change from one request to the next and a finished page can be served again as it is
(the response cache, docs/decisions/0015-page-cache.md). Each response still carries a
fresh nonce in its policy, for any script a handler chooses to mark with
``request.state.csp_nonce``.

A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``): it only adds headers,
so it costs microseconds and leaves the body streaming untouched.

Strict-Transport-Security is added only when the setting ``hsts_seconds`` is above 0
*and* the request arrived over HTTPS, as the ASGI scope says: directly, or behind a
proxy whose ``X-Forwarded-Proto`` uvicorn trusts (``--proxy-headers`` and
``FORWARDED_ALLOW_IPS``). Browsers ignore the header over plain HTTP (RFC 6797 §8.1),
and sending it from a site that is not yet reliably on HTTPS locks people out, so it is
off by default (docs/security.md, "HTTPS and HSTS").

`HeadAsGet` answers HEAD wherever GET is answered (RFC 9110 §9.3.2): FastAPI's routes
declare GET only, so without it every page would answer HEAD with 405.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from functools import lru_cache

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.S)


@lru_cache(maxsize=1)
def inline_script_hashes() -> tuple[str, ...]:
    """``'sha256-…'`` of each inline script in the design system's page template."""
    from healthycity.core.web.templating import environment

    source, _, _ = environment().loader.get_source(  # type: ignore[union-attr]
        environment(), "nhsuk/template.jinja"
    )
    found = []
    for body in _INLINE_SCRIPT.findall(source):
        if body.strip() and "{{" not in body and "{%" not in body:
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            found.append(f"'sha256-{digest}'")
    return tuple(found)


def policy(nonce: str, path: str) -> str:
    if path.startswith("/api/v1/docs"):
        script_src = "'self' 'unsafe-inline'"
    else:
        script_src = " ".join(["'self'", f"'nonce-{nonce}'", *inline_script_hashes()])
    return (
        f"default-src 'self'; script-src {script_src}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' https://assets.nhs.uk; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )


_FIXED = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, _headed(scope, send) if scope["type"] == "http" else send)


def hsts_value(settings: object) -> bytes | None:
    """The Strict-Transport-Security value the settings ask for (None when off)."""
    seconds = int(getattr(settings, "hsts_seconds", 0) or 0)
    if seconds <= 0:
        return None
    value = f"max-age={seconds}"
    if getattr(settings, "hsts_include_subdomains", False):
        value += "; includeSubDomains"
    return value.encode()


def _hsts(scope: Scope) -> bytes | None:
    if scope.get("scheme") != "https":
        return None
    app = scope.get("app")
    settings = getattr(getattr(app, "state", None), "settings", None)
    return hsts_value(settings) if settings is not None else None


def _headed(scope: Scope, send: Send) -> Send:
    """``send`` adding this request's policy and the fixed headers to the answer."""
    nonce = secrets.token_urlsafe(16)
    scope.setdefault("state", {})["csp_nonce"] = nonce
    path = str(scope["path"])
    hsts = _hsts(scope)

    async def with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            present = {bytes(k).lower() for k, _ in headers}
            if b"content-security-policy" not in present:
                headers.append((b"content-security-policy", policy(nonce, path).encode()))
            headers.extend(h for h in _FIXED if h[0] not in present)
            if hsts is not None and b"strict-transport-security" not in present:
                headers.append((b"strict-transport-security", hsts))
            message = {**message, "headers": headers}
        await send(message)

    return with_headers


class HeadAsGet:
    """Answer HEAD wherever GET is answered: the GET runs (signed in, checked and cached
    as any GET is) and only its status and headers are sent, Content-Length included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
