"""The annual strategic review in the open, and its foreword in the workspace.

Public, no sign-in: ``/review`` lists the years with a review and ``/review/YYYY`` is the
review itself, with ``.json`` (every number, with its method) and ``.csv`` (one row per
indicator per aspiration or commitment; ``?table=cities`` and ``?table=programmes``)
twins, and ``/review/YYYY.pdf``, the same page printed as a tagged PDF. A year without
a review answers 404 with the reason and the years that have one.

Signed in: ``/workspace/review/YYYY`` is where the portfolio office writes the foreword
and commentary, the review's only words not generated from the data. Each save is a new
version (``review_texts``), audited. The right to write them is the portfolio office's
right over the progress report's words (policy object ``progress_update``, any owner).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from healthycity.core import auth
from healthycity.core.errors import Invalid, NotFound
from healthycity.core.web.memo import memo_for
from healthycity.core.web.twins import Page, Table, money, twin_routes
from healthycity.core.web.workspace import (
    install,
    read_session,
    unit_of_work,
    viewer,
    writer,
    ws_render,
)
from healthycity.reports import review, review_render, review_texts
from healthycity.reports.models import TEXT_KINDS

router = APIRouter(include_in_schema=False)
REVIEW_TABLES = (
    ("cities", "the global city figures"),
    ("programmes", "programme money and delivery confidence"),
)


def _build(request: Request, year: int) -> review.Review:
    """The year's review, assembled once per data version for the page, its twins and
    its PDF alike (`core.web.memo`); treat it as read-only."""

    def assemble() -> review.Review:
        with read_session(request) as session:
            return review.build(session, year, _series(request))

    try:
        return memo_for(request).get(("annual-review", year), assemble)
    except review.NoReview as exc:
        raise NotFound(str(exc)) from None


def _series(request: Request) -> dict[str, Any]:
    """Every indicator's series for the review, read once per data version for all the
    years' pages (they are the same whichever year is asked for)."""

    def read() -> dict[str, Any]:
        with read_session(request) as session:
            return review.every_series(session)

    return memo_for(request).get("annual-review-series", read)


def _years(request: Request) -> list[int]:
    return review.years_of(_series(request))


@twin_routes(router, "/review")
def reviews(request: Request) -> Page:
    years = sorted(_years(request), reverse=True)
    table = Table(["year", "href"], [[y, f"/review/{y}"] for y in years])
    return Page(
        "reports/reviews.html",
        "Annual strategic reviews",
        context={"years": years, "illustrative": False},
        data={"reviews": table.records()},
        table=table,
        filename="reviews",
    )


def _city_table(built: review.Review) -> Table:
    rows = [
        [
            m.slug,
            m.name,
            v.city,
            v.country,
            v.value,
            m.unit,
            v.year,
            v.geography,
            v.standardisation,
            v.collection,
            v.source_title,
            v.source_url,
            v.retrieved,
            v.caveat,
        ]
        for m in built.cities
        for v in m.values
    ]
    rows += [
        [m.slug, m.name, city, None, None, m.unit, None, None, None, None, None, None, None, reason]
        for m in built.cities
        for city, reason in m.gaps
    ]
    return Table(
        [
            "measure",
            "measure_name",
            "city",
            "country",
            "value",
            "unit",
            "year",
            "geography",
            "standardisation",
            "collection",
            "source_title",
            "source_url",
            "retrieved",
            "caveat",
        ],
        rows,
    )


def _programme_table(built: review.Review) -> Table:
    return Table(
        [
            "programme",
            "name",
            "whole_life_budget",
            "baseline",
            "spend",
            "outturn",
            "variance_pct",
            "rating",
            "rated_on",
        ],
        [
            [
                p.slug,
                p.name,
                money(p.budget),
                money(p.baseline),
                money(p.spend),
                money(p.outturn),
                p.variance_pct,
                p.rating,
                p.rated_on.isoformat() if p.rated_on else None,
            ]
            for p in built.delivery.programmes
        ],
    )


@router.get("/review/{year:int}.pdf")
def review_pdf(request: Request, year: int) -> Response:
    built = _build(request, year)
    root = str(request.base_url).rstrip("/") + request.scope.get("root_path", "")
    pdf = review_render.render_pdf(review_render.render_html(built, root=root))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="annual-review-{year}.pdf"'},
    )


@twin_routes(router, "/review/{year:int}")
def review_page(request: Request, year: int) -> Page:
    built = _build(request, year)
    figures = review_render.figure_table(built)
    context: dict[str, Any] = review_render.context(built, root=request.scope.get("root_path", ""))
    context.update(
        illustrative=built.illustrative,
        download_tables=REVIEW_TABLES,
    )
    return Page(
        "reports/review.html",
        f"Annual strategic review {year}",
        context=context,
        data=review_render.review_data(built),
        table=figures,
        tables={"cities": _city_table(built), "programmes": _programme_table(built)},
        filename=f"annual-review-{year}",
    )


def site_paths(session: Session) -> list[str]:
    """The review's public URLs for the static site: the list and each year's review."""
    years = review.review_years(session)
    return ["/review"] + [f"/review/{y}" for y in years]


# ---------------------------------------------------------------------------- workspace


def _may_write(principal: auth.Principal) -> bool:
    return auth.is_allowed(principal, auth.EDIT, auth.PROGRESS)


def _texts_page(
    request: Request,
    principal: auth.Principal,
    year: int,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    saved: str | None = None,
) -> HTMLResponse:
    with read_session(request) as session:
        history = {kind: review_texts.versions(session, year, kind) for kind in TEXT_KINDS}
    current = {kind: rows[0].body if rows else "" for kind, rows in history.items()}
    error_list = [{"text": text, "href": f"#text-{kind}"} for kind, text in (errors or {}).items()]
    return ws_render(
        request,
        "reports/workspace/review_texts.html",
        f"Review {year}: foreword and commentary",
        principal,
        status_code=422 if errors else 200,
        year=year,
        kinds=TEXT_KINDS,
        history=history,
        values={**current, **(values or {})},
        errors=errors or {},
        error_list=error_list,
        error_title=bool(errors),
        may_write=_may_write(principal),
        saved=saved,
    )


@router.get("/workspace/review/{year:int}", response_class=HTMLResponse)
def texts_form(request: Request, year: int) -> Response:
    principal = viewer(request)
    auth.authorize(principal, auth.VIEW, auth.PROGRESS)
    return _texts_page(request, principal, year)


@router.post("/workspace/review/{year:int}", response_class=HTMLResponse)
async def save_text(request: Request, year: int) -> Response:
    principal = await writer(request)
    auth.authorize(principal, auth.EDIT, auth.PROGRESS)
    form = await request.form()
    kind = str(form.get("kind", ""))
    body = str(form.get("body", ""))
    if kind not in TEXT_KINDS:
        return _texts_page(request, principal, year, errors={"": "Choose what to save"})
    try:
        with unit_of_work(request, principal) as session:
            row = review_texts.save(session, year, kind, body, principal.email)
            version = row.version
    except Invalid as exc:
        message = "; ".join(exc.errors.values())
        return _texts_page(request, principal, year, errors={kind: message}, values={kind: body})
    return _texts_page(
        request, principal, year, saved=f"{TEXT_KINDS[kind]} saved as version {version}."
    )


def register(app: FastAPI) -> None:
    """Mount the public review pages and the workspace's foreword form."""
    install(app)
    app.include_router(router)
