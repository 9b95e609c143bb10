"""Plumbing for JSON APIs: CORS for a path prefix, and an OpenAPI document as a page.

`PrefixCors` allows ``GET`` from any origin under one prefix (no credentials, nothing
else). `endpoints` turns an OpenAPI document into the rows of a readable, script-free
reference page (no Swagger UI: its assets come from a CDN the CSP forbids): every
parameter with its description and example, every response with an example body made
from its schema, and an example call as a link.
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


def _resolve(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = str(schema["$ref"]).rsplit("/", 1)[-1]
        schema = document.get("components", {}).get("schemas", {}).get(name, {})
    return schema


def sample(schema: dict[str, Any], document: dict[str, Any], depth: int = 0) -> Any:
    """A made-up value of the shape ``schema`` describes: the response example the
    reference shows (its ``examples`` or ``default`` when given, else a value of the type)."""
    schema = _resolve(schema, document)
    if "examples" in schema and schema["examples"]:
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if "default" in schema and schema["default"] is not None:
        return schema["default"]
    if depth > 4:
        return None
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [o for o in schema[key] if _resolve(o, document).get("type") != "null"]
            return sample(options[0], document, depth + 1) if options else None
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {
            name: sample(child, document, depth + 1)
            for name, child in schema.get("properties", {}).items()
        }
    if kind == "array":
        return [sample(schema.get("items", {}), document, depth + 1)]
    if "enum" in schema:
        return schema["enum"][0]
    return {"string": "text", "integer": 0, "number": 0.0, "boolean": True}.get(str(kind))


def _responses(operation: dict[str, Any], document: dict[str, Any]) -> list[dict[str, Any]]:
    import json

    found = []
    for code, response in operation.get("responses", {}).items():
        content = response.get("content", {}).get("application/json", {})
        example = sample(content["schema"], document) if "schema" in content else None
        found.append(
            {
                "code": code,
                "description": response.get("description", ""),
                "example": json.dumps(example, indent=2, ensure_ascii=False)
                if example is not None
                else "",
            }
        )
    return found


def _parameter_example(parameter: dict[str, Any]) -> Any:
    """The parameter's first example: OpenAPI's ``examples`` map, or its schema's list."""
    named = parameter.get("examples")
    if isinstance(named, dict) and named:
        first: Any = next(iter(named.values()))
        return first.get("value") if isinstance(first, dict) else None
    listed = parameter.get("schema", {}).get("examples") or named or [None]
    return listed[0] if isinstance(listed, list) and listed else None


def endpoints(document: dict[str, Any], example: Callable[[str], str]) -> list[dict[str, Any]]:
    """One row per operation: method, path, summary, parameters (each with its
    description and example), the responses with an example body, and an example URL."""
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
                    "example": _parameter_example(p),
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
                    "responses": _responses(operation, document),
                }
            )
    return found
