"""Workspace pages of the portfolio and the devolution register.

Pages read through `portfolio.service` and show an action only when the policy would
allow it (the same `is_allowed` the write routes enforce), so people are not offered
buttons that end in "permission denied". The portfolio table has .json and .csv twins.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from healthycity.core import auth
from healthycity.core.auth import Principal
from healthycity.core.auth_models import ROLE_LABELS
from healthycity.portfolio import service
from healthycity.portfolio.indicators import programme_indicators
from healthycity.portfolio.models import (
    PLEDGE_STATUS_LABELS,
    STAKEHOLDER_ROLE_LABELS,
    DevolutionArea,
    Pilot,
    Programme,
    TransformationFund,
)
from healthycity.web.twins import Page, Table, twin_routes
from healthycity.workspace.web import install, read_session, viewer, ws_render

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


def default_year(session: Any) -> str:
    """The financial year to show: the latest with a baseline, else today's."""
    from datetime import date

    from healthycity.portfolio.models import BudgetBaseline

    years = sorted(set(session.scalars(select(BudgetBaseline.financial_year))))
    return years[-1] if years else service.financial_year_of(date.today())


@dataclass(frozen=True)
class PortfolioRow:
    programme: Programme
    finance: service.YearFinance
    confidence: str | None


def _ws_page(request: Request, principal: Principal, page: Page) -> Page:
    page.context.update(
        principal=principal,
        role_label=ROLE_LABELS.get(principal.role, principal.role),
        csrf_token=principal.csrf_token,
    )
    return page


@twin_routes(router, "/workspace/programmes")
def portfolio(request: Request) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.PROGRAMME)
    with read_session(request) as session:
        year = request.query_params.get("year") or default_year(session)
        if not service.is_financial_year(year):
            year = default_year(session)
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
                r.programme.whole_life_budget,
                year,
                r.finance.baseline,
                r.finance.actual_to_date,
                r.finance.outturn,
                r.finance.variance,
                r.finance.variance_pct,
                r.finance.flagged,
                r.confidence,
            ]
            for r in rows
        ],
    )
    return _ws_page(
        request,
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
            },
            table=table,
            filename=f"portfolio-{year.replace('/', '-')}",
        ),
    )


def _rating(programme: Programme) -> str | None:
    latest = service.latest_confidence(programme)
    return latest.rating if latest else None


@router.get("/workspace/programmes/{slug}", response_class=HTMLResponse)
def programme_page(request: Request, slug: str) -> Response:
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
        return ws_render(
            request,
            "portfolio/programme.html",
            programme.name,
            principal,
            programme=programme,
            years=years,
            whole=whole,
            indicators=indicators,
            indicator_note=indicator_note,
            leads=[
                (STAKEHOLDER_ROLE_LABELS[r], leads[r])
                for r in STAKEHOLDER_ROLE_LABELS
                if r in leads
            ],
            allowed=allowed,
            updates=updates,
            dca_colours=DCA_COLOURS,
        )


@router.get("/workspace/devolution", response_class=HTMLResponse)
def devolution(request: Request) -> Response:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.DEVOLUTION_AREA)
    with read_session(request) as session:
        areas = list(session.scalars(select(DevolutionArea).order_by(DevolutionArea.number)))
        pilots = list(session.scalars(select(Pilot).order_by(Pilot.number)))
        funds = list(
            session.scalars(select(TransformationFund).order_by(TransformationFund.period))
        )
        fund_rows = [
            {
                "fund": f,
                "reconciles": service.fund_reconciles(f),
                "split": any(a.amount is not None for a in f.allocations),
                "url_key": f.period.replace("/", "-"),
            }
            for f in funds
        ]
        return ws_render(
            request,
            "portfolio/devolution.html",
            "Devolution register",
            principal,
            areas=areas,
            pilots=pilots,
            funds=fund_rows,
            status_labels=PLEDGE_STATUS_LABELS,
            allowed={
                name: can(principal, action, record)
                for name, action, record in (
                    ("edit_area", auth.EDIT, auth.DEVOLUTION_AREA),
                    ("create_pledge", auth.CREATE, auth.PLEDGE),
                    ("edit_pledge", auth.EDIT, auth.PLEDGE),
                    ("edit_pilot", auth.EDIT, auth.PILOT),
                    ("create_pilot", auth.CREATE, auth.PILOT),
                    ("edit_fund", auth.EDIT, auth.FUND),
                    ("create_fund", auth.CREATE, auth.FUND),
                )
            },
        )


def register(app: FastAPI) -> None:
    """Mount the portfolio's forms, dashboard, programme pages and devolution register.

    The forms go first: ``/workspace/programmes/new`` must not be read as a programme.
    """
    from healthycity.portfolio.api import KINDS
    from healthycity.workspace.records import form_router

    install(app)
    app.include_router(form_router(KINDS))
    app.include_router(router)
