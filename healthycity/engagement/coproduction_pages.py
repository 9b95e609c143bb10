"""Co-production pages: the public proposes, comments and votes on indicators through a
consultation (`/consultations/{slug}/proposals`, with `.json` and `.csv` twins), and the
portfolio office moderates each proposal and records its decision
(`/workspace/consultations/{id}/proposals`).

The public forms carry the answer form's defences (`engagement.guard`): the anonymous
CSRF token, and for a proposal the signed start time, the honeypot and a rate limit of
their own; a vote needs the token and has its own, higher, limit. Refusals are counted
with the answers'. Every office change goes through `unit_of_work`: attributed, audited.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from healthycity.core import auth
from healthycity.core.audit import acting_as
from healthycity.core.errors import Conflict, Invalid
from healthycity.core.inputs import form_data
from healthycity.core.throttle import client_address
from healthycity.core.web import csrf
from healthycity.core.web.rendering import render
from healthycity.core.web.twins import Page, Table, twin_routes
from healthycity.core.web.workspace import (
    FORM_ERROR_STATUS,
    errors_from,
    install,
    read_session,
    see_other,
    sessions,
    unit_of_work,
    viewer,
    writer,
    ws_render,
)
from healthycity.engagement import coproduction, guard, service
from healthycity.engagement.models import (
    DECISION_LABELS,
    MODERATION_LABELS,
    PROPOSAL_KINDS,
    Consultation,
    IndicatorProposal,
)
from healthycity.engagement.pages import (
    MESSAGES,
    PUBLIC_ACTOR,
    _anonymous_token,
    _check,
    _public,
    _with_cookie,
    hasher,
    policy,
    secret,
)
from healthycity.engagement.schemas import ProposalIn

router = APIRouter(include_in_schema=False)
CONSULTATION = "consultation"
COLUMNS = [
    "id",
    "kind",
    "about",
    "title",
    "description",
    "source",
    "agree",
    "disagree",
    "pass",
    "agree_percent_of_agree_or_disagree",
    "lower_95",
    "upper_95",
    "decision",
    "decision_reason",
    "decided_at",
]
PROPOSAL_REFUSED = "Your proposal was not accepted"
VOTE_REFUSED = "Your vote was not accepted"


def _about_choices(row: Consultation) -> list[tuple[str, str]]:
    """What a public proposal may be about: the indicators and commitments the
    consultation itself is about."""
    labels = {"indicator": "Indicator", "commitment": "Commitment"}
    out = []
    for link in row.links:
        kind, _, key = link.partition(":")
        if kind in labels:
            out.append((link, f"{labels[kind]} {key}"))
    return out


def _rows(
    session: Session, row: Consultation
) -> tuple[list[IndicatorProposal], dict[int, coproduction.Tally], Table]:
    found = coproduction.proposals(session, row)
    counts = coproduction.tallies(session, [p.id for p in found])
    table = Table(
        COLUMNS,
        [
            [
                p.id,
                p.kind,
                p.about,
                p.title,
                p.description,
                p.source,
                counts[p.id].agree,
                counts[p.id].disagree,
                counts[p.id].passed,
                counts[p.id].agree_percent,
                counts[p.id].lower,
                counts[p.id].upper,
                DECISION_LABELS.get(p.decision or "", None),
                p.decision_reason,
                p.decided_at.isoformat() if p.decided_at else None,
            ]
            for p in found
        ],
    )
    return found, counts, table


def _page_context(
    request: Request,
    session: Session,
    row: Consultation,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> tuple[dict[str, Any], Table]:
    found, counts, table = _rows(session, row)
    errors = errors or {}
    return {
        "consultation": row,
        "proposals": found,
        "counts": counts,
        "is_open": service.is_open(row) and row.co_production,
        "not_published": coproduction.not_published(session, row),
        "kinds": PROPOSAL_KINDS,
        "decisions": DECISION_LABELS,
        "about_choices": _about_choices(row),
        "values": values or {},
        "errors": errors,
        "error_list": [{"text": m, "href": f"#p-{k or 'form'}"} for k, m in errors.items()],
        "error_title": bool(errors),
        "started": guard.start_token(secret(request), row.slug),
        "honeypot": guard.HONEYPOT,
    }, table


def _html(
    request: Request,
    session: Session,
    row: Consultation,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    """The page with its forms: never from the page cache (it sets the form cookie)."""
    context, _table = _page_context(request, session, row, form, errors)
    token = _anonymous_token(request)
    page = render(
        request,
        "engagement/proposals.html",
        f"Indicators: {row.title}",
        status_code=FORM_ERROR_STATUS,
        anonymous_token=token,
        **context,
    )
    return _with_cookie(request, page, token)


# Registered before the twins below, so this route answers the page itself.
@router.get("/consultations/{slug}/proposals", response_class=HTMLResponse)
def proposals_html(request: Request, slug: str) -> Response:
    """Published proposals on indicators, their votes and the office's decisions."""
    with read_session(request) as session:
        row = _public(session, slug)
        return _html(request, session, row)


