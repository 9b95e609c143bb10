"""Assurance pages: proposals in the workspace, and published assessments for everyone.

The public pages (``/service-changes``) need no sign-in and show only published
assessments, with .json and .csv twins. The workspace pages take a proposal through its
stages; each button appears only when the policy would allow it. The workspace list and
a proposal's page have twins too, registered private: the same handler answers them, so
whoever may not see the page gets the same refusal from its twins.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy import select

from healthycity.assurance import schemas, service
from healthycity.assurance.models import (
    ASSESSED,
    DRAFT,
    FRAMEWORK_LABELS,
    PUBLISHED,
    STATUS_LABELS,
    SUBMITTED,
    UNDER_REVIEW,
    VERDICT_LABELS,
    VERDICTS,
    Proposal,
)
from healthycity.assurance.pack_loading import BED_TEST_RULE, INEQUALITY_RULE, INVESTMENT_RULE
from healthycity.core import auth, registry
from healthycity.core.auth import Principal
from healthycity.core.errors import Invalid, NotFound
from healthycity.core.web.records import FormField
from healthycity.core.web.twins import Page, Table, money, twin_routes
from healthycity.core.web.workspace import (
    FORM_ERROR_STATUS,
    errors_from,
    install,
    read_session,
    see_other,
    unit_of_work,
    viewer,
    writer,
    ws_page,
    ws_render,
)
from healthycity.portfolio.indicators import borough_values

router = APIRouter(include_in_schema=False)
STATUS_COLOURS = {
    DRAFT: "grey",
    SUBMITTED: "blue",
    UNDER_REVIEW: "yellow",
    ASSESSED: "purple",
    PUBLISHED: "green",
}
VERDICT_COLOURS = {"met": "green", "partly_met": "yellow", "not_met": "red"}


def _area_names(session: Any, codes: list[str]) -> dict[str, str]:
    from healthycity.geography.models import Area

    rows = session.scalars(select(Area).where(Area.code.in_(codes))).all()
    return {a.code: a.name for a in rows}


def _context(session: Any, proposal: Proposal) -> dict[str, Any]:
    rows = service.verdict_rows(session, proposal)
    boroughs, borough_note = borough_values(session, proposal.affected_boroughs)
    return {
        "proposal": proposal,
        "verdicts": rows,
        "frameworks": [
            (label, [r for r in rows if r.test.framework == key])
            for key, label in FRAMEWORK_LABELS.items()
        ],
        "conditions": service.conditions(session),
        "bed_evidence": {e.condition_slug: e.evidence for e in proposal.bed_evidence},
        "areas": _area_names(session, proposal.affected_boroughs),
        "boroughs": boroughs,
        "borough_note": borough_note,
        "status_label": STATUS_LABELS[proposal.status],
        "status_colour": STATUS_COLOURS[proposal.status],
        "verdict_colours": VERDICT_COLOURS,
        "rules": {
            "bed": BED_TEST_RULE,
            "investment": INVESTMENT_RULE,
            "inequality": INEQUALITY_RULE,
        },
    }


@twin_routes(router, "/workspace/proposals", private=True)
def proposals(request: Request) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.PROPOSAL)
    with read_session(request) as session:
        rows = list(session.scalars(select(Proposal).order_by(Proposal.id.desc())))
    table = Table(
        [
            "id",
            "title",
            "sponsor",
            "stage",
            "boroughs",
            "beds_now",
            "beds_proposed",
            "investment_required",
            "investment_identified",
        ],
        [
            [
                p.id,
                p.title,
                p.sponsor,
                STATUS_LABELS[p.status],
                " ".join(p.affected_boroughs),
                p.beds_now,
                p.beds_proposed,
                money(p.investment_required),
                money(p.investment_identified),
            ]
            for p in rows
        ],
    )
    return ws_page(
        principal,
        Page(
            "assurance/proposals.html",
            "Service-change proposals",
            context={
                "rows": rows,
                "labels": STATUS_LABELS,
                "colours": STATUS_COLOURS,
                "can_create": auth.is_allowed(principal, auth.CREATE, auth.PROPOSAL),
            },
            table=table,
            filename="service-change-proposals",
        ),
    )


def _verdict_table(context: dict[str, Any], *, assessor: bool) -> Table:
    """The verdicts as the page lists them; who assessed stays out of the public twin."""
    columns = ["framework", "test", "verdict", "rationale", "evidence"]
    return Table(
        [*columns, "assessor"] if assessor else columns,
        [
            [
                FRAMEWORK_LABELS[r.test.framework],
                r.test.name,
                r.label,
                r.verdict.rationale if r.verdict else None,
                r.verdict.evidence if r.verdict else None,
                *([r.verdict.assessor if r.verdict else None] if assessor else []),
            ]
            for r in context["verdicts"]
        ],
    )


def _borough_table(context: dict[str, Any]) -> Table:
    return Table(
        ["indicator", "borough", "period", "borough_value", "london_value", "compared_with_london"],
        [
            [b.indicator, b.area_name, b.period, b.value, b.london, b.comparison]
            for b in context["boroughs"]
        ],
    )


PROPOSAL_TABLES = (("boroughs", "the affected boroughs' indicators"),)


@twin_routes(router, "/workspace/proposals/{proposal_id:int}", private=True)
def proposal_page(request: Request, proposal_id: int) -> Page:
    from healthycity.assurance.api import proposal_json

    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.PROPOSAL)
    with read_session(request) as session:
        proposal = service.get_proposal(session, proposal_id)
        allowed = {
            "edit": proposal.status == DRAFT
            and auth.is_allowed(principal, auth.EDIT, auth.PROPOSAL),
            "delete": proposal.status == DRAFT
            and auth.is_allowed(principal, auth.DELETE, auth.PROPOSAL),
            "assess": proposal.status in (SUBMITTED, UNDER_REVIEW)
            and auth.is_allowed(principal, auth.ASSESS, auth.PROPOSAL),
            "publish": proposal.status == ASSESSED
            and auth.is_allowed(principal, auth.PUBLISH, auth.PROPOSAL),
        }
        context = _context(session, proposal)
        boroughs = _borough_table(context)
        data = proposal_json(proposal) | {"boroughs": boroughs.records()}
        # The page renders after the session closes; touch what the template reads.
        _ = (proposal.bed_evidence, proposal.verdicts)
    return ws_page(
        principal,
        Page(
            "assurance/proposal.html",
            proposal.title,
            context={**context, "allowed": allowed, "download_tables": PROPOSAL_TABLES},
            data=data,
            table=_verdict_table(context, assessor=True),
            tables={"boroughs": boroughs},
            filename=f"service-change-proposal-{proposal_id}",
        ),
    )


async def _step(request: Request, proposal_id: int, action: str, step: Any) -> Response:
    principal = await writer(request)
    auth.authorize(principal, action, auth.PROPOSAL)
    try:
        with unit_of_work(request, principal) as session:
            step(session, service.get_proposal(session, proposal_id))
    except Invalid as exc:
        with read_session(request) as session:
            proposal = service.get_proposal(session, proposal_id)
            return ws_render(
                request,
                "assurance/proposal.html",
                proposal.title,
                principal,
                status_code=FORM_ERROR_STATUS,
                allowed={},
                error_list=[{"text": m, "href": "#details"} for m in exc.errors.values()],
                error_title=True,
                **_context(session, proposal),
            )
    return see_other(f"/workspace/proposals/{proposal_id}")


@router.post("/workspace/proposals/{proposal_id:int}/submit")
async def submit(request: Request, proposal_id: int) -> Response:
    return await _step(request, proposal_id, auth.EDIT, service.submit)


@router.post("/workspace/proposals/{proposal_id:int}/publish")
async def publish(request: Request, proposal_id: int) -> Response:
    return await _step(request, proposal_id, auth.PUBLISH, service.publish)


def _assess_page(
    request: Request,
    principal: Principal,
    proposal_id: int,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    with read_session(request) as session:
        proposal = service.get_proposal(session, proposal_id)
        context = _context(session, proposal)
        if values is None:
            values = {"overall_summary": proposal.overall_summary or ""}
            for row in context["verdicts"]:
                if row.verdict is not None:
                    slug = row.test.slug
                    values[f"verdict-{slug}"] = row.verdict.verdict
                    values[f"rationale-{slug}"] = row.verdict.rationale
                    values[f"evidence-{slug}"] = row.verdict.evidence or ""
        fields = [FormField(f"verdict-{r.test.slug}", r.test.name) for r in context["verdicts"]]
        fields = [FormField(n, n) for n in ("overall_summary",)] + fields
        return ws_render(
            request,
            "assurance/assess.html",
            f"Assess {proposal.title}",
            principal,
            status_code=FORM_ERROR_STATUS,
            values=values,
            errors=errors or {},
            error_list=_assess_errors(errors or {}),
            error_title=bool(errors),
            verdict_choices=[(v, VERDICT_LABELS[v]) for v in VERDICTS],
            **context,
        )


def _assess_errors(errors: dict[str, str]) -> list[dict[str, str]]:
    items = []
    for name, message in errors.items():
        target = f"{name}-1" if name.startswith("verdict-") else name or "overall_summary"
        items.append({"text": message, "href": f"#{target}"})
    return items


@router.get("/workspace/proposals/{proposal_id:int}/assess", response_class=HTMLResponse)
def assess_form(request: Request, proposal_id: int) -> Response:
    principal = viewer(request)
    auth.authorize(principal, auth.ASSESS, auth.PROPOSAL)
    return _assess_page(request, principal, proposal_id)


@router.post("/workspace/proposals/{proposal_id:int}/assess", response_class=HTMLResponse)
async def assess(request: Request, proposal_id: int) -> Response:
    principal = await writer(request)
    auth.authorize(principal, auth.ASSESS, auth.PROPOSAL)
    form = await request.form()
    values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
    with read_session(request) as session:
        slugs = [t.slug for t in service.tests(session)]
    verdicts = []
    errors: dict[str, str] = {}
    for slug in slugs:
        verdict = values.get(f"verdict-{slug}", "")
        rationale = values.get(f"rationale-{slug}", "").strip()
        if not verdict:
            continue
        if not rationale:
            errors[f"rationale-{slug}"] = "Give the rationale for this verdict"
            continue
        verdicts.append(
            {
                "test_slug": slug,
                "verdict": verdict,
                "rationale": rationale,
                "evidence": values.get(f"evidence-{slug}", ""),
            }
        )
    try:
        data = schemas.AssessIn.model_validate(
            {
                "verdicts": verdicts,
                "complete": values.get("complete") == "yes",
                "overall_summary": values.get("overall_summary") or None,
            }
        )
        if errors:
            raise Invalid(errors)
        with unit_of_work(request, principal) as session:
            service.assess(
                session, service.get_proposal(session, proposal_id), data, principal.label
            )
    except (ValidationError, Invalid) as exc:
        return _assess_page(
            request, principal, proposal_id, values=values, errors=errors | errors_from(exc)
        )
    return see_other(f"/workspace/proposals/{proposal_id}")


# ------------------------------------------------------------------------ public pages


@twin_routes(router, "/service-changes")
def published_list(request: Request) -> Page:
    with read_session(request) as session:
        rows = service.published(session)
        table = Table(
            ["id", "title", "sponsor", "boroughs", "beds_now", "beds_proposed", "published"],
            [
                [
                    p.id,
                    p.title,
                    p.sponsor,
                    " ".join(p.affected_boroughs),
                    p.beds_now,
                    p.beds_proposed,
                    p.published_at.date().isoformat() if p.published_at else None,
                ]
                for p in rows
            ],
        )
    return Page(
        "assurance/public_list.html",
        "Service-change assessments",
        context={"rows": rows},
        table=table,
        filename="service-change-assessments",
    )


@twin_routes(router, "/service-changes/{proposal_id:int}")
def published_page(request: Request, proposal_id: int) -> Page:
    from healthycity.assurance.api import proposal_json

    with read_session(request) as session:
        proposal = session.get(Proposal, proposal_id)
        if proposal is None or proposal.status != PUBLISHED:
            raise NotFound("no published assessment with that number")
        context = _context(session, proposal)
        # Other modules' links (consultations…) come through the registry's hook.
        context["related"] = registry.related(session, "service-change", str(proposal.id))
        # Who in the workspace drafted and assessed it stays in the workspace.
        data = proposal_json(proposal)
        for private in ("created_by", "assessed_by"):
            data.pop(private, None)
        for verdict in data["verdicts"]:
            verdict.pop("assessor", None)
        table = _verdict_table(context, assessor=False)
    return Page(
        "assurance/public_assessment.html",
        proposal.title,
        context=context,
        data=data,
        table=table,
        filename=f"service-change-{proposal_id}",
    )


def register(app: FastAPI) -> None:
    """Mount the proposals' forms and workspace pages, and the public assessments."""
    from healthycity.assurance.api import KINDS
    from healthycity.core.web.records import form_router

    install(app)
    app.include_router(form_router(KINDS))
    app.include_router(router)
