"""The exchange's published API description, and HEAD wherever there is GET.

FastAPI describes what it can see in the signatures; the rest is said here, once, for
every route: the refusals each can give (as OperationOutcome), ``patient`` required on
the per-type searches (a search without it is refused, and audited, with 400), and the
real shapes of ``/metadata`` (a CapabilityStatement) and ``$review-queue`` (Parameters).
Schemathesis checks the running exchange against this description
(tests/exchange/test_exchange_schemathesis.py).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FHIR_JSON = "application/fhir+json"

_OUTCOME_REF = {"$ref": "#/components/schemas/OperationOutcome"}
_OUTCOME: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "issue"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["OperationOutcome"]},
        "issue": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["severity", "code"],
                "properties": {
                    "severity": {"type": "string"},
                    "code": {"type": "string"},
                    "diagnostics": {"type": "string"},
                },
            },
        },
    },
}
_CAPABILITY: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "status", "kind", "fhirVersion", "format", "rest"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["CapabilityStatement"]},
        "status": {"type": "string"},
        "date": {"type": "string"},
        "kind": {"type": "string", "enum": ["instance"]},
        "fhirVersion": {"type": "string"},
        "format": {"type": "array", "items": {"type": "string"}},
        "software": {"type": "object"},
        "implementation": {"type": "object"},
        "rest": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["mode", "resource"],
                "properties": {
                    "mode": {"type": "string", "enum": ["server"]},
                    "security": {"type": "object"},
                    "resource": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["type"],
                            "properties": {"type": {"type": "string"}},
                        },
                    },
                    "operation": {"type": "array", "items": {"type": "object"}},
                },
            },
        },
    },
}
#: Any FHIR resource (what a route that returns a Response, not a model, answers).
_RESOURCE: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType"],
    "properties": {"resourceType": {"type": "string"}},
}
_PART: dict[str, Any] = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "valueInteger": {"type": "integer"},
        "valueString": {"type": "string"},
        "valueCode": {"type": "string"},
        "part": {"type": "array", "items": {"type": "object"}},
    },
}
_REVIEW_QUEUE: dict[str, Any] = {
    "type": "object",
    "required": ["resourceType", "parameter"],
    "properties": {
        "resourceType": {"type": "string", "enum": ["Parameters"]},
        "parameter": {"type": "array", "items": _PART},
    },
}
_REFUSALS = {
    "400": "the request is malformed or incomplete (audited)",
    "401": "no valid bearer token (audited)",
    "403": "the policy or the person's consent refuses it (audited)",
    "404": "no such person, resource or route",
    "405": "the method is not allowed on this path",
    "406": "the client asked for a format or FHIR version other than R4 JSON",
    "415": "the request body is not FHIR JSON",
    "422": "a parameter fails validation (too long, wrong type)",
}
#: The per-type searches, where ``patient`` is required.
_PATIENT_REQUIRED_SKIP = ("/Consent", "/Patient")


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    return {FHIR_JSON: {"schema": schema}, "application/json": {"schema": schema}}


def document(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe every refusal and the real response shapes."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(
            OperationOutcome=_OUTCOME,
            CapabilityStatement=_CAPABILITY,
            ReviewQueue=_REVIEW_QUEUE,
        )
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                _describe(path, method, operation)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _describe(path: str, method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for status, why in _REFUSALS.items():
        if path == "/metadata" and status not in ("405", "406"):
            continue  # the one unauthenticated route: nothing to refuse but the method
        responses[status] = {"description": why, "content": _content(_OUTCOME_REF)}
    ok = next((code for code in ("200", "201") if code in responses), None)
    if ok:  # every reply is a FHIR JSON resource, whatever FastAPI assumed
        content: dict[str, Any] = responses[ok].setdefault("content", {})
        first: dict[str, Any] = next(iter(content.values()), {})
        schema = first.get("schema", {})
        if not schema or schema == {"type": "string"}:  # a Response subclass says nothing
            schema = _RESOURCE
        responses[ok]["content"] = _content(schema)
    if path == "/metadata" and ok:
        responses[ok]["content"] = _content({"$ref": "#/components/schemas/CapabilityStatement"})
    elif path == "/$review-queue" and ok:
        responses[ok]["content"] = _content({"$ref": "#/components/schemas/ReviewQueue"})
    if method == "get" and path.count("/") == 1 and path not in _PATIENT_REQUIRED_SKIP:
        for parameter in operation.get("parameters", []):
            if parameter.get("name") == "patient" and parameter.get("in") == "query":
                parameter["required"] = True
                parameter.get("schema", {}).pop("anyOf", None)
                parameter["schema"] = {"type": "string", "minLength": 1, "maxLength": 80}


def fhir_errors(app: FastAPI) -> None:
    """Refusals the framework makes (unknown route, wrong method, a parameter that fails
    validation) answered as OperationOutcome, like the exchange's own."""
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import Response
    from starlette.exceptions import HTTPException
    from starlette.requests import Request

    from healthycity.exchange.fhirhttp import FhirResponse

    def outcome(status: int, code: str, text: str, headers: Any = None) -> Response:
        body = {
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}],
        }
        return FhirResponse(body, status_code=status, headers=headers)

    async def http_error(_: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        code = {404: "not-found", 405: "not-supported"}.get(error.status_code, "processing")
        return outcome(error.status_code, code, str(error.detail), error.headers)

    async def invalid(_: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        text = "; ".join(
            f"{'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}"
            for problem in error.errors()
        )
        body_problems = [p for p in error.errors() if p.get("loc", ("",))[0] == "body"]
        if body_problems:  # a body that is not JSON, or not a JSON object: FHIR says 400
            malformed = any(p.get("type") == "json_invalid" for p in body_problems)
            why = "the body is not well-formed JSON" if malformed else "the body is not valid"
            return outcome(400, "structure" if malformed else "invalid", f"{why}: {text}")
        return outcome(422, "invalid", text)

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)


class HeadAsGet:
    """Answer HEAD wherever GET is answered: the GET runs (authenticated and audited as
    any GET is), and only its status and headers are sent."""

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
