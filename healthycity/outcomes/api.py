"""The open data API, version 1: indicators, areas, data, comparisons, targets.

Why versioned and typed: scripts and other councils' dashboards will depend on these
shapes, so every response has a pydantic model, the OpenAPI document at
``/api/v1/openapi.json`` is generated from them, and a breaking change means ``/api/v2``.
Every figure comes from ``healthycity.outcomes.queries`` — the same numbers as the pages
and their twins. The API is read-only and public, so GET requests are allowed from any
origin (CORS), and the documentation at ``/api/v1/docs`` is a plain server-rendered
page built from the OpenAPI document (no external scripts, nothing to load from a CDN).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from healthycity import __version__
from healthycity.core.web import api_docs
from healthycity.geography.models import Area
from healthycity.geography.service import DEFAULT_CITY, ENGLAND, city_code
from healthycity.outcomes import api_models as am
from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q
from healthycity.outcomes.api_models import (
    COMPARISON_HELP,
    DEFAULT_PAGE,
    NOT_FOUND,
    PREFIX,
    AreaCode,
    AreaDetail,
    AreaOut,
    ComparisonRow,
    ComparisonsOut,
    DataOut,
    IndicatorDetail,
    IndicatorId,
    IndicatorOut,
    Link,
    ObservationOut,
    ProfileRow,
    ProgressOut,
    Slug,
    StatusOut,
    TargetOut,
    ThemeOut,
    TrendOut,
    area_out,
    indicator_out,
    page_links,
)
from healthycity.outcomes.compare import Choice, plan

router = APIRouter(prefix=PREFIX)


# ------------------------------------------------------------------------- helpers


@contextmanager
def _session(request: Request) -> Iterator[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        yield session


def _missing(what: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"unknown {what}")


def _links(session: Session) -> dict[str, list[Link]]:
    found: dict[str, list[Link]] = {}
    for indicator_id, kind, slug in session.execute(
        select(m.IndicatorLink.indicator_id, m.IndicatorLink.kind, m.IndicatorLink.slug).order_by(
            m.IndicatorLink.id
        )
    ):
        found.setdefault(indicator_id, []).append(Link(kind=kind, slug=slug))
    return found


def _breakdown(session: Session, indicator_id: str, sex: str | None, age: str | None) -> Any:
    if sex is None and age is None:
        return q.headline_breakdown(session, indicator_id)
    for b in q.breakdowns(session, indicator_id):
        if (sex is None or b.sex == sex) and (age is None or b.age == age):
            return b
    raise HTTPException(status_code=404, detail="no data for that sex and age")


# ------------------------------------------------------------------------- routes


@router.get("/status", response_model=StatusOut, summary="When the data last changed")
def status(request: Request) -> StatusOut:
    """Whether the data are illustrative, and when they were last loaded."""
    with _session(request) as session:
        found = q.data_status(session)
    return StatusOut(
        last_updated=found.last_updated.isoformat() if found.last_updated else None,
        illustrative=found.illustrative,
        real_observations=found.real_observations,
        illustrative_observations=found.illustrative_observations,
        releases=found.releases,
    )


@router.get("/indicators", response_model=list[IndicatorOut], summary="Every indicator")
def indicators(
    request: Request,
    aspiration: am.AspirationFilter = None,
    commitment: am.CommitmentFilter = None,
) -> list[IndicatorOut]:
    """The catalogue and every indicator loaded from a file, optionally those linked to
    one aspiration or commitment."""
    with _session(request) as session:
        links = _links(session)
        rows = session.scalars(select(m.Indicator).order_by(m.Indicator.id)).all()
        found = []
        for row in rows:
            mine = links.get(row.id, [])
            if aspiration and not any(
                x.kind == m.LINK_ASPIRATION and x.slug == aspiration for x in mine
            ):
                continue
            if commitment and not any(
                x.kind == m.LINK_COMMITMENT and x.slug == commitment for x in mine
            ):
                continue
            found.append(indicator_out(row, mine))
    return found


@router.get(
    "/indicators/{indicator_id}",
    response_model=IndicatorDetail,
    responses=NOT_FOUND,
    summary="One indicator's metadata and targets",
)
def indicator(request: Request, indicator_id: IndicatorId) -> IndicatorDetail:
    with _session(request) as session:
        row = session.get(m.Indicator, indicator_id)
        if row is None:
            raise _missing("indicator")
        base = indicator_out(row, _links(session).get(row.id, []))
        return IndicatorDetail(
            **base.model_dump(),
            definition=row.definition,
            rationale=row.rationale,
            methodology=row.methodology,
            multiplier=row.multiplier,
            numerator_definition=row.numerator_definition,
            numerator_source=row.numerator_source,
            denominator_definition=row.denominator_definition,
            denominator_source=row.denominator_source,
            standard_population=row.standard_population,
            confidence_interval_method=row.confidence_interval_method,
            disclosure_control=row.disclosure_control,
            caveats=row.caveats,
            data_source=row.data_source,
            frequency=row.frequency,
            last_updated=row.last_updated,
            targets=[
                TargetOut(
                    link_kind=t.link_kind,
                    link_slug=t.link_slug,
                    statement=t.statement,
                    kind=t.kind,
                    status=t.status,
                    value=t.value,
                    unit=t.unit,
                    target_period=t.target_period,
                )
                for t in row.targets
            ],
        )


@router.get(
    "/indicators/{indicator_id}/data",
    response_model=DataOut,
    responses=NOT_FOUND,
    summary="An indicator's observations",
)
def data(
    request: Request,
    indicator_id: IndicatorId,
    area: am.AreaFilter = None,
    period: am.PeriodFilter = None,
    sex: am.SexFilter = None,
    age: am.AgeFilter = None,
    offset: am.Offset = 0,
    limit: am.Limit = DEFAULT_PAGE,
    *,
    response: Response,
) -> DataOut:
    """Every figure, filtered by area, period, sex or age, oldest first, in pages of
    ``limit`` rows (default 1,000, at most 10,000): ``next`` and ``previous`` (and the
    ``Link`` header) give the neighbouring pages, null at either end."""
    from sqlalchemy import func

    with _session(request) as session:
        if session.get(m.Indicator, indicator_id) is None:
            raise _missing("indicator")
        query = (
            select(m.Observation, Area)
            .join(Area, Area.code == m.Observation.area_code)
            .where(m.Observation.indicator_id == indicator_id)
        )
        if area is not None:
            query = query.where(m.Observation.area_code == area)
        if period is not None:
            query = query.where(m.Observation.period == period)
        if sex is not None:
            query = query.where(m.Observation.sex == sex)
        if age is not None:
            query = query.where(m.Observation.age == age)
        total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
        rows = session.execute(
            query.order_by(
                m.Observation.time_period_sortable,
                m.Observation.area_code,
                m.Observation.sex,
                m.Observation.age,
                m.Observation.category_type,
                m.Observation.category,
            )
            .offset(offset)
            .limit(limit)
        ).all()
        out = [
            ObservationOut(
                area_code=o.area_code,
                area_name=a.name,
                area_type=a.area_type,
                period=o.period,
                time_period_sortable=o.time_period_sortable,
                sex=o.sex,
                age=o.age,
                category_type=o.category_type,
                category=o.category,
                value=o.value,
                lower_ci95=o.lower_ci95,
                upper_ci95=o.upper_ci95,
                lower_ci998=o.lower_ci998,
                upper_ci998=o.upper_ci998,
                count=o.count,
                denominator=o.denominator,
                value_note=o.value_note,
                illustrative=o.illustrative,
            )
            for o, a in rows
        ]
    pages = page_links(request, total, offset, limit)
    if pages.header:
        response.headers["Link"] = pages.header
    found = {"indicator_id": indicator_id, "total": total, "offset": offset, "limit": limit}
    return DataOut(**found, next=pages.next, previous=pages.previous, rows=out)


@router.get(
    "/indicators/{indicator_id}/comparisons",
    response_model=ComparisonsOut,
    responses=NOT_FOUND,
    summary="Every area compared with a benchmark",
)
def comparisons(
    request: Request,
    indicator_id: IndicatorId,
    benchmark: am.Benchmark = ENGLAND,
    period: am.PeriodFilter = None,
    sex: am.SexFilter = None,
    age: am.AgeFilter = None,
    comparison: Annotated[Choice, Query(description=COMPARISON_HELP)] = Choice.DEFAULT,
) -> ComparisonsOut:
    """The latest period (or ``period``), each area judged against ``benchmark`` by
    Fingertips' rules (by default the benchmark's value inside the area's 95% interval,
    or 99.8% where the indicator's data use it, is similar); ``comparison`` chooses
    another of Fingertips' methods."""
    with _session(request) as session:
        if session.get(m.Indicator, indicator_id) is None:
            raise _missing("indicator")
        if session.get(Area, benchmark) is None:
            raise _missing("benchmark area")
        chosen = _breakdown(session, indicator_id, sex, age)
        latest = q.latest_values(
            session,
            indicator_id,
            benchmark=benchmark,
            breakdown=chosen,
            period=period,
            comparison=comparison.value,
        )
    assert latest is not None
    name = latest.benchmark.area_name if latest.benchmark else benchmark
    return ComparisonsOut(
        indicator_id=indicator_id,
        benchmark=benchmark,
        comparison_method=plan(comparison, latest.indicator.comparison_level).describe(name),
        benchmark_value=latest.benchmark.value if latest.benchmark else None,
        period=latest.period,
        sex=latest.breakdown.sex if latest.period else None,
        age=latest.breakdown.age if latest.period else None,
        illustrative=latest.illustrative,
        rows=[
            ComparisonRow(
                area_code=r.point.area_code,
                area_name=r.point.area_name,
                value=r.point.value,
                lower_ci95=r.point.lower_ci95,
                upper_ci95=r.point.upper_ci95,
                comparison=r.comparison.outcome if r.comparison else "not compared",
                method=r.comparison.method if r.comparison else None,
                confidence=r.comparison.confidence if r.comparison else None,
            )
            for r in latest.rows
        ],
    )