@twin_routes(router, "/consultations/{slug}/proposals")
def proposals_data(request: Request, slug: str) -> Page:
    """The page's `.json` and `.csv` twins: no personal data, no form tokens."""
    with read_session(request) as session:
        row = _public(session, slug)
        _found, _counts, table = _rows(session, row)
        hidden = coproduction.not_published(session, row)
    return Page(
        "engagement/proposals.html",
        f"Indicators: {row.title}",
        data={
            "consultation": row.slug,
            "label": "Votes are self-selected: they inform the decision, they do not make it.",
            "proposals": table.records(),
            "not_published": hidden,
        },
        table=table,
        filename=f"consultation-{row.slug}-proposals",
    )


def _refused(request: Request, row: Consultation, reason: str, heading: str) -> Response:
    status, message = MESSAGES[reason]
    return render(
        request,
        "engagement/refused.html",
        heading,
        status_code=status,
        consultation=row,
        reason=reason,
        message=message.replace("check your answers and send them", "check it and send it")
        .replace("answers", "submissions")
        .replace("answer", "submission"),
        heading=heading,
    )


@router.post("/consultations/{slug}/proposals", response_class=HTMLResponse)
async def propose(request: Request, slug: str) -> Response:
    form = form_data(await request.form())
    address = hasher(request, "address")(
        client_address(request.client.host if request.client else None)
    )
    with sessions(request)() as session, session.begin(), acting_as(session, PUBLIC_ACTOR):
        row = _public(session, slug)
        reason = _check(request, session, row, form)
        if reason is None and not row.co_production:
            reason = guard.CLOSED
        if reason is None:
            try:
                data = ProposalIn.model_validate(
                    {k: form.get(k, "") for k in ("kind", "about", "title", "description")}
                )
            except ValidationError as exc:
                return _html(request, session, row, form, errors_from(exc))
            if data.about and data.about not in dict(_about_choices(row)):
                errors = {"about": "choose one of the indicators or commitments listed"}
                return _html(request, session, row, form, errors)
            if guard.over_limit(session, policy(request), row.id, address, guard.PROPOSAL):
                reason = guard.RATE_LIMITED
        if reason is not None:
            guard.refuse(session, row.id, reason)
            return _refused(request, row, reason, PROPOSAL_REFUSED)
        coproduction.propose(session, row, data)
        guard.count_attempt(session, row.id, address, guard.PROPOSAL)
    return render(request, "engagement/proposed.html", "Proposal received", consultation=row)


