"""The portfolio office's side: consultations as a workspace record kind (forms, JSON
API, history), publishing, closing, moderation and "you said, we did"; and loading poll
series through the JSON API.

Every change goes through `core.web.workspace.unit_of_work`, so it is attributed and
audited; the consultation's history page shows each version and each moderation
decision under it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from healthycity.core import auth
from healthycity.core.audit import snapshot
from healthycity.core.auth import Principal
from healthycity.core.errors import Conflict, Invalid
from healthycity.core.inputs import form_data
from healthycity.core.web.records import FormField, RecordKind, api_router, form_router
from healthycity.core.web.twins import Page, Table, json_response, twin_routes
from healthycity.core.web.workspace import (
    errors_from,
    install,
    read_session,
    see_other,
    sessions,
    unit_of_work,
    viewer,
    writer,
    ws_page,
    ws_render,
)
from healthycity.engagement import guard, notify, polls, schemas, service
from healthycity.engagement.models import (
    CLOSED,
    DRAFT,
    MODERATION_LABELS,
    PUBLISHED,
    REJECTED,
    SHOWN,
    STATUS_LABELS,
    Consultation,
    ConsultationVersion,
)

CONSULTATION = "consultation"
POLL = "poll"
router = APIRouter(include_in_schema=False)
QUESTIONS_HINT = (
    "One question a line: id | kind | question | options separated by ; . Kinds: single, "
    "multiple, rating, likert (then | statements), ranking, text (options: the length "
    "limit). Add * to the kind for a required question, and | if other-id = Option to "
    "show it only after that answer."
)


def consultation_json(row: Consultation) -> dict[str, Any]:
    return snapshot(row)


def _publish(session: Any, row: Any, _data: Any, _p: Principal) -> None:
    service.publish(session, row)


def _close(session: Any, row: Any, _data: Any, _p: Principal) -> None:
    service.close(session, row)


KIND = RecordKind(
    name=CONSULTATION,
    plural="consultations",
    label="consultation",
    model=Consultation,
    schema=schemas.ConsultationIn,
    fields=(
        FormField("slug", "Web address", hint="Lower case and hyphens, like urgent-care-2026"),
        FormField("title", "Title"),
        FormField("purpose", "Purpose", kind="textarea"),
        FormField("audience", "Who is asked", kind="textarea"),
        FormField("opens_on", "Opens on", kind="date"),
        FormField("closes_on", "Closes on", kind="date"),
        FormField(
            "links",
            "What it is about",
            kind="lines",
            hint="One a line: commitment:slug, indicator:id, programme:slug or service-change:id",
        ),
        FormField("privacy_notice", "Privacy notice", kind="textarea"),
        FormField(
            "retention_days", "Keep answers for (days after closing)", kind="number", width=5
        ),
        FormField(
            "confirm_email",
            "Ask respondents to confirm an email address",
            kind="select",
            options=(("no", "No"), ("yes", "Yes: one answer per confirmed email")),
        ),
        FormField(
            "co_production",
            "Invite proposals on indicators",
            kind="select",
            options=(("no", "No"), ("yes", "Yes: the public may propose, comment and vote")),
        ),
        FormField("questions", "Questions", kind="textarea", hint=QUESTIONS_HINT),
    ),
    parse_key=int,
    key_of=lambda row: str(row.id),
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=service.as_input,
    create=lambda session, data, principal: service.create(session, data, principal.label),
    update=lambda session, row, data, _p: service.update(session, row, data),
    delete=service.remove,
    listing=lambda session: list(session.scalars(select(Consultation).order_by(Consultation.id))),
    return_url=lambda row: f"/workspace/consultations/{row.id}",
    title_of=lambda row: row.title,
    to_json=consultation_json,
    form_to_input=lambda data: (
        data
        | {
            "confirm_email": data.get("confirm_email", "no"),
            "co_production": data.get("co_production", "no"),
        }
    ),
    actions={
        "publish": (auth.PUBLISH, _publish, None),
        "close": (auth.PUBLISH, _close, None),
    },
)


@twin_routes(router, "/workspace/consultations", private=True)
def consultations(request: Request) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, CONSULTATION)
    with read_session(request) as session:
        rows = list(session.scalars(select(Consultation).order_by(Consultation.id.desc())))
    table = Table(
        ["id", "slug", "title", "status", "version", "opens_on", "closes_on"],
        [
            [r.id, r.slug, r.title, STATUS_LABELS[r.status], r.version, r.opens_on, r.closes_on]
            for r in rows
        ],
    )
    return ws_page(
        principal,
        Page(
            "engagement/ws_consultations.html",
            "Consultations",
            context={
                "rows": rows,
                "labels": STATUS_LABELS,
                "can_create": auth.is_allowed(principal, auth.CREATE, CONSULTATION),
            },
            table=table,
            filename="consultations",
        ),
    )


@twin_routes(router, "/workspace/consultations/{consultation_id:int}", private=True)
def consultation_page(request: Request, consultation_id: int) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, CONSULTATION)
    with read_session(request) as session:
        row = service.get(session, consultation_id)
        versions = list(
            session.scalars(
                select(ConsultationVersion)
                .where(ConsultationVersion.consultation_id == row.id)
                .order_by(ConsultationVersion.version)
            )
        )
        held = len(service.moderation_queue(session, row))
        answered = len(service.counted(session, row))
        refusals = guard.refusal_counts(session, row.id)
    can = {
        "edit": row.status != CLOSED and auth.is_allowed(principal, auth.EDIT, CONSULTATION),
        "delete": row.status == DRAFT and auth.is_allowed(principal, auth.DELETE, CONSULTATION),
        "publish": row.status == DRAFT and auth.is_allowed(principal, auth.PUBLISH, CONSULTATION),
        "close": row.status == PUBLISHED and auth.is_allowed(principal, auth.PUBLISH, CONSULTATION),
        "respond": row.status == CLOSED and auth.is_allowed(principal, auth.PUBLISH, CONSULTATION),
        "moderate": auth.is_allowed(principal, auth.EDIT, CONSULTATION),
    }
    return ws_page(
        principal,
        Page(
            "engagement/ws_consultation.html",
            row.title,
            context={
                "row": row,
                "status_label": STATUS_LABELS[row.status],
                "versions": versions,
                "held": held,
                "answered": answered,
                "refusals": refusals,
                "refusal_labels": guard.REFUSAL_LABELS,
                "can": can,
            },
            data=consultation_json(row) | {"answers": answered, "held": held, "refusals": refusals},
            table=Table(
                ["version", "published_at"], [[v.version, v.published_at] for v in versions]
            ),
            filename=f"consultation-{row.id}",
        ),
    )


async def _step(request: Request, consultation_id: int, step: str) -> Response:
    principal = await writer(request)
    auth.authorize(principal, auth.PUBLISH, CONSULTATION)
    form = form_data(await request.form())
    try:
        with unit_of_work(request, principal) as session:
            row = service.get(session, consultation_id)
            if step == "publish":
                service.publish(session, row)
            elif step == "close":
                service.close(session, row)
            else:
                service.respond(
                    session, row, schemas.WeDidIn(we_did=str(form.get("we_did", ""))).we_did
                )
    except (Invalid, ValueError) as exc:
        message = (
            "; ".join(exc.errors.values()) if isinstance(exc, Invalid) else "write the response"
        )
        if isinstance(exc, Conflict):
            message = str(exc)
        return ws_render(
            request,
            "workspace/error.html",
            "This cannot be done",
            principal,
            status_code=422,
            message=message,
        )
    if step == "respond":
        tell_respondents(request, consultation_id)
    return see_other(f"/workspace/consultations/{consultation_id}")


def tell_respondents(request: Request, consultation_id: int) -> notify.Sent:
    """After the response is committed: email those who asked to be told, each address
    deleted once sent (a slow or failed mail server never holds up the response)."""
    from healthycity.engagement.pages import mailer_of

    with sessions(request)() as session, session.begin():
        row = service.get(session, consultation_id)
        return notify.tell(
            session,
            row,
            mailer_of(request),
            str(request.app.state.settings.secret_key),
            str(request.base_url),
        )


@router.post("/api/v1/consultations/{consultation_id:int}/respond")
async def respond_api(request: Request, consultation_id: int) -> Response:
    """Publish "you said, we did" (JSON ``{"we_did": …}``) and tell who asked."""
    principal = await writer(request)
    auth.authorize(principal, auth.PUBLISH, CONSULTATION)
    try:
        body = await request.json()
        data = schemas.WeDidIn.model_validate(body)
    except ValidationError as exc:
        raise Invalid(errors_from(exc)) from None
    except ValueError:
        raise Invalid("the request body must be a JSON object") from None
    with unit_of_work(request, principal) as session:
        row = service.get(session, consultation_id)
        service.respond(session, row, data.we_did)
    sent = tell_respondents(request, consultation_id)
    with read_session(request) as session:
        result = consultation_json(service.get(session, consultation_id))
    return json_response(result | {"notified": sent.sent, "notify_failed": sent.failed})


@router.post("/workspace/consultations/{consultation_id:int}/publish")
async def publish(request: Request, consultation_id: int) -> Response:
    return await _step(request, consultation_id, "publish")


@router.post("/workspace/consultations/{consultation_id:int}/close")
async def close(request: Request, consultation_id: int) -> Response:
    return await _step(request, consultation_id, "close")


@router.post("/workspace/consultations/{consultation_id:int}/respond")
async def respond(request: Request, consultation_id: int) -> Response:
    return await _step(request, consultation_id, "respond")


@router.get(
    "/workspace/consultations/{consultation_id:int}/moderation", response_class=HTMLResponse
)
def moderation(request: Request, consultation_id: int, error: str = "") -> Response:
    principal = viewer(request)
    auth.authorize(principal, auth.EDIT, CONSULTATION)
    with read_session(request) as session:
        row = service.get(session, consultation_id)
        queue = service.moderation_queue(session, row)
        titles = {q["id"]: q["text"] for q in row.questions}
    response = ws_render(
        request,
        "engagement/ws_moderation.html",
        f"Moderate: {row.title}",
        principal,
        row=row,
        queue=queue,
        titles=titles,
        labels=MODERATION_LABELS,
        choices=((SHOWN, "Publish"), (REJECTED, "Do not publish")),
        error=error,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@router.post("/workspace/consultations/{consultation_id:int}/moderation/{item_id:int}")
async def moderate(request: Request, consultation_id: int, item_id: int) -> Response:
    principal = await writer(request)
    auth.authorize(principal, auth.EDIT, CONSULTATION)
    form = form_data(await request.form())
    try:
        with unit_of_work(request, principal) as session:
            service.moderate(
                session,
                item_id,
                str(form.get("decision", "")),
                str(form.get("reason", "")),
                principal.label,
                theme=str(form.get("theme", "")),
            )
    except Invalid as exc:
        if "json" in request.headers.get("accept", ""):
            return JSONResponse({"errors": exc.errors}, status_code=422)
        return moderation(request, consultation_id, error="; ".join(exc.errors.values()))
    return see_other(f"/workspace/consultations/{consultation_id}/moderation")


@router.post("/api/v1/poll-series")
async def load_poll(request: Request) -> Response:
    """Add or replace a poll series with its waves; refused whole without its disclosure."""
    principal = await writer(request)
    auth.authorize(principal, auth.CREATE, POLL)
    try:
        body = await request.json()
    except ValueError:
        raise Invalid("the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise Invalid("the request body must be a JSON object")
    with unit_of_work(request, principal) as session:
        series = polls.load_series(session, body)
        slug = series.slug
    return JSONResponse({"slug": slug, "url": f"/polls/{slug}"}, status_code=201)


def register(app: FastAPI) -> None:
    """Mount the consultations' forms, JSON API and workspace pages, and poll loading."""
    install(app)
    app.include_router(form_router((KIND,)))
    app.include_router(router)  # before the generic API: "respond" is answered here
    app.include_router(api_router((KIND,)))