@router.get(
    "/indicators/{indicator_id}/targets",
    response_model=list[ProgressOut],
    responses=NOT_FOUND,
    summary="Progress to each target",
)
def targets(request: Request, indicator_id: IndicatorId) -> list[ProgressOut]:
    """Progress of the city to each of the indicator's targets, with the method used."""
    with _session(request) as session:
        row = session.get(m.Indicator, indicator_id)
        if row is None:
            raise _missing("indicator")
        info = q.indicator_info(row)
        city = city_code(session)
        series = q.time_series(session, indicator_id, [city])[city]
        progress = q.target_progress(info, list(row.targets), series)
    return [
        ProgressOut(
            statement=p.statement,
            link_kind=p.link_kind,
            link_slug=p.link_slug,
            status=str(p.status),
            method=p.method,
            target_value=p.target_value,
            target_period=p.target_period,
        )
        for p in progress
    ]


@router.get(
    "/indicators/{indicator_id}/trend",
    response_model=TrendOut,
    responses=NOT_FOUND,
    summary="Recent trend of one area",
)
def trend(
    request: Request,
    indicator_id: IndicatorId,
    area: am.TrendArea = DEFAULT_CITY,
) -> TrendOut:
    """The recent trend over the last five points (Fingertips' rule) for ``area``."""
    with _session(request) as session:
        if session.get(m.Indicator, indicator_id) is None:
            raise _missing("indicator")
        if session.get(Area, area) is None:
            raise _missing("area")
        points = q.time_series(session, indicator_id, [area])[area]
        found = q.recent_trend(session, indicator_id, area) if points else None
    return TrendOut(
        indicator_id=indicator_id,
        area_code=area,
        outcome=str(found.outcome) if found else None,
        method=str(found.method) if found else None,
        points=len(points),
    )


