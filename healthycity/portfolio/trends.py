"""Delivery confidence over time across the portfolio: one chart (every assessment, by
programme and date, coloured on the IPA scale) with its table twin beside it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request

from healthycity.core import auth
from healthycity.core.charts import render_svg
from healthycity.core.web.twins import Page, Table, twin_routes
from healthycity.core.web.workspace import install, read_session, viewer, ws_page
from healthycity.portfolio import overview
from healthycity.portfolio.models import DCA_RATINGS

router = APIRouter(include_in_schema=False)

# The IPA scale from Green to Red, in colours that stay apart for colour-blind readers
# with the rating also written in the table twin.
DCA_CHART_COLOURS = ("#007f3b", "#78be20", "#ffb81c", "#ed8b00", "#d5281b")


def confidence_spec(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "data": {"values": records},
        "width": 560,
        "height": {"step": 22},
        "mark": {"type": "point", "filled": True, "size": 120},
        "encoding": {
            "x": {"field": "assessed_on", "type": "temporal", "title": "Assessed on"},
            "y": {"field": "name", "type": "nominal", "title": None},
            "color": {
                "field": "rating",
                "type": "ordinal",
                "scale": {"domain": list(DCA_RATINGS), "range": list(DCA_CHART_COLOURS)},
                "title": "Delivery confidence",
            },
            "shape": {"field": "rating", "type": "ordinal", "scale": {"domain": list(DCA_RATINGS)}},
        },
    }


@twin_routes(router, "/workspace/confidence", private=True)
def confidence_over_time(request: Request) -> Page:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.CONFIDENCE)
    with read_session(request) as session:
        rows = overview.confidence_history(session)
        names = {p.programme.slug: p.programme.name for p in overview.summarise(session).programmes}
        table = Table(
            ["programme", "name", "assessed_on", "rating", "assessor", "commentary"],
            [
                [
                    c.programme_slug,
                    names.get(c.programme_slug, c.programme_slug),
                    c.assessed_on.isoformat(),
                    c.rating,
                    c.assessor,
                    c.commentary,
                ]
                for c in rows
            ],
        )
    records = table.records()
    chart = (
        render_svg(
            confidence_spec(records),
            f"Delivery confidence of {len(names)} programmes over time: "
            f"{len(records)} assessments on the five-point scale from Green to Red.",
        )
        if records
        else None
    )
    return ws_page(
        principal,
        Page(
            "portfolio/confidence.html",
            "Delivery confidence over time",
            context={"chart": chart, "records": records, "illustrative": False},
            table=table,
            filename="delivery-confidence",
        ),
    )


def register(app: FastAPI) -> None:
    """Mount the portfolio's view of delivery confidence over time."""
    install(app)
    app.include_router(router)
