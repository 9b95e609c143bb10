"""Plumbing for JSON APIs: CORS for a path prefix, and an OpenAPI document as a page.

`PrefixCors` allows ``GET`` from any origin under one prefix (no credentials, nothing
else). `endpoints` turns an OpenAPI document into the rows of a readable, script-free
reference page (no Swagger UI: its assets come from a CDN the CSP forbids): every
parameter with its description and example, every response (errors too) with its
description, its fields described and an example body made from its schema, and the
example calls as links. An operation names its example calls in ``x-example-calls``;
without them the path is filled in with its parameters' examples.
"""

from __future__ import annotations

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


def _ordered(value: Any, schema: dict[str, Any], document: dict[str, Any]) -> Any:
    """An example with its keys in the schema's order (generators sort them) and its
    nulls kept, nested objects and lists of objects too, so it reads like the response
    it shows."""
    schema = _resolve(schema, document)
    if isinstance(value, list):
        items = schema.get("items", {})
        return [_ordered(v, items, document) for v in value]
    if not isinstance(value, dict):
        return value
    options = [schema, *schema.get("anyOf", [])]
    properties: dict[str, Any] = {}
    for option in options:
        properties = _resolve(option, document).get("properties", {}) or properties
    # The OpenAPI generator drops nulls from examples: put back the nullable fields.
    keys = [k for k in properties if k in value or _nullable(properties[k], document)]
    keys += [k for k in value if k not in properties]
    return {k: _ordered(value.get(k), properties.get(k, {}), document) for k in keys}


def _nullable(schema: dict[str, Any], document: dict[str, Any]) -> bool:
    schema = _resolve(schema, document)
    return schema.get("type") == "null" or any(
        _resolve(o, document).get("type") == "null" for o in schema.get("anyOf", [])
    )


def sample(schema: dict[str, Any], document: dict[str, Any], depth: int = 0) -> Any:
    """A made-up value of the shape ``schema`` describes: the response example the
    reference shows (its ``examples`` or ``default`` when given, else a value of the type)."""
    schema = _resolve(schema, document)
    if "examples" in schema and schema["examples"]:
        return _ordered(schema["examples"][0], schema, document)
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


def fields(schema: dict[str, Any], document: dict[str, Any]) -> list[dict[str, str]]:
    """The fields of a response body: name, type and description, for an object or for
    the items of a list of objects."""
    schema = _resolve(schema, document)
    if schema.get("type") == "array":
        schema = _resolve(schema.get("items", {}), document)
    found = []
    for name, child in schema.get("properties", {}).items():
        found.append(
            {
                "name": name,
                "type": type_text(_resolve(child, document)),
                "description": str(child.get("description") or ""),
            }
        )
    return found


def _responses(operation: dict[str, Any], document: dict[str, Any]) -> list[dict[str, Any]]:
    import json

    found = []
    for code, response in operation.get("responses", {}).items():
        content = response.get("content", {}).get("application/json", {})
        schema = content.get("schema")
        example = content.get("example")
        if example is None and schema:
            example = sample(schema, document)
        found.append(
            {
                "code": code,
                "description": response.get("description", ""),
                "fields": fields(schema, document) if schema and str(code) == "200" else [],
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


def example_calls(path: str, operation: dict[str, Any]) -> list[str]:
    """The operation's example calls: its own ``x-example-calls``, else the path with
    each path parameter replaced by its example."""
    named = operation.get("x-example-calls")
    if isinstance(named, list) and named:
        return [str(call) for call in named]
    for parameter in operation.get("parameters", []):
        example = _parameter_example(parameter)
        if parameter.get("in") == "path" and example is not None:
            path = path.replace("{" + str(parameter.get("name")) + "}", str(example))
    return [path]


def endpoints(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per operation: method, path, summary, parameters (each with its
    description and example), the responses with their fields and an example body, and
    the example calls."""
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
                    "examples": example_calls(path, operation),
                    "responses": _responses(operation, document),
                }
            )
    return found
