"""Workspace pages of the portfolio and the devolution register.

Pages read through `portfolio.service` and show an action only when the policy would
allow it (the same `is_allowed` the write routes enforce), so people are not offered
buttons that end in "permission denied".

Every page here has ``.json`` and ``.csv`` twins (``web.twins``, registered private):
the twins run the same handler, so they are refused to exactly whom the page is, and
they carry the figures the page shows, with money as text in pounds and pence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import select

from healthycity.core import auth
from healthycity.core.auth import Principal
from healthycity.core.web.twins import Page, Table, money, twin_routes
from healthycity.core.web.workspace import install, read_session, viewer, ws_page
from healthycity.geography.service import area_names
from healthycity.portfolio import funds as funds_service
from healthycity.portfolio import service
from healthycity.portfolio.indicators import programme_indicators
from healthycity.portfolio.models import (
    GRANT_STATUS_LABELS,
    MILESTONE_STATUS_LABELS,
    PLEDGE_STATUS_LABELS,
    STAKEHOLDER_ROLE_LABELS,
    DevolutionArea,
    Pilot,
    Programme,
    TransformationFund,
)

router = APIRouter(include_in_schema=False)

DCA_COLOURS = {
    "Green": "green",
    "Amber/Green": "yellow",
    "Amber": "orange",
    "Amber/Red": "red",
    "Red": "red",
}


def can(principal: Principal, action: str, record_type: str, owner: str | None = None) -> bool:
    return auth.is_allowed(principal, action, record_type, owner)


@dataclass(frozen=True)
class PortfolioRow:
    programme: Programme
    finance: service.YearFinance
    confidence: str | None


@twin_routes(router, "/workspace/programmes", private=True)
def portfolio(request: Request) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.PROGRAMME)
    with read_session(request) as session:
        year = request.query_params.get("year") or service.default_year(session)
        if not service.is_financial_year(year):
            year = service.default_year(session)
        rows = [
            PortfolioRow(p, service.year_finance(p, year), _rating(p))
            for p in service.programmes(session)
        ]
    totals = {
        "budget": sum((r.programme.whole_life_budget for r in rows), Decimal("0.00")),
        "baseline": sum((r.finance.baseline or Decimal(0) for r in rows), Decimal("0.00")),
        "actual": sum((r.finance.actual_to_date for r in rows), Decimal("0.00")),
        "outturn": sum((r.finance.outturn for r in rows), Decimal("0.00")),
    }
    columns = [
        "programme",
        "name",
        "sro",
        "whole_life_budget",
        "financial_year",
        "baseline",
        "actual_to_date",
        "forecast_outturn",
        "variance",
        "variance_pct",
        "variance_flagged",
        "delivery_confidence",
    ]
    table = Table(
        columns,
        [
            [
                r.programme.slug,
                r.programme.name,
                r.programme.sro,
                money(r.programme.whole_life_budget),
                year,
                money(r.finance.baseline),
                money(r.finance.actual_to_date),
                money(r.finance.outturn),
                money(r.finance.variance),
                _pct(r.finance.variance_pct),
                r.finance.flagged,
                r.confidence,
            ]
            for r in rows
        ],
    )
    return ws_page(
        principal,
        Page(
            "portfolio/portfolio.html",
            "Transformation portfolio",
            context={
                "rows": rows,
                "year": year,
                "totals": totals,
                "dca_colours": DCA_COLOURS,
                "can_create": can(principal, auth.CREATE, auth.PROGRAMME),
                # Pack budgets and recorded spend are real figures, never illustrative.
                "illustrative": False,
            },
            table=table,
            filename=f"portfolio-{year.replace('/', '-')}",
        ),
    )


def _rating(programme: Programme) -> str | None:
    latest = service.latest_confidence(programme)
    return latest.rating if latest else None


def _pct(value: Decimal | None) -> str | None:
    """A variance percentage as the page prints it (one decimal), as text."""
    return None if value is None else format(value, "f")


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _year_table(years: list[service.YearFinance]) -> Table:
    return Table(
        [
            "financial_year",
            "baseline",
            "actual_to_date",
            "forecast_remaining",
            "assumed_remaining",
            "forecast_outturn",
            "variance",
            "variance_pct",
            "variance_flagged",
            "variance_explanation",
        ],
        [
            [
                y.financial_year,
                money(y.baseline),
                money(y.actual_to_date),
                money(y.forecast_remaining),
                money(y.assumed_remaining),
                money(y.outturn),
                money(y.variance),
                _pct(y.variance_pct),
                y.flagged,
                y.explanation,
            ]
            for y in years
        ],
    )


def _spend_table(years: list[service.YearFinance]) -> Table:
    """Every month of every year the page shows, recorded or not (blank when not)."""
    return Table(
        ["financial_year", "month", "actual", "forecast"],
        [
            [y.financial_year, m.month.strftime("%Y-%m"), money(m.actual), money(m.forecast)]
            for y in years
            for m in y.months
        ],
    )


# The milestone's fields as recorded (title first), then whether it has slipped.
MILESTONE_COLUMNS = ["title", *(f for f in service.MILESTONE_FIELDS if f != "title"), "slipped"]


def _milestone_cell(milestone: Any, column: str) -> Any:
    if column == "status":
        return milestone.current_status
    value = getattr(milestone, column)
    return _day(value) if isinstance(value, date) else value


def _milestone_table(programme: Programme) -> Table:
    return Table(
        MILESTONE_COLUMNS,
        [[_milestone_cell(m, c) for c in MILESTONE_COLUMNS] for m in programme.milestones],
    )


def _programme_tables(
    programme: Programme, years: list[service.YearFinance], indicators: list[Any]
) -> dict[str, Table]:
    return {
        "spend": _spend_table(years),
        "milestones": _milestone_table(programme),
        # Newest first, as the page lists them.
        "confidence": Table(
            ["assessed_on", "rating", "assessor", "commentary"],
            [
                [_day(c.assessed_on), c.rating, c.assessor, c.commentary]
                for c in reversed(programme.confidence)
            ],
        ),
        "risks": Table(
            ["title", "likelihood", "impact", "score", "owner", "status", "mitigation"],
            [
                [r.title, r.likelihood, r.impact, r.score, r.owner, r.status, r.mitigation]
                for r in programme.risks
            ],
        ),
        "leads": Table(
            ["role", "group_code", "people", "status", "note"],
            [
                [
                    STAKEHOLDER_ROLE_LABELS.get(s.role, s.role),
                    s.group_code,
                    "; ".join(s.people),
                    s.status,
                    s.note,
                ]
                for s in programme.stakeholders
            ],
        ),
        "indicators": Table(
            ["indicator", "period", "london", "unit", "compared_with_england", "recent_trend"],
            [[i.name, i.period, i.value, i.unit, i.comparison, i.trend] for i in indicators],
        ),
    }


PROGRAMME_TABLES = (
    ("spend", "the monthly spend"),
    ("milestones", "the milestones"),
    ("confidence", "the delivery confidence assessments"),
    ("risks", "the risks"),
    ("leads", "the leads"),
    ("indicators", "the outcome indicators"),
)


def _programme_json(
    programme: Programme,
    whole: service.WholeLife,
    year_table: Table,
    tables: dict[str, Table],
) -> dict[str, Any]:
    return {
        "programme": programme.slug,
        "name": programme.name,
        "number": programme.number,
        "kind": programme.kind,
        "sro": programme.sro,
        "theme": programme.theme,
        "whole_life_budget": money(programme.whole_life_budget),
        "budget_note": programme.budget_note,
        "whole_life": {
            "actual_to_date": money(whole.actual_to_date),
            "forecast": money(whole.forecast),
            "variance": money(whole.variance),
            "variance_pct": _pct(whole.variance_pct),
            "variance_flagged": whole.flagged,
        },
        "delivery_confidence": _rating(programme),
        "years": year_table.records(),
        **{name: table.records() for name, table in tables.items()},
    }


@twin_routes(router, "/workspace/programmes/{slug}", private=True)
def programme_page(request: Request, slug: str) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.PROGRAMME)
    with read_session(request) as session:
        programme = service.get_programme(session, slug)
        years = [service.year_finance(programme, y) for y in service.financial_years(programme)]
        whole = service.whole_life(programme)
        indicators, indicator_note = programme_indicators(
            session, [i.indicator_id for i in programme.indicators], programme.aspirations
        )
        leads: dict[str, list[Any]] = {}
        for row in programme.stakeholders:
            leads.setdefault(row.role, []).append(row)
        allowed = {
            f"{action}_{record}": can(principal, action, record, owner=slug)
            for action in (auth.CREATE, auth.EDIT, auth.DELETE)
            for record in (
                auth.PROGRAMME,
                auth.BUDGET,
                auth.SPEND,
                auth.MILESTONE,
                auth.CONFIDENCE,
                auth.RISK,
                auth.STAKEHOLDER,
                auth.PROGRESS,
            )
        }
        updates = sorted(programme.updates, key=lambda u: (u.period, u.position), reverse=True)
        year_table = _year_table(years)
        tables = _programme_tables(programme, years, indicators)
        # The page renders after the session closes: the tables above have loaded every
        # relationship the template reads.
        return ws_page(
            principal,
            Page(
                "portfolio/programme.html",
                programme.name,
                context={
                    "programme": programme,
                    "years": years,
                    "whole": whole,
                    "indicators": indicators,
                    "indicator_note": indicator_note,
                    "leads": [
                        (STAKEHOLDER_ROLE_LABELS[r], leads[r])
                        for r in STAKEHOLDER_ROLE_LABELS
                        if r in leads
                    ],
                    "allowed": allowed,
                    "updates": updates,
                    "dca_colours": DCA_COLOURS,
                    "download_tables": PROGRAMME_TABLES,
                    # Leads by the borough or sub-region's name, not its code.
                    "area_names": area_names(session),
                    "milestone_labels": MILESTONE_STATUS_LABELS,
                    "spend_ids": {r.month: r.id for r in programme.spend},
                    "illustrative": False,
                },
                data=_programme_json(programme, whole, year_table, tables),
                table=year_table,
                tables=tables,
                filename=f"programme-{programme.slug}",
            ),
        )


DEVOLUTION_TABLES = (("pilots", "the pilots"), ("funds", "the transformation funding"))


def pledge_table(areas: list[DevolutionArea]) -> Table:
    """Every pledge of the register, area by area (the workspace's and the public page's)."""
    return Table(
        ["area_number", "area", "pledge_number", "text", "owner", "status", "due_date", "evidence"],
        [
            [
                a.number,
                a.name,
                p.number,
                p.text,
                p.owner,
                PLEDGE_STATUS_LABELS.get(p.status, p.status),
                _day(p.due_date),
                p.evidence,
            ]
            for a in areas
            for p in a.pledges
        ],
    )


def _devolution_tables(
    areas: list[DevolutionArea], pilots: list[Pilot], fund_rows: list[dict[str, Any]]
) -> tuple[Table, dict[str, Table]]:
    pledges = pledge_table(areas)
    pilot_table = Table(
        ["pilot", "name", "theme", "boroughs", "description"],
        [[p.slug, p.name, p.theme, "; ".join(p.areas), p.description] for p in pilots],
    )
    funds = Table(
        ["period", "total", "category", "name", "amount", "split_recorded", "reconciles"],
        [
            [
                row["fund"].period,
                money(row["fund"].total),
                a.category,
                a.name,
                money(a.amount),
                row["split"],
                row["reconciles"],
            ]
            for row in fund_rows
            for a in row["fund"].allocations
        ],
    )
    return pledges, {"pilots": pilot_table, "funds": funds}


@twin_routes(router, "/workspace/devolution", private=True)
def devolution(request: Request) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.DEVOLUTION_AREA)
    with read_session(request) as session:
        areas = list(session.scalars(select(DevolutionArea).order_by(DevolutionArea.number)))
        pilots = list(session.scalars(select(Pilot).order_by(Pilot.number)))
        funds = list(
            session.scalars(select(TransformationFund).order_by(TransformationFund.period))
        )
        fund_rows: list[dict[str, Any]] = [
            {
                "fund": f,
                "reconciles": service.fund_reconciles(f),
                "split": any(a.amount is not None for a in f.allocations),
                "url_key": f.period.replace("/", "-"),
                "total": funds_service.fund_total(f),
            }
            for f in funds
        ]
        pledges, tables = _devolution_tables(areas, pilots, fund_rows)
    data = {
        "pledges": pledges.records(),
        "pilots": tables["pilots"].records(),
        "funds": [
            {
                "period": row["fund"].period,
                "total": money(row["fund"].total),
                "note": row["fund"].note,
                "split_recorded": row["split"],
                "reconciles": row["reconciles"],
                "allocations": [
                    {"category": a.category, "name": a.name, "amount": money(a.amount)}
                    for a in row["fund"].allocations
                ],
            }
            for row in fund_rows
        ],
    }
    return ws_page(
        principal,
        Page(
            "portfolio/devolution.html",
            "Devolution register",
            context={
                "areas": areas,
                "pilots": pilots,
                "funds": fund_rows,
                "status_labels": PLEDGE_STATUS_LABELS,
                "grant_labels": GRANT_STATUS_LABELS,
                "download_tables": DEVOLUTION_TABLES,
                "illustrative": False,
                "allowed": {
                    name: can(principal, action, record)
                    for name, action, record in (
                        ("edit_area", auth.EDIT, auth.DEVOLUTION_AREA),
                        ("create_pledge", auth.CREATE, auth.PLEDGE),
                        ("edit_pledge", auth.EDIT, auth.PLEDGE),
                        ("edit_pilot", auth.EDIT, auth.PILOT),
                        ("create_pilot", auth.CREATE, auth.PILOT),
                        ("edit_fund", auth.EDIT, auth.FUND),
                        ("create_fund", auth.CREATE, auth.FUND),
                        ("edit_grant", auth.EDIT, auth.GRANT),
                        ("create_grant", auth.CREATE, auth.GRANT),
                    )
                },
            },
            data=data,
            table=pledges,
            tables=tables,
            filename="devolution-pledges",
        ),
    )


def register(app: FastAPI) -> None:
    """Mount the portfolio's forms, dashboard, programme pages and devolution register.

    The forms go first: ``/workspace/programmes/new`` must not be read as a programme.
    """
    from healthycity.core.web.records import form_router
    from healthycity.portfolio.api import KINDS

    install(app)
    app.include_router(form_router(KINDS))
    app.include_router(router)
