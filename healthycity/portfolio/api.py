"""The portfolio and devolution register as record kinds: JSON API and generic forms.

Each kind below is the one description of a record type; `workspace.records` turns it
into ``/api/v1/<plural>`` (JSON, bearer token or session with CSRF header) and the
``/workspace/<plural>/…`` forms. Exports in GMPP-like columns and imports live here too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import FastAPI, Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core import auth
from healthycity.core.audit import snapshot
from healthycity.core.auth import Principal
from healthycity.core.web.records import FormField, RecordKind, api_router
from healthycity.portfolio import governance_kinds, schemas, service, spending
from healthycity.portfolio.models import (
    DCA_RATINGS,
    FUND_CATEGORIES,
    MILESTONE_STATUS_LABELS,
    PLEDGE_STATUS_LABELS,
    STAKEHOLDER_ROLE_LABELS,
    BudgetBaseline,
    ConfidenceAssessment,
    DevolutionArea,
    Milestone,
    MonthlySpend,
    Pilot,
    Pledge,
    Programme,
    ProgressUpdate,
    Risk,
    Stakeholder,
    TransformationFund,
)


def _programme_url(slug: str | None) -> str:
    return f"/workspace/programmes/{slug}" if slug else "/workspace/reports"


def _programme_default(request: Request) -> dict[str, Any]:
    slug = request.query_params.get("programme")
    return {"programme_slug": slug} if slug else {}


def _int_key(text: str) -> int:
    return int(text)


def _all(model: type[Any], *order: Any) -> Any:
    def listing(session: Session) -> list[Any]:
        return list(session.scalars(select(model).order_by(*order)))

    return listing


def _child_current(fields: tuple[str, ...]) -> Any:
    def current(row: Any) -> dict[str, Any]:
        return service.fields_input(row, fields, "programme_slug")

    return current


def _child_update(fields: tuple[str, ...]) -> Any:
    def update(session: Session, row: Any, data: Any, _principal: Principal) -> None:
        service.update_fields(session, row, data, fields)

    return update


def _programme_json(row: Programme) -> dict[str, Any]:
    body = snapshot(row)
    body.pop("pack_digest", None)
    body["financial_years"] = {}
    for year in service.financial_years(row):
        finance = service.year_finance(row, year)
        body["financial_years"][year] = {
            "baseline": finance.baseline,
            "actual_to_date": finance.actual_to_date,
            "forecast_outturn": finance.outturn,
            "variance": finance.variance,
            "variance_pct": finance.variance_pct,
            "variance_flagged": finance.flagged,
            "variance_explanation": finance.explanation,
        }
    whole = service.whole_life(row)
    body["whole_life"] = {
        "budget": whole.budget,
        "actual_to_date": whole.actual_to_date,
        "forecast": whole.forecast,
        "variance": whole.variance,
        "variance_pct": whole.variance_pct,
        "variance_flagged": whole.flagged,
    }
    latest = service.latest_confidence(row)
    body["delivery_confidence"] = latest.rating if latest else None
    return body


PROGRAMME_SLUG = FormField("programme_slug", "Programme", hint="Its identifier, like cancer")
DATE_HINT = "For example, 2015-07-31"

PROGRAMME = RecordKind(
    name=auth.PROGRAMME,
    plural="programmes",
    label="programme",
    model=Programme,
    schema=schemas.ProgrammeIn,
    fields=(
        FormField("slug", "Identifier", hint="Lower-case words joined by hyphens, like cancer"),
        FormField(
            "kind",
            "Kind",
            kind="select",
            options=(("programme", "Programme"), ("portfolio_line", "Portfolio line")),
        ),
        FormField("number", "Number", kind="number", width=3),
        FormField("name", "Name"),
        FormField("title", "Title"),
        FormField("theme", "Theme"),
        FormField("sro", "Senior responsible owner (CCG lead SRO)"),
        FormField("whole_life_budget", "Whole-life budget", kind="money"),
        FormField("budget_note", "Budget note", kind="textarea"),
        FormField("vision", "Vision", kind="textarea"),
        FormField("description", "Description", kind="textarea"),
        FormField("start_date", "Start date", kind="date", hint=DATE_HINT),
        FormField("end_date", "End date", kind="date", hint=DATE_HINT),
        FormField("aspirations", "Aspirations supported", kind="lines", hint="One per line"),
        FormField(
            "indicators", "Outcome indicators", kind="lines", hint="Indicator ids, one per line"
        ),
    ),
    parse_key=str,
    key_of=lambda row: row.slug,
    owner_of=lambda row: row.slug,
    owner_of_input=lambda data: data.slug,  # type: ignore[attr-defined]
    current=service.programme_input,
    create=lambda session, data, _p: service.create_programme(session, data),
    update=lambda session, row, data, _p: service.update_programme(session, row, data),
    listing=service.programmes,
    return_url=lambda row: _programme_url(row.slug),
    title_of=lambda row: row.name,
    to_json=_programme_json,
    immutable=("slug",),
)

BUDGET_FIELDS = ("financial_year", "amount", "variance_explanation")
BUDGET = RecordKind(
    name=auth.BUDGET,
    plural="budgets",
    label="budget baseline",
    model=BudgetBaseline,
    schema=schemas.BudgetIn,
    fields=(
        PROGRAMME_SLUG,
        FormField("financial_year", "Financial year", kind="year", hint="Like 2015/16", width=5),
        FormField("amount", "Baseline", kind="money"),
        FormField(
            "variance_explanation",
            "Explanation of the variance",
            kind="textarea",
            hint="Needed when the forecast is more than 5% off the baseline",
        ),
    ),
    parse_key=_int_key,
    key_of=lambda row: str(row.id),
    owner_of=lambda row: row.programme_slug,
    owner_of_input=lambda data: data.programme_slug,  # type: ignore[attr-defined]
    current=_child_current(BUDGET_FIELDS),
    create=lambda session, data, _p: service.set_baseline(session, data),
    update=lambda session, row, data, _p: service.update_baseline(session, row, data),
    listing=_all(BudgetBaseline, BudgetBaseline.programme_slug, BudgetBaseline.financial_year),
    return_url=lambda row: _programme_url(row.programme_slug),
    title_of=lambda row: f"the {row.financial_year} baseline",
    immutable=("programme_slug", "financial_year"),
    defaults=_programme_default,
)

SPEND = RecordKind(
    name=auth.SPEND,
    plural="spend",
    label="monthly spend",
    model=MonthlySpend,
    schema=schemas.SpendIn,
    fields=(
        PROGRAMME_SLUG,
        FormField("month", "Month", kind="month", hint="Like 2015-07", width=10),
        FormField("actual", "Actual spend", kind="money", hint="Leave blank until it is known"),
        FormField("forecast", "Forecast spend", kind="money"),
        FormField("note", "Note", kind="textarea"),
        FormField(
            "explanation",
            "Explanation of the year's variance",
            kind="textarea",
            hint="Needed when the year's forecast outturn is more than 5% off its baseline",
        ),
        FormField(
            "replace",
            "Overwrite what is already recorded?",
            kind="select",
            hint="A month that already holds spend is only overwritten when you say so",
            options=(("", "No"), ("yes", "Yes, replace it")),
        ),
    ),
    parse_key=_int_key,
    key_of=lambda row: str(row.id),
    owner_of=lambda row: row.programme_slug,
    owner_of_input=lambda data: data.programme_slug,  # type: ignore[attr-defined]
    current=service.spend_input,
    create=lambda session, data, _p: spending.record_month(session, data),
    update=lambda session, row, data, _p: service.update_spend(session, row, data),
    listing=_all(MonthlySpend, MonthlySpend.programme_slug, MonthlySpend.month),
    return_url=lambda row: _programme_url(row.programme_slug),
    title_of=lambda row: f"spend for {row.month:%B %Y}",
    immutable=("programme_slug", "month"),
    defaults=_programme_default,
)

MILESTONE = RecordKind(
    name=auth.MILESTONE,
    plural="milestones",
    label="milestone",
    model=Milestone,
    schema=schemas.MilestoneIn,
    fields=(
        PROGRAMME_SLUG,
        FormField(
            "kind",
            "Kind",
            kind="select",
            options=(("milestone", "Milestone"), ("deliverable", "Deliverable")),
        ),
        FormField("title", "Title"),
        FormField("baseline_date", "Baseline date", kind="date", hint=DATE_HINT),
        FormField("forecast_date", "Forecast date", kind="date", hint=DATE_HINT),
        FormField("actual_date", "Actual date", kind="date", hint=DATE_HINT),
        FormField(
            "status",
            "Status",
            kind="select",
            options=(("", "From the dates"), *MILESTONE_STATUS_LABELS.items()),
        ),
        FormField("owner", "Owner", hint="Who answers for it"),
        FormField("notes", "Notes", kind="textarea"),
    ),
    parse_key=_int_key,
    key_of=lambda row: str(row.id),
    owner_of=lambda row: row.programme_slug,
    owner_of_input=lambda data: data.programme_slug,  # type: ignore[attr-defined]
    current=_child_current(service.MILESTONE_FIELDS),
    create=lambda session, data, _p: service.add_milestone(session, data),
    update=_child_update(service.MILESTONE_FIELDS),
    listing=_all(Milestone, Milestone.programme_slug, Milestone.baseline_date),
    return_url=lambda row: _programme_url(row.programme_slug),
    title_of=lambda row: row.title,
    immutable=("programme_slug",),
    defaults=_programme_default,
)

CONFIDENCE = RecordKind(
    name=auth.CONFIDENCE,
    plural="confidence",
    label="delivery confidence assessment",
    model=ConfidenceAssessment,
    schema=schemas.ConfidenceIn,
    fields=(
        PROGRAMME_SLUG,
        FormField("assessed_on", "Date of the assessment", kind="date", hint=DATE_HINT),
        FormField(
            "rating",
            "Delivery confidence",
            kind="select",
            options=tuple((r, r) for r in DCA_RATINGS),
            hint="The Infrastructure and Projects Authority's five-point scale",
        ),
        FormField("assessor", "Assessor"),
        FormField("commentary", "Commentary", kind="textarea"),
    ),
    parse_key=_int_key,
    key_of=lambda row: str(row.id),
    owner_of=lambda row: row.programme_slug,
    owner_of_input=lambda data: data.programme_slug,  # type: ignore[attr-defined]
    current=_child_current(service.CONFIDENCE_FIELDS),
    create=lambda session, data, _p: service.add_confidence(session, data),
    update=_child_update(service.CONFIDENCE_FIELDS),
    listing=_all(ConfidenceAssessment, ConfidenceAssessment.programme_slug),
    return_url=lambda row: _programme_url(row.programme_slug),
    title_of=lambda row: f"the {row.assessed_on} assessment",
    immutable=("programme_slug",),
    defaults=_programme_default,
)

RISK = RecordKind(
    name=auth.RISK,
    plural="risks",
    label="risk",
    model=Risk,
    schema=schemas.RiskIn,
    fields=(
        PROGRAMME_SLUG,
        FormField("title", "Risk"),
        FormField("description", "Description", kind="textarea"),
        FormField("likelihood", "Likelihood (1 to 5)", kind="number", width=2),
        FormField("impact", "Impact (1 to 5)", kind="number", width=2),
        FormField("owner", "Owner"),
        FormField("mitigation", "Mitigation", kind="textarea"),
        FormField(
            "status", "Status", kind="select", options=(("open", "Open"), ("closed", "Closed"))
        ),
    ),
    parse_key=_int_key,
    key_of=lambda row: str(row.id),
    owner_of=lambda row: row.programme_slug,
    owner_of_input=lambda data: data.programme_slug,  # type: ignore[attr-defined]
    current=_child_current(service.RISK_FIELDS),
    create=lambda session, data, _p: service.add_risk(session, data),
    update=_child_update(service.RISK_FIELDS),
    listing=_all(Risk, Risk.programme_slug, Risk.id),
    return_url=lambda row: _programme_url(row.programme_slug),
    title_of=lambda row: row.title,
    immutable=("programme_slug",),
    defaults=_programme_default,
)

STAKEHOLDER = RecordKind(
    name=auth.STAKEHOLDER,
    plural="stakeholders",
    label="lead",
    model=Stakeholder,
    schema=schemas.StakeholderIn,
    fields=(
        PROGRAMME_SLUG,
        FormField("role", "Role", kind="select", options=tuple(STAKEHOLDER_ROLE_LABELS.items())),
        FormField(
            "group_code",
            "Sub-regional group or CCG area",
            hint="A planning group such as SEL, or a borough code such as E09000022",
            width=10,
        ),
        FormField("people", "People", kind="lines", hint="One per line"),
        FormField(
            "status",
            "Status",
            kind="select",
            options=(
                ("named", "Named"),
                ("tbc", "To be confirmed"),
                ("not_applicable", "Not applicable"),
                ("other", "Other (see note)"),
            ),
        ),
        FormField("note", "Note", kind="textarea"),
        FormField("contact", "Contact details"),
    ),
    parse_key=_int_key,
    key_of=lambda row: str(row.id),
    owner_of=lambda row: row.programme_slug,
    owner_of_input=lambda data: data.programme_slug,  # type: ignore[attr-defined]
    current=_child_current(service.STAKEHOLDER_FIELDS),
    create=lambda session, data, _p: service.add_stakeholder(session, data),
    update=_child_update(service.STAKEHOLDER_FIELDS),
    listing=_all(Stakeholder, Stakeholder.programme_slug, Stakeholder.position),
    return_url=lambda row: _programme_url(row.programme_slug),
    title_of=lambda row: f"the {STAKEHOLDER_ROLE_LABELS.get(row.role, row.role).lower()}",
    immutable=("programme_slug",),
    defaults=_programme_default,
)

PROGRESS = RecordKind(
    name=auth.PROGRESS,
    plural="progress",
    label="progress report item",
    model=ProgressUpdate,
    schema=schemas.ProgressIn,
    fields=(
        FormField(
            "programme_slug",
            "Programme",
            hint="Leave blank for the report's introduction, highlights and events",
        ),
        FormField("period", "Report month", kind="month", hint="Like 2015-07", width=10),
        FormField(
            "kind",
            "Kind",
            kind="select",
            options=(
                ("progress", "Programme progress"),
                ("highlight", "Highlight"),
                ("event", "Recent or upcoming event"),
                ("introduction", "Introduction"),
            ),
        ),
        FormField("title", "Title"),
        FormField("body", "Text", kind="textarea"),
        FormField("event_date", "Event date", kind="date", hint=DATE_HINT),
        FormField("position", "Order", kind="number", width=3),
    ),
    parse_key=_int_key,
    key_of=lambda row: str(row.id),
    owner_of=lambda row: row.programme_slug,
    owner_of_input=lambda data: data.programme_slug,  # type: ignore[attr-defined]
    current=lambda row: service.fields_input(row, service.PROGRESS_FIELDS),
    create=lambda session, data, _p: service.add_progress(session, data),
    update=_child_update(service.PROGRESS_FIELDS),
    listing=_all(ProgressUpdate, ProgressUpdate.period, ProgressUpdate.position),
    return_url=lambda row: _programme_url(row.programme_slug),
    title_of=lambda row: row.title or f"{row.kind} for {row.period}",
    immutable=("programme_slug",),
    defaults=_programme_default,
)

AREA = RecordKind(
    name=auth.DEVOLUTION_AREA,
    plural="devolution-areas",
    label="devolution area",
    model=DevolutionArea,
    schema=schemas.DevolutionAreaIn,
    fields=(
        FormField("slug", "Identifier", hint="Lower-case words joined by hyphens"),
        FormField("number", "Number", kind="number", width=3),
        FormField("name", "Name"),
        FormField("description", "Description", kind="textarea"),
    ),
    parse_key=str,
    key_of=lambda row: row.slug,
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=lambda row: service.fields_input(row, service.AREA_FIELDS, "slug"),
    create=lambda session, data, _p: service.create_area(session, data),
    update=_child_update(service.AREA_FIELDS),
    listing=_all(DevolutionArea, DevolutionArea.number),
    return_url=lambda _row: "/workspace/devolution",
    title_of=lambda row: row.name,
    immutable=("slug",),
)

PLEDGE = RecordKind(
    name=auth.PLEDGE,
    plural="pledges",
    label="pledge",
    model=Pledge,
    schema=schemas.PledgeIn,
    fields=(
        FormField("area_slug", "Devolution area", hint="Its identifier, like public-health"),
        FormField("number", "Number", kind="number", width=3),
        FormField("text", "Pledge", kind="textarea"),
        FormField("owner", "Owner"),
        FormField("status", "Status", kind="select", options=tuple(PLEDGE_STATUS_LABELS.items())),
        FormField("evidence", "Evidence", kind="textarea", hint="Needed once delivered"),
        FormField("due_date", "Due date", kind="date", hint=DATE_HINT),
    ),
    parse_key=_int_key,
    key_of=lambda row: str(row.id),
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=lambda row: service.fields_input(row, service.PLEDGE_FIELDS),
    create=lambda session, data, _p: service.create_pledge(session, data),
    update=lambda session, row, data, _p: service.update_pledge(session, row, data),
    listing=_all(Pledge, Pledge.area_slug, Pledge.number),
    return_url=lambda _row: "/workspace/devolution",
    title_of=lambda row: f"pledge {row.number or row.id}",
    defaults=lambda request: (
        {"area_slug": request.query_params["area"]} if "area" in request.query_params else {}
    ),
)

PILOT = RecordKind(
    name=auth.PILOT,
    plural="pilots",
    label="pilot",
    model=Pilot,
    schema=schemas.PilotIn,
    fields=(
        FormField("slug", "Identifier", hint="Lower-case words joined by hyphens"),
        FormField("number", "Number", kind="number", width=3),
        FormField("name", "Name"),
        FormField("theme", "Theme", hint="Prevention, integration or estates"),
        FormField("description", "Description", kind="textarea"),
        FormField("areas", "Boroughs", kind="lines", hint="Area codes, one per line"),
        FormField("partners", "Partners", kind="lines", hint="One per line"),
        FormField("status", "Status"),
    ),
    parse_key=str,
    key_of=lambda row: row.slug,
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=lambda row: service.fields_input(row, service.PILOT_FIELDS, "slug"),
    create=lambda session, data, _p: service.create_pilot(session, data),
    update=_child_update(service.PILOT_FIELDS),
    listing=_all(Pilot, Pilot.number),
    return_url=lambda _row: "/workspace/devolution",
    title_of=lambda row: row.name,
    immutable=("slug",),
)


def _fund_form(data: dict[str, Any]) -> dict[str, Any]:
    """Form fields ``allocations.<category>`` become the allocations mapping."""
    out = {k: v for k, v in data.items() if not k.startswith("allocations.")}
    out["allocations"] = {
        slug: data.get(f"allocations.{slug}") or None for slug, _ in FUND_CATEGORIES
    }
    return out


def _fund_json(row: TransformationFund) -> dict[str, Any]:
    body = snapshot(row)
    body.pop("pack_digest", None)
    body["allocations"] = {a.category: a.amount for a in row.allocations}
    allocated = [a.amount for a in row.allocations if a.amount is not None]
    body["allocated"] = sum(allocated, Decimal("0.00")) if allocated else None
    body["reconciles"] = service.fund_reconciles(row)
    return body


FUND = RecordKind(
    name=auth.FUND,
    plural="funds",
    label="transformation fund",
    model=TransformationFund,
    schema=schemas.FundIn,
    fields=(
        FormField("period", "Financial year", kind="year", hint="Like 2018/19", width=5),
        FormField("total", "Total for the year", kind="money"),
        *(
            FormField(
                f"allocations.{slug}",
                name,
                kind="money",
                hint="The three categories must add up to the total (or all be blank)",
            )
            for slug, name in FUND_CATEGORIES
        ),
        FormField("note", "Note", kind="textarea"),
    ),
    parse_key=lambda key: key.replace("-", "/"),
    key_of=lambda row: row.period,
    owner_of=lambda _row: None,
    owner_of_input=lambda _data: None,
    current=service.fund_input,
    create=lambda session, data, _p: service.create_fund(session, data),
    update=lambda session, row, data, _p: service.update_fund(session, row, data),
    listing=_all(TransformationFund, TransformationFund.period),
    return_url=lambda _row: "/workspace/devolution",
    title_of=lambda row: f"the {row.period} fund",
    to_json=_fund_json,
    immutable=("period",),
    form_to_input=_fund_form,
)

KINDS: tuple[RecordKind, ...] = (
    PROGRAMME,
    BUDGET,
    SPEND,
    MILESTONE,
    CONFIDENCE,
    RISK,
    STAKEHOLDER,
    PROGRESS,
    AREA,
    PLEDGE,
    PILOT,
    FUND,
    *governance_kinds.KINDS,
)


def register(app: FastAPI) -> None:
    """Mount the portfolio's JSON API (``/api/v1/…``)."""
    from healthycity.core.web.workspace import install

    install(app)
    app.include_router(api_router(KINDS))
