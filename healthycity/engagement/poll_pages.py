"""Public poll pages: each series with its full disclosure, every wave's interval, the
trend and the aspiration 9 target read as decision 0014 says (`engagement.polls`).

Kept apart from the consultation pages as polls are kept apart from consultations: the
two are never shown on one chart or added together.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request

from healthycity.core.web.twins import Page, Table, twin_routes
from healthycity.core.web.workspace import install, read_session
from healthycity.engagement import polls

router = APIRouter(include_in_schema=False)
DISCLOSURE = (
    "question_wording",
    "sponsor",
    "agency",
    "population",
    "sampling_frame",
    "mode",
    "indicator_id",
)


@twin_routes(router, "/polls")
def polls_page(request: Request) -> Page:
    with read_session(request) as session:
        rows = polls.series_list(session)
        data = [{"slug": s.slug, "title": s.title, "sponsor": s.sponsor} for s in rows]
    return Page(
        "engagement/polls.html",
        "Polls",
        context={"rows": rows},
        data=data,
        table=Table(["slug", "title", "sponsor"], [list(d.values()) for d in data]),
        filename="polls",
    )


WAVE_COLUMNS = [
    "fieldwork_start",
    "fieldwork_end",
    "sample_size",
    "design_effect",
    "effective_sample_size",
    "percent",
    "lower_95",
    "upper_95",
    "margin_of_error_stated",
    "weighting",
]


@twin_routes(router, "/polls/{slug}")
def poll_page(request: Request, slug: str) -> Page:
    with read_session(request) as session:
        series = polls.get_series(session, slug)
        estimates = polls.waves(session, series)
        trend = polls.trend(estimates)
    table = Table(
        WAVE_COLUMNS,
        [
            [
                e.wave.fieldwork_start.isoformat(),
                e.wave.fieldwork_end.isoformat(),
                e.wave.sample_size,
                e.wave.design_effect,
                e.effective_n,
                e.wave.percent,
                e.lower,
                e.upper,
                e.wave.margin_of_error,
                e.wave.weighting,
            ]
            for e in estimates
        ],
    )
    disclosure = {name: getattr(series, name) for name in DISCLOSURE}
    target = None
    if trend is not None:
        target = {
            "change": trend.change,
            "lower_95": trend.lower,
            "upper_95": trend.upper,
            "reading": "10 basis points = +0.10 percentage point",
            "target_change": polls.TARGET_CHANGE,
            "verdict": trend.verdict(polls.TARGET_CHANGE),
            "if_percentage_points": trend.verdict(polls.ALTERNATIVE_CHANGE),
        }
    return Page(
        "engagement/poll.html",
        series.title,
        context={
            "series": series,
            "estimates": estimates,
            "target": target,
            "chart": _poll_chart(series.title, estimates),
        },
        data={
            "slug": series.slug,
            "title": series.title,
            "disclosure": disclosure,
            "waves": table.records(),
            "target": target,
        },
        table=table,
        filename=f"poll-{series.slug}",
    )


def _poll_chart(title: str, estimates: list[polls.WaveEstimate]) -> Any:
    from healthycity.core.charts import NHS_BLUE, render_svg

    if not estimates:
        return None
    values = [
        {"period": e.label, "percent": e.wave.percent, "lower": e.lower, "upper": e.upper}
        for e in estimates
    ]
    x = {"field": "period", "type": "ordinal", "title": "End of fieldwork"}
    spec = {
        "width": 480,
        "height": 240,
        "data": {"values": values},
        "layer": [
            {
                "mark": {"type": "rule", "color": NHS_BLUE},
                "encoding": {
                    "x": x,
                    "y": {"field": "lower", "type": "quantitative", "title": "% agreeing"},
                    "y2": {"field": "upper"},
                },
            },
            {
                "mark": {"type": "line", "point": True, "color": NHS_BLUE},
                "encoding": {"x": x, "y": {"field": "percent", "type": "quantitative"}},
            },
        ],
    }
    latest = estimates[-1]
    return render_svg(
        spec,
        f"Line chart of {title} over {len(estimates)} waves with 95% intervals; the latest is "
        f"{latest.wave.percent}% ({latest.lower} to {latest.upper}). "
        "The table below has every figure.",
    )


def register(app: FastAPI) -> None:
    """Mount the public poll pages."""
    install(app)
    app.include_router(router)