@router.get("/areas", response_model=list[AreaOut], summary="Every area")
def areas(
    request: Request,
    area_type: am.AreaTypeFilter = None,
    parent: am.ParentFilter = None,
) -> list[AreaOut]:
    """Areas the site knows, by name; filter by ``type`` (local_authority, sub_region,
    region, country…) or by ``parent`` code."""
    with _session(request) as session:
        query = select(Area).order_by(Area.name)
        if area_type is not None:
            query = query.where(Area.area_type == area_type)
        if parent is not None:
            query = query.where(Area.parent_code == parent)
        return [area_out(a) for a in session.scalars(query)]


@router.get(
    "/areas/{area_code}", response_model=AreaDetail, responses=NOT_FOUND, summary="One area"
)
def area(request: Request, area_code: AreaCode) -> AreaDetail:
    with _session(request) as session:
        row = session.get(Area, area_code)
        if row is None:
            raise _missing("area")
        children = session.scalars(
            select(Area).where(Area.parent_code == area_code).order_by(Area.name)
        ).all()
        return AreaDetail(
            **area_out(row).model_dump(),
            population=row.population,
            children=[area_out(c) for c in children],
        )


@router.get(
    "/areas/{area_code}/profile",
    response_model=list[ProfileRow],
    responses=NOT_FOUND,
    summary="An area's spine chart data",
)
def profile(
    request: Request,
    area_code: AreaCode,
    benchmark: am.Benchmark = ENGLAND,
    comparison: Annotated[Choice, Query(description=COMPARISON_HELP)] = Choice.DEFAULT,
) -> list[ProfileRow]:
    """Every indicator with data for the area: its latest value, the benchmark's, the
    comparison and the range across areas of the same type."""
    with _session(request) as session:
        if session.get(Area, area_code) is None:
            raise _missing("area")
        if session.get(Area, benchmark) is None:
            raise _missing("benchmark area")
        rows = q.area_profile(session, area_code, benchmark=benchmark, comparison=comparison.value)
    return [
        ProfileRow(
            indicator_id=r.indicator.id,
            indicator_name=r.indicator.name,
            period=r.period,
            value=r.area.value,
            benchmark_value=r.benchmark.value if r.benchmark else None,
            comparison=r.comparison.outcome if r.comparison else "not compared",
            comparison_method=r.comparison.method if r.comparison else None,
            peers=r.peers.count,
            peer_minimum=r.peers.minimum,
            peer_median=r.peers.median,
            peer_maximum=r.peers.maximum,
        )
        for r in rows
    ]


