"""The partnership's work in the open: the public programme and devolution pages.

No sign-in: what is here is public by nature — the pack's programmes, budgets, spend to
date against profile, delivery confidence ratings and milestones, and the devolution
register. Nothing private reaches these pages or their twins: risks, contacts, notes,
assessors and their commentary stay in the workspace (`overview.PRIVATE_FIELDS`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.orm import Session

from healthycity.core import registry
from healthycity.core.web.twins import Page, Table, money, twin_routes
from healthycity.core.web.workspace import install, read_session
from healthycity.portfolio import funds, governance, overview, service
from healthycity.portfolio.governance_pages import decision_table
from healthycity.portfolio.models import (
    GRANT_STATUS_LABELS,
    MILESTONE_STATUS_LABELS,
    PLEDGE_STATUS_LABELS,
    TransformationFund,
)
from healthycity.portfolio.pages import pledge_table

router = APIRouter(include_in_schema=False)

PROGRAMMES_TABLES = (("confidence", "every delivery confidence rating"),)
DEVOLUTION_TABLES = (
    ("areas", "the pledges counted by area"),
    ("pilots", "the pilots and their milestones"),
    ("funds", "the transformation fund by year and category"),
    ("grants", "the grants from the fund"),
)


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _programme_row(row: overview.ProgrammeSummary) -> list[Any]:
    p = row.programme
    return [
        p.slug,
        p.number,
        p.name,
        p.kind,
        p.theme,
        p.sro,
        money(p.whole_life_budget),
        money(row.finance.baseline),
        money(row.finance.actual_to_date),
        money(row.profile_to_date),
        money(row.finance.outturn),
        row.latest_rating,
        _day(row.confidence[-1].assessed_on) if row.confidence else None,
        row.milestones.due,
        row.milestones.met,
        " ".join(link.slug for link in row.aspirations),
        " ".join(link.slug for link in row.objectives),
    ]


PROGRAMME_COLUMNS = [
    "programme",
    "number",
    "name",
    "kind",
    "theme",
    "sro",
    "whole_life_budget",
    "baseline",
    "spend_to_date",
    "profile_to_date",
    "forecast_outturn",
    "delivery_confidence",
    "assessed_on",
    "milestones_due",
    "milestones_met",
    "aspirations",
    "shared_objectives",
]


def _confidence_table(rows: list[overview.ProgrammeSummary]) -> Table:
    return Table(
        ["programme", "name", "assessed_on", "rating"],
        [
            [r.programme.slug, r.programme.name, _day(c.assessed_on), c.rating]
            for r in rows
            for c in r.confidence
        ],
    )


@twin_routes(router, "/programmes")
def programmes(request: Request) -> Page:
    with read_session(request) as session:
        summary = overview.summarise(session)
        table = Table(PROGRAMME_COLUMNS, [_programme_row(r) for r in summary.programmes])
        confidence = _confidence_table(summary.programmes)
    totals = {
        "whole_life_budget": money(summary.budget),
        "baseline": money(summary.baseline),
        "spend_to_date": money(summary.spend_to_date),
        "profile_to_date": money(summary.profile_to_date),
        "forecast_outturn": money(summary.outturn),
    }
    return Page(
        "portfolio/public_programmes.html",
        "Transformation programmes",
        context={
            "summary": summary,
            "download_tables": PROGRAMMES_TABLES,
            "illustrative": False,
        },
        data={
            "financial_year": summary.financial_year,
            "totals": totals,
            "spend_recorded": summary.spend_recorded,
            "programmes": table.records(),
            "confidence": confidence.records(),
        },
        table=table,
        tables={"confidence": confidence},
        filename="programmes",
    )


@twin_routes(router, "/programmes/{slug}")
def programme(request: Request, slug: str) -> Page:
    with read_session(request) as session:
        row = overview.programme_summary(session, slug)
        p = row.programme
        years = [service.year_finance(p, y) for y in service.financial_years(p)]
        year_table = Table(
            ["financial_year", "baseline", "spend_to_date", "forecast_outturn", "variance_pct"],
            [
                [
                    y.financial_year,
                    money(y.baseline),
                    money(y.actual_to_date),
                    money(y.outturn),
                    None if y.variance_pct is None else format(y.variance_pct, "f"),
                ]
                for y in years
            ],
        )
        milestones = Table(
            ["title", "kind", "baseline_date", "forecast_date", "actual_date", "status", "slipped"],
            [
                [
                    m.title,
                    m.kind,
                    _day(m.baseline_date),
                    _day(m.forecast_date),
                    _day(m.actual_date),
                    MILESTONE_STATUS_LABELS.get(m.current_status, m.current_status),
                    m.slipped,
                ]
                for m in p.milestones
            ],
        )
        confidence = Table(
            ["assessed_on", "rating"], [[_day(c.assessed_on), c.rating] for c in row.confidence]
        )
        decided = governance.published_for_programme(session, p.slug)
        decisions = decision_table(decided, governance.forum_names(session))
        data = {
            **dict(zip(PROGRAMME_COLUMNS, _programme_row(row), strict=True)),
            "title": p.title,
            "vision": p.vision,
            "focus_areas": list(p.focus_areas),
            "aspirations": [{"slug": a.slug, "title": a.title} for a in row.aspirations],
            "shared_objectives": [{"slug": o.slug, "text": o.title} for o in row.objectives],
            "years": year_table.records(),
            "milestones": milestones.records(),
            "confidence": confidence.records(),
            "decisions": decisions.records(),
        }
        context = {
            "decisions": decided,
            "row": row,
            "programme": p,
            "years": years,
            "milestones": list(p.milestones),
            "status_labels": MILESTONE_STATUS_LABELS,
            "illustrative": False,
            # Other modules' links (consultations…) come through the registry's hook.
            "related": registry.related(session, "programme", p.slug),
            "download_tables": (
                ("milestones", "the milestones"),
                ("confidence", "the delivery confidence ratings"),
                ("decisions", "the forums' published decisions"),
            ),
        }
    return Page(
        "portfolio/public_programme.html",
        p.name,
        context=context,
        data=data,
        table=year_table,
        tables={"milestones": milestones, "confidence": confidence, "decisions": decisions},
        filename=f"programme-{slug}",
    )


def _devolution_tables(reg: overview.Register) -> dict[str, Table]:
    expected = reg.expected
    areas = Table(
        ["number", "area", "pledges_recorded", "pledges_delivered", "pledges_in_agreement"],
        [[a.area.number, a.area.name, a.recorded, a.delivered, expected] for a in reg.areas],
    )
    pilots = Table(
        ["pilot", "number", "name", "theme", "status", "boroughs", "milestone", "date", "met"],
        [
            [p.slug, p.number, p.name, p.theme, p.status, " ".join(p.areas), *m]
            for p in reg.pilots
            for m in ([[x["title"], x["date"], x["met"]] for x in p.milestones] or [[None] * 3])
        ],
    )
    funds = Table(
        ["period", "total", "category", "name", "amount", "granted", "remaining"],
        [
            [
                f.period,
                money(f.total),
                line["category"],
                line["name"],
                money(line["amount"]),
                money(line["granted"]),
                money(line["remaining"]),
            ]
            for f in reg.funds
            for line in overview.fund_lines(f)
        ],
    )
    return {"areas": areas, "pilots": pilots, "funds": funds}


def grants_table(rows: list[TransformationFund]) -> Table:
    """Every grant from the funds as the public sees it (the office's note left out)."""
    return Table(
        [
            "grant",
            "period",
            "category",
            "recipient",
            "for_kind",
            "for",
            "amount",
            "awarded_on",
            "purpose",
            "status",
        ],
        [
            [
                g.id,
                f.period,
                g.category,
                g.recipient_name,
                g.recipient_kind,
                g.recipient,
                money(g.amount),
                _day(g.awarded_on),
                g.purpose,
                g.status,
            ]
            for f in rows
            for g in f.grants
        ],
    )


@twin_routes(router, "/devolution")
def devolution(request: Request) -> Page:
    with read_session(request) as session:
        reg = overview.register(session)
        pledges = pledge_table([a.area for a in reg.areas])
        tables = _devolution_tables(reg)
        fund_lines = {f.period: overview.fund_lines(f) for f in reg.funds}
        grant_table = grants_table(reg.funds)
        tables["grants"] = grant_table
        grants = grant_table.records()
        fund_totals = {f.period: funds.fund_total(f) for f in reg.funds}
        data = {
            "agreement": reg.agreement.name if reg.agreement else None,
            "signed": _day(reg.agreement.signed) if reg.agreement else None,
            "pledges_in_agreement": reg.expected,
            "pledges_recorded": reg.recorded,
            "pledges_delivered": reg.delivered,
            "areas": tables["areas"].records(),
            "pledges": pledges.records(),
            "pilots": [
                {
                    "pilot": p.slug,
                    "name": p.name,
                    "theme": p.theme,
                    "status": p.status,
                    "boroughs": list(p.areas),
                    "milestones": list(p.milestones),
                }
                for p in reg.pilots
            ],
            "funds": [
                {
                    "period": f.period,
                    "total": money(f.total),
                    "granted": money(fund_totals[f.period].granted),
                    "remaining": money(fund_totals[f.period].remaining),
                    "reconciles": service.fund_reconciles(f),
                    "categories": [
                        {
                            k: money(v) if k in ("amount", "granted", "remaining") else v
                            for k, v in line.items()
                            if k != "grants"
                        }
                        for line in fund_lines[f.period]
                    ],
                }
                for f in reg.funds
            ],
            "grants": grants,
        }
        context = {
            "reg": reg,
            "fund_lines": fund_lines,
            "fund_totals": fund_totals,
            "grant_labels": GRANT_STATUS_LABELS,
            "status_labels": PLEDGE_STATUS_LABELS,
            "download_tables": DEVOLUTION_TABLES,
            "illustrative": False,
        }
    return Page(
        "portfolio/public_devolution.html",
        "Health and care devolution",
        context=context,
        data=data,
        table=pledges,
        tables=tables,
        filename="devolution",
    )


def site_paths(session: Session) -> list[str]:
    """The public portfolio URLs for the static site."""
    return ["/programmes", "/devolution", "/governance/decisions"] + [
        f"/programmes/{p.slug}" for p in service.programmes(session)
    ]


def register(app: FastAPI) -> None:
    """Mount the public programme and devolution pages."""
    install(app)
    app.include_router(router)
