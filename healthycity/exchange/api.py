"""The exchange's HTTP API: a FHIR R4 REST facade over the federated read.

Routes translate HTTP into :class:`~healthycity.exchange.operations.ExchangeService` calls
and back; they hold no rules of their own. Every route except ``/metadata`` (which
describes the server, not a patient) authenticates the bearer token first and audits
the request whatever the outcome, including refusals of bad tokens.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import Body, FastAPI, Path, Query, Request
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError

from healthycity.core.db import read_transaction
from healthycity.exchange.access import relationships
from healthycity.exchange.access.policy import (
    ANONYMOUS,
    JwksUrlKeys,
    Principal,
    StaticKeys,
    TokenError,
    TokenVerifier,
)
from healthycity.exchange.audit import chain as audit_chain
from healthycity.exchange.consents import add_consent_routes
from healthycity.exchange.db import make_engine
from healthycity.exchange.federation import nodes
from healthycity.exchange.federation.fanout import federator_for
from healthycity.exchange.fhirhttp import (
    Conditional,
    FhirResponse,
    Negotiation,
    SecurityHeaders,
    to_response,
)
from healthycity.exchange.gate import Reply, RequestInfo, operation_outcome
from healthycity.exchange.identity.nhsnumber import NHS_NUMBER_SYSTEM
from healthycity.exchange.openapi import HeadAsGet, document, fhir_errors
from healthycity.exchange.operations import SEARCHABLE_TYPES, ExchangeService
from healthycity.exchange.paging import CursorError
from healthycity.exchange.patient_search import Trace, TraceError, parse_trace
from healthycity.exchange.search import SearchError
from healthycity.exchange.settings import ExchangeSettings
from healthycity.exchange.stewardship import add_stewardship_routes

log = logging.getLogger("healthycity.exchange")

#: Where the exchange's own operations are named (they are described in docs/exchange.md).
OPERATIONS = "https://healthycity.invalid/fhir/OperationDefinition"


def _reply(reply: Reply) -> FhirResponse:
    return to_response(reply)


def tune_garbage_collector(gen0_threshold: int) -> None:
    """Make Python's cyclic garbage collector run rarely enough for the fan-out.

    One ``$everything`` parses about 150 resources, a few thousand containers that are
    free again when the reply is sent. With the default threshold (700 allocations) the
    collector ran several times per request and, every few requests, a full collection
    over everything the process keeps (validation verdicts, remembered grounds and
    classifications, the ORM): measured in bench_exchange_everything, a quarter of the
    exchange's CPU and most of its tail latency. Freezing the heap built at start-up
    takes it out of every later collection; the higher threshold lets a collection
    happen every few requests instead of several times in each. Reference counting still
    frees almost everything at once; only cycles wait for the collector.
    """
    if gen0_threshold <= 0:
        return
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


def verifier_from_settings(settings: ExchangeSettings) -> TokenVerifier | None:
    """The token verifier the settings describe, or None when no keys are configured
    (then every request is refused: there is no anonymous access)."""
    if not settings.jwt_issuer or not settings.jwt_audience:
        return None
    if settings.jwks_path is not None:
        keys: StaticKeys | JwksUrlKeys = StaticKeys.from_file(settings.jwks_path)
    elif settings.jwks_url:
        keys = JwksUrlKeys(settings.jwks_url)
    else:
        return None
    return TokenVerifier(
        keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway=settings.jwt_leeway_seconds,
        max_lifetime=settings.token_max_lifetime_seconds,
    )


def _search_params(resource_type: str) -> list[dict[str, Any]]:
    """What `search.declared` applies for the type, so a client reads the truth."""
    from healthycity.exchange.search import declared

    return [
        {"name": p.name, "type": p.type}
        | ({"documentation": p.documentation} if p.documentation else {})
        for p in declared(resource_type).values()
    ]


def capability_statement(base_url: str) -> dict[str, Any]:
    resources: list[dict[str, Any]] = [
        {
            "type": "Patient",
            "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}],
            "searchParam": [
                {"name": "identifier", "type": "token"},
                {"name": "family", "type": "string"},
                {"name": "given", "type": "string"},
                {"name": "birthdate", "type": "date"},
                {"name": "gender", "type": "token"},
                {"name": "address-postcode", "type": "string"},
            ],
            "operation": [
                {
                    "name": "everything",
                    "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
                },
                *(
                    {"name": name, "definition": f"{OPERATIONS}/Patient-{name}"}
                    for name in ("break-glass", "access-log", "links", "link", "unlink")
                ),
            ],
        },
        *(
            {
                "type": t,
                "interaction": [{"code": "read"}, {"code": "vread"}, {"code": "search-type"}],
                "searchParam": _search_params(t),
            }
            for t in SEARCHABLE_TYPES
        ),
        {"type": "Binary", "interaction": [{"code": "read"}]},
        {
            "type": "Consent",
            "interaction": [
                {"code": "create"},
                {"code": "read"},
                {"code": "vread"},
                {"code": "update"},
                {"code": "search-type"},
            ],
            "searchParam": [
                {"name": "patient", "type": "reference"},
                {"name": "status", "type": "token"},
            ],
        },
    ]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-01-01",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "software": {"name": "healthycity pan-London exchange"},
        "implementation": {"description": "federated read over local exchanges", "url": base_url},
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "description": "Bearer JWT (RS256), SMART scopes, NHS RBAC job roles.",
                },
                "resource": resources,
                "operation": [
                    {"name": name, "definition": f"{OPERATIONS}/{name}"}
                    for name in ("review-queue", "review-decide")
                ],
            }
        ],
    }


def create_app(
    settings: ExchangeSettings | None = None,
    *,
    engine: Engine | None = None,
    verifier: TokenVerifier | None = None,
    clock: Callable[[], datetime] | None = None,
    base_url: str = "",
    client: httpx.AsyncClient | None = None,
) -> FastAPI:
    """The exchange as an ASGI app. Arguments override what ``settings`` would build
    (tests and the demo pass their own engine, verifier and clock)."""
    settings = settings or ExchangeSettings()
    engine = engine or make_engine(settings.database_url)
    verifier = verifier or verifier_from_settings(settings)
    audit_chain.configure(audit_chain.log_for(settings))
    state: dict[str, ExchangeService] = {}

    def seal_the_audit_log() -> None:  # a checkpoint at every start (and the cut-over's)
        try:
            with read_transaction(engine) as session:
                audit_chain.checkpoint(session)
        except DBAPIError as error:  # not migrated yet: nothing to seal
            log.warning("no audit checkpoint at start: %s", str(error).splitlines()[0])

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        federator = federator_for(settings, client)
        state["service"] = ExchangeService(
            engine=engine,
            settings=settings,
            federator=federator,
            clock=clock or (lambda: datetime.now(UTC)),
            base_url=base_url,
        )
        tune_garbage_collector(settings.gc_gen0_threshold)
        await asyncio.to_thread(seal_the_audit_log)
        watcher = None
        if settings.node_health_interval_seconds > 0:
            watcher = asyncio.create_task(
                nodes.watch(
                    engine, settings.node_timeout_seconds, settings.node_health_interval_seconds
                )
            )
        refresher = None
        if settings.relationship_refresh_interval_seconds > 0:
            refresher = asyncio.create_task(
                relationships.watch(
                    engine, settings, federator, settings.relationship_refresh_interval_seconds
                )
            )
        try:
            yield
        finally:
            for task in (watcher, refresher):
                if task is not None:
                    task.cancel()
            await state["service"].recorder.aclose()
            await federator.aclose()

    docs = (
        settings.api_docs
        if settings.api_docs is not None
        else settings.environment == "development"
    )
    app = FastAPI(
        openapi_url="/openapi.json" if docs else None,
        docs_url="/docs" if docs else None,
        redoc_url=None,
        title="healthycity pan-London exchange",
        description="FHIR R4 federated read over the local exchanges, with consent, "
        "role-based access and a hash-chained audit trail.",
        version="1",
        lifespan=lifespan,
        default_response_class=FhirResponse,
    )
    app.add_middleware(Negotiation)  # innermost: its 406/415 carry the security headers too
    app.add_middleware(Conditional)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeadAsGet)
    document(app)
    fhir_errors(app)

    def service() -> ExchangeService:
        return state["service"]

    def info_of(request: Request, principal: Principal) -> RequestInfo:
        query = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RequestInfo(
            principal,
            query,
            request.client.host if request.client else None,
            base_url or str(request.base_url).rstrip("/"),
        )

    async def authenticate(
        request: Request, *, interaction: str, action: str
    ) -> Principal | FhirResponse:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        try:
            if len(header) > settings.max_authorization_bytes:
                raise TokenError("the Authorization header is too large")
            if verifier is None:
                raise TokenError("the exchange has no token keys configured")
            if scheme.lower() != "bearer" or not token.strip():
                raise TokenError("a bearer token is required")
            return verifier.verify(token.strip())
        except TokenError as error:
            reply = await service().refuse(
                info_of(request, ANONYMOUS),
                interaction=interaction,
                action=action,
                status=401,
                reason=error.reason,
            )
            return _reply(reply)

    @app.get("/metadata", summary="The server's CapabilityStatement (no patient data)")
    async def metadata(request: Request) -> FhirResponse:
        return FhirResponse(capability_statement(base_url or str(request.base_url).rstrip("/")))

    @app.get(
        "/Patient",
        summary="Find patients: by NHS number, or by family, given, birthdate (eq, ge, le, "
        "gt, lt), gender and address-postcode, alone or together (PDQm / PDS style)",
    )
    async def search_patient(
        request: Request,
        identifier: Annotated[
            str | None, Query(description=f"{NHS_NUMBER_SYSTEM}|<NHS number>")
        ] = None,
        family: Annotated[str | None, Query(max_length=200)] = None,
        given: Annotated[str | None, Query(max_length=200)] = None,
        birthdate: Annotated[
            str | None, Query(max_length=20, description="[eq|ge|le|gt|lt]YYYY[-MM[-DD]]")
        ] = None,
        gender: Annotated[str | None, Query(max_length=20)] = None,
        postcode: Annotated[str | None, Query(alias="address-postcode", max_length=16)] = None,
    ) -> FhirResponse:
        principal = await authenticate(request, interaction="search-type", action="search Patient")
        if isinstance(principal, FhirResponse):
            return principal
        info = info_of(request, principal)
        items = list(request.query_params.multi_items())
        try:
            trace = parse_trace(items)
        except TraceError as error:
            action = "search Patient (identifier)" if identifier else "search Patient"
            reply = await service().refuse(
                info, interaction="search-type", action=action, status=400, reason=str(error)
            )
            return _reply(reply)
        if trace.nhs_number and trace == Trace(nhs_number=trace.nhs_number):
            # By NHS number alone: the person as their records say, read live.
            return _reply(await service().search_patient_by_nhs_number(info, trace.nhs_number))
        return _reply(await service().search_patients(info, trace))

    @app.get("/Patient/{person_id}", summary="One person, composed live from their records")
    async def read_patient(
        request: Request, person_id: Annotated[str, Path(max_length=64)]
    ) -> FhirResponse:
        principal = await authenticate(request, interaction="read", action="read Patient")
        if isinstance(principal, FhirResponse):
            return principal
        return _reply(await service().read_patient(info_of(request, principal), person_id))

    @app.get(
        "/Patient/{person_id}/_history/{version}",
        summary="One version of the person's Patient (the current one: it is composed live)",
    )
    async def vread_patient(
        request: Request,
        person_id: Annotated[str, Path(max_length=64)],
        version: Annotated[str, Path(max_length=64)],
    ) -> FhirResponse:
        principal = await authenticate(request, interaction="vread", action="read Patient")
        if isinstance(principal, FhirResponse):
            return principal
        info = info_of(request, principal)
        return _reply(await service().read_patient(info, person_id, version=version))

    async def run_everything(
        request: Request, person_id: str, items: list[tuple[str, str]]
    ) -> FhirResponse:
        principal = await authenticate(request, interaction="operation", action="$everything")
        if isinstance(principal, FhirResponse):
            return principal
        info = info_of(request, principal)
        path = f"/Patient/{person_id}/$everything"
        try:
            info, query, offset, items = service().open_search(
                info, path, items, resource_type=None, strict=_strict(request)
            )
        except (SearchError, CursorError) as error:
            return _reply(await _bad_search(info, "operation", "$everything", error))
        return _reply(await service().everything(info, person_id, query, offset, items, path=path))

    async def _bad_search(
        info: RequestInfo, interaction: str, action: str, error: Exception
    ) -> Reply:
        return await service().refuse(
            info, interaction=interaction, action=action, status=400, reason=str(error)
        )

    @app.get("/Patient/{person_id}/$everything", summary="The person's whole record, federated")
    async def everything(
        request: Request, person_id: Annotated[str, Path(max_length=64)]
    ) -> FhirResponse:
        return await run_everything(request, person_id, list(request.query_params.multi_items()))

    @app.post(
        "/Patient/{person_id}/$everything",
        summary="The person's whole record, federated (parameters in a Parameters body)",
    )
    async def everything_post(
        request: Request,
        person_id: Annotated[str, Path(max_length=64)],
        parameters: Annotated[dict[str, Any] | None, Body()] = None,
    ) -> FhirResponse:
        items = list(request.query_params.multi_items()) + _parameter_items(parameters or {})
        return await run_everything(request, person_id, items)

    @app.post(
        "/Patient/{person_id}/$break-glass",
        summary="Emergency access: a stated reason, a time limit and an alert",
    )
    async def break_glass(
        request: Request,
        person_id: Annotated[str, Path(max_length=64)],
        parameters: Annotated[dict[str, Any], Body()],
    ) -> FhirResponse:
        principal = await authenticate(request, interaction="operation", action="break-glass")
        if isinstance(principal, FhirResponse):
            return principal
        reason = ""
        for parameter in parameters.get("parameter") or []:
            if isinstance(parameter, dict) and parameter.get("name") == "reason":
                reason = str(parameter.get("valueString") or "")
        return _reply(await service().break_glass(info_of(request, principal), person_id, reason))

    @app.get("/Patient/{person_id}/$access-log", summary="Who has accessed this person's record")
    async def access_log(
        request: Request, person_id: Annotated[str, Path(max_length=64)]
    ) -> FhirResponse:
        principal = await authenticate(request, interaction="search-type", action="access log")
        if isinstance(principal, FhirResponse):
            return principal
        return _reply(await service().access_log(info_of(request, principal), person_id))

    @app.get("/Binary/{token}", summary="A document's content, through a signed link")
    async def binary(
        request: Request, token: Annotated[str, Path(max_length=2000)]
    ) -> FhirResponse:
        principal = await authenticate(request, interaction="read", action="read Binary")
        if isinstance(principal, FhirResponse):
            return principal
        return _reply(await service().binary(info_of(request, principal), token))

    for resource_type in SEARCHABLE_TYPES:
        _add_type_search(app, resource_type, authenticate, info_of, service)
    add_stewardship_routes(app, authenticate, info_of, service)
    add_consent_routes(app, authenticate, info_of, service)

    return app


def _add_type_search(
    app: FastAPI,
    resource_type: str,
    authenticate: Callable[..., Any],
    info_of: Callable[[Request, Principal], RequestInfo],
    service: Callable[[], ExchangeService],
) -> None:
    async def read(
        request: Request,
        resource_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9\-\.]{1,64}$")],
    ) -> FhirResponse:
        return await read_version(request, resource_id, None)

    async def vread(
        request: Request,
        resource_id: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9\-\.]{1,64}$")],
        version: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9\-\.]{1,64}$")],
    ) -> FhirResponse:
        return await read_version(request, resource_id, version)

    async def read_version(request: Request, resource_id: str, version: str | None) -> FhirResponse:
        interaction = "read" if version is None else "vread"
        action = f"read {resource_type}"
        principal = await authenticate(request, interaction=interaction, action=action)
        if isinstance(principal, FhirResponse):
            return principal
        info = info_of(request, principal)
        reply = await service().read_resource(info, resource_type, resource_id, version)
        return _reply(reply)

    async def search(
        request: Request,
        patient: Annotated[
            str | None, Query(max_length=80, description="Patient/{id} or {id}")
        ] = None,
    ) -> FhirResponse:
        action = f"search {resource_type}"
        principal = await authenticate(request, interaction="search-type", action=action)
        if isinstance(principal, FhirResponse):
            return principal
        info = info_of(request, principal)
        try:
            info, query, offset, items = service().open_search(
                info,
                request.url.path,
                list(request.query_params.multi_items()),
                resource_type=resource_type,
                strict=_strict(request),
            )
        except (SearchError, CursorError) as error:
            reply = await service().refuse(
                info, interaction="search-type", action=action, status=400, reason=str(error)
            )
            return _reply(reply)
        person_id = dict(items).get("patient", "").removeprefix("Patient/")
        if not person_id:
            reply = await service().refuse(
                info,
                interaction="search-type",
                action=action,
                status=400,
                reason="searches need patient=",
            )
            return _reply(reply)
        return _reply(
            await service().search_type(info, resource_type, person_id, query, offset, items)
        )

    app.add_api_route(
        f"/{resource_type}",
        search,
        methods=["GET"],
        summary=f"{resource_type} resources for one patient, from every node",
        name=f"search_{resource_type}",
    )
    app.add_api_route(
        f"/{resource_type}/{{resource_id}}",
        read,
        methods=["GET"],
        summary=f"One {resource_type} from a node, by its id, through consent and the audit",
        name=f"read_{resource_type}",
    )
    app.add_api_route(
        f"/{resource_type}/{{resource_id}}/_history/{{version}}",
        vread,
        methods=["GET"],
        summary=f"One version of a {resource_type} (older ones where its node keeps history)",
        name=f"vread_{resource_type}",
    )


def _strict(request: Request) -> bool:
    """Whether the client asked for unsupported parameters to be refused, not ignored."""
    prefer = request.headers.get("prefer", "").replace(" ", "").lower()
    return "handling=strict" in prefer.split(";") or "handling=strict" in prefer.split(",")


def _parameter_items(parameters: dict[str, Any]) -> list[tuple[str, str]]:
    """A Parameters body as search items (``valueDate``, ``valueString``... as text)."""
    items = []
    for parameter in parameters.get("parameter") or []:
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            continue
        for key, value in parameter.items():
            if (
                key.startswith("value")
                and isinstance(value, str | int)
                and not isinstance(value, bool)
            ):
                items.append((parameter["name"], str(value)))
    return items


__all__ = ["create_app", "capability_statement", "operation_outcome"]
