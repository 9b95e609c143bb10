"""Plumbing for JSON APIs: CORS for a path prefix, and an OpenAPI document as a page.

`PrefixCors` allows ``GET`` from any origin under one prefix (no credentials, nothing
else). `endpoints` turns an OpenAPI document into the rows of a readable, script-free
reference page (no Swagger UI: its assets come from a CDN the CSP forbids).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class PrefixCors:
    """CORS for paths under ``prefix`` only: GET from any origin, no credentials."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET"],
            allow_headers=["Accept", "Accept-Language", "Content-Language", "Content-Type"],
            expose_headers=["ETag", "Link"],
            max_age=86400,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        await self.cors(scope, receive, send)


def type_text(schema: dict[str, Any]) -> str:
    if "anyOf" in schema:
        kinds = [s.get("type", "") for s in schema["anyOf"] if s.get("type") != "null"]
        return " or ".join(k for k in kinds if k) or "any"
    return str(schema.get("type", "any"))


def endpoints(document: dict[str, Any], example: Callable[[str], str]) -> list[dict[str, Any]]:
    """One row per operation: method, path, summary, parameters and an example URL."""
    found = []
    for path, methods in document.get("paths", {}).items():
        for method, operation in methods.items():
            parameters = [
                {
                    "name": p.get("name", ""),
                    "where": p.get("in", ""),
                    "required": bool(p.get("required")),
                    "type": type_text(p.get("schema", {})),
                    "description": p.get("description") or p.get("schema", {}).get("title", ""),
                    "default": p.get("schema", {}).get("default"),
                }
                for p in operation.get("parameters", [])
            ]
            found.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": operation.get("description", ""),
                    "parameters": parameters,
                    "anchor": operation.get("operationId", path),
                    "example": example(path),
                }
            )
    return found