def _theme_ids(session: Session, kind: str, slug: str) -> list[str]:
    return list(
        session.scalars(
            select(m.IndicatorLink.indicator_id)
            .where(m.IndicatorLink.kind == kind, m.IndicatorLink.slug == slug)
            .order_by(m.IndicatorLink.id)
        )
    )


def _aspiration_out(session: Session, row: m.Aspiration) -> ThemeOut:
    return ThemeOut(
        slug=row.slug,
        number=row.number,
        title=row.title,
        statements=[a.statement for a in row.ambitions],
        indicator_ids=_theme_ids(session, m.LINK_ASPIRATION, row.slug),
    )


def _commitment_out(session: Session, row: m.Commitment) -> ThemeOut:
    priority = session.get(m.VisionPriority, row.priority_slug) if row.priority_slug else None
    return ThemeOut(
        slug=row.slug,
        number=priority.number if priority else None,
        title=priority.name if priority else row.slug,
        statements=[row.statement],
        indicator_ids=_theme_ids(session, m.LINK_COMMITMENT, row.slug),
    )


@router.get("/aspirations", response_model=list[ThemeOut], summary="The city's aspirations")
def aspirations(request: Request) -> list[ThemeOut]:
    with _session(request) as session:
        rows = session.scalars(select(m.Aspiration).order_by(m.Aspiration.number)).all()
        return [_aspiration_out(session, r) for r in rows]


@router.get(
    "/aspirations/{slug}", response_model=ThemeOut, responses=NOT_FOUND, summary="One aspiration"
)
def aspiration(request: Request, slug: Slug) -> ThemeOut:
    with _session(request) as session:
        row = session.get(m.Aspiration, slug)
        if row is None:
            raise _missing("aspiration")
        return _aspiration_out(session, row)


@router.get("/commitments", response_model=list[ThemeOut], summary="The shared commitments")
def commitments(request: Request) -> list[ThemeOut]:
    with _session(request) as session:
        rows = session.scalars(select(m.Commitment).order_by(m.Commitment.sort_order)).all()
        return [_commitment_out(session, r) for r in rows]


@router.get(
    "/commitments/{slug}", response_model=ThemeOut, responses=NOT_FOUND, summary="One commitment"
)
def commitment(request: Request, slug: Slug) -> ThemeOut:
    with _session(request) as session:
        row = session.get(m.Commitment, slug)
        if row is None:
            raise _missing("commitment")
        return _commitment_out(session, row)


# ------------------------------------------------------------------------- documents


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the routes above (cached: it never changes at run time)."""
    from fastapi.openapi.utils import get_openapi

    return get_openapi(
        title="healthycity open data API",
        version=f"1 (healthycity {__version__})",
        description=(
            "Public health indicators for the city, its sub-regions and boroughs: metadata, "
            "observations with 95% and 99.8% confidence intervals, comparisons with a "
            "benchmark by Fingertips' rules, recent trends and progress to targets. "
            "Read-only; GET from any origin."
        ),
        routes=router.routes,
    )


docs_router = APIRouter()


@docs_router.get("/api/v1/openapi.json", include_in_schema=False)
def openapi_json() -> JSONResponse:
    return JSONResponse(openapi_document())


@docs_router.get("/api/v1/docs", include_in_schema=False, response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    """A readable reference built from the OpenAPI document, with no scripts at all."""
    from healthycity.core.web.rendering import render

    document = openapi_document()
    endpoints = api_docs.endpoints(
        document,
        lambda path: (
            path.replace("{indicator_id}", "90631")
            .replace("{area_code}", "E09000007")
            .replace("/commitments/{slug}", "/commitments/cut-child-obesity")
            .replace("{slug}", "healthy-start")
        ),
    )
    return render(
        request,
        "outcomes/api_docs.html",
        title="Open data API",
        endpoints=endpoints,
        info=document.get("info", {}),
    )


def register(app: FastAPI) -> None:
    """Mount the API, its OpenAPI document and docs page, and CORS for GET."""
    app.include_router(docs_router)
    app.include_router(router)
    app.add_middleware(api_docs.PrefixCors, prefix=PREFIX)

    @app.get(PREFIX, include_in_schema=False)
    def index() -> Response:
        return JSONResponse(
            {
                "openapi": f"{PREFIX}/openapi.json",
                "docs": f"{PREFIX}/docs",
                "endpoints": sorted(openapi_document().get("paths", {})),
            }
        )