@router.post("/consultations/{slug}/proposals/{proposal_id:int}/vote")
async def vote(request: Request, slug: str, proposal_id: int) -> Response:
    form = form_data(await request.form())
    cookie = request.cookies.get(csrf.ANON_COOKIE)
    address = hasher(request, "address")(
        client_address(request.client.host if request.client else None)
    )
    with sessions(request)() as session, session.begin():
        row = _public(session, slug)
        try:
            csrf.verify_anonymous(secret(request), cookie, str(form.get(csrf.FIELD, "")))
            reason = None
        except csrf.CsrfError:
            reason = guard.FORGED
        if reason is None and not (row.co_production and service.is_open(row)):
            reason = guard.CLOSED
        if reason is None and guard.over_limit(
            session, policy(request), row.id, address, guard.VOTE
        ):
            reason = guard.RATE_LIMITED
        if reason is not None:
            guard.refuse(session, row.id, reason)
            return _refused(request, row, reason, VOTE_REFUSED)
        proposal = coproduction.get(session, row, proposal_id)
        coproduction.vote(
            session, proposal, str(form.get("vote", "")), hasher(request, "voter")(str(cookie))
        )
        guard.count_attempt(session, row.id, address, guard.VOTE)
    return see_other(f"/consultations/{slug}/proposals#proposal-{proposal_id}")


# ------------------------------------------------------------------------ workspace


@router.get("/workspace/consultations/{consultation_id:int}/proposals", response_class=HTMLResponse)
def office_page(request: Request, consultation_id: int, error: str = "") -> Response:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, CONSULTATION)
    with read_session(request) as session:
        row = service.get(session, consultation_id)
        found = coproduction.proposals(session, row, published_only=False)
        counts = coproduction.tallies(session, [p.id for p in found])
    response = ws_render(
        request,
        "engagement/ws_proposals.html",
        f"Proposals: {row.title}",
        principal,
        row=row,
        proposals=found,
        counts=counts,
        kinds=PROPOSAL_KINDS,
        decisions=DECISION_LABELS,
        moderation_labels=MODERATION_LABELS,
        error=error,
        can_moderate=auth.is_allowed(principal, auth.EDIT, CONSULTATION),
        can_decide=auth.is_allowed(principal, auth.PUBLISH, CONSULTATION),
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


async def _office_change(
    request: Request, consultation_id: int, action: str, proposal_id: int | None = None
) -> Response:
    principal = await writer(request)
    auth.authorize(principal, auth.PUBLISH if action == "decide" else auth.EDIT, CONSULTATION)
    form = form_data(await request.form())
    try:
        with unit_of_work(request, principal) as session:
            row = service.get(session, consultation_id)
            if action == "add":
                data = ProposalIn.model_validate(
                    {k: form.get(k, "") for k in ("kind", "about", "title", "description")}
                )
                coproduction.propose(session, row, data, coproduction.OFFICE)
            else:
                proposal = coproduction.get(session, row, proposal_id or 0)
                if action == "moderate":
                    coproduction.moderate(
                        session,
                        proposal,
                        str(form.get("moderation", "")),
                        str(form.get("moderation_reason", "")),
                    )
                else:
                    coproduction.decide(
                        session,
                        proposal,
                        str(form.get("decision", "")),
                        str(form.get("decision_reason", "")),
                        principal.label,
                    )
    except (Invalid, ValidationError, Conflict) as exc:
        errors = {"": str(exc)} if isinstance(exc, Conflict) else errors_from(exc)
        if "json" in request.headers.get("accept", ""):
            return JSONResponse({"errors": errors}, status_code=422)
        return office_page(request, consultation_id, error="; ".join(errors.values()))
    return see_other(f"/workspace/consultations/{consultation_id}/proposals")


@router.post("/workspace/consultations/{consultation_id:int}/proposals")
async def office_add(request: Request, consultation_id: int) -> Response:
    return await _office_change(request, consultation_id, "add")


@router.post("/workspace/consultations/{consultation_id:int}/proposals/{proposal_id:int}/moderate")
async def office_moderate(request: Request, consultation_id: int, proposal_id: int) -> Response:
    return await _office_change(request, consultation_id, "moderate", proposal_id)


@router.post("/workspace/consultations/{consultation_id:int}/proposals/{proposal_id:int}/decide")
async def office_decide(request: Request, consultation_id: int, proposal_id: int) -> Response:
    return await _office_change(request, consultation_id, "decide", proposal_id)


def register(app: FastAPI) -> None:
    """Mount the public proposal pages and the office's moderation and decisions."""
    install(app)
    app.include_router(router)
