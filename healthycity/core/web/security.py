"""Security headers on every response, with a per-request nonce for inline scripts.

Pages work without JavaScript; the only inline script is the design system's
one-liner that marks JavaScript as available, allowed by nonce under a strict CSP.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from fastapi import Request, Response
from starlette.middleware.base import BaseHTTPMiddleware


class SecurityHeaders(BaseHTTPMiddleware):
    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        nonce = secrets.token_urlsafe(16)
        request.state.csp_nonce = nonce
        response = await call_next(request)
        if request.url.path.startswith("/api/v1/docs"):
            script_src = "'self' 'unsafe-inline'"
        else:
            script_src = f"'self' 'nonce-{nonce}'"
        response.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; script-src {script_src}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; font-src 'self' https://assets.nhs.uk; "
            "frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response
