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
from healthycity.outcomes import api_params as ap
from healthycity.outcomes import models as m
from healthycity.outcomes import queries as q
from healthycity.outcomes.api_models import (
    AreaDetail,
    AreaOut,
    ComparisonRow,
    ComparisonsOut,
    DataKind,
    DataOut,
    IndicatorDetail,
    IndicatorOut,
    Link,
    ObservationOut,
    ProfileRow,
    ProgressOut,
    StatusOut,
    TargetOut,
    ThemeOut,
    TrendOut,
    area_out,
    indicator_out,
    refusals,
)
from healthycity.outcomes.api_params import (
    COMPARISON_HELP,
    DEFAULT_PAGE,
    PREFIX,
    AreaCode,
    AspirationSlug,
    CommitmentSlug,
    IndicatorId,
    page_links,
)
from healthycity.outcomes.compare import Choice, plan
from healthycity.outcomes.dashboard.words import judged_words, source_note

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


def _calls(*paths: str) -> dict[str, Any]:
    """Example calls for the reference page, each a link that runs it (``x-example-calls``
    in the OpenAPI document; a test calls every one and expects 200)."""
    return {"x-example-calls": [f"{PREFIX}{p}" for p in paths]}


def _kinds(session: Session) -> dict[str, DataKind]:
    """Each indicator's kind of data: published when any figure is real, illustrative
    when all are generated (the rule of the banner's count, ``queries.real_data``)."""
    found: dict[str, DataKind] = {}
    for indicator_id, illustrative in session.execute(
        select(m.Observation.indicator_id, m.Observation.illustrative).distinct()
    ):
        if not illustrative:
            found[indicator_id] = "published"
        else:
            found.setdefault(indicator_id, "illustrative")
    return found


def _judged(judgement: q.Judgement | None) -> dict[str, Any]:
    """A judgement's fields as every comparing response carries them."""
    if judgement is None:
        return {
            "comparison": "not compared",
            "comparison_label": "not compared",
            "as_published": False,
            "published_comparison": None,
        }
    return {
        "comparison": judgement.outcome,
        "comparison_label": judgement.label,
        "as_published": judgement.as_published,
        "published_comparison": judgement.published if judgement.as_published else None,
    }


def _note(point: q.Point | None) -> str | None:
    return source_note(point) or None


@router.get(
    "/status",
    response_model=StatusOut,
    summary="When the data last changed",
    response_description="How fresh the data are and how many figures are real",
    openapi_extra=_calls("/status"),
)
def status(request: Request) -> StatusOut:
    """Whether any data are illustrative, when data were last loaded, and how many of the
    indicators show published figures (the banner's "N of M")."""
    with _session(request) as session:
        found = q.data_status(session)
    return StatusOut(
        last_updated=found.last_updated.isoformat() if found.last_updated else None,
        illustrative=found.illustrative,
        real_observations=found.real_observations,
        illustrative_observations=found.illustrative_observations,
        releases=found.releases,
        published_indicators=found.real_indicators,
        indicators=found.indicators,
    )


@router.get(
    "/indicators",
    response_model=list[IndicatorOut],
    summary="Every indicator",
    response_description="The indicators, by ID, each saying whether its data are published "
    "or illustrative",
    responses=refusals(),
    openapi_extra=_calls("/indicators", "/indicators?aspiration=healthy-start"),
)
def indicators(
    request: Request,
    aspiration: ap.AspirationFilter = None,
    commitment: ap.CommitmentFilter = None,
) -> list[IndicatorOut]:
    """The catalogue and every indicator loaded from a file, optionally those linked to
    one aspiration or commitment (an unknown slug lists none)."""
    with _session(request) as session:
        links = _links(session)
        kinds = _kinds(session)
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
            found.append(indicator_out(row, mine, kinds.get(row.id, "no data")))
    return found


@router.get(
    "/indicators/{indicator_id}",
    response_model=IndicatorDetail,
    responses=refusals("No indicator has this ID", "unknown indicator"),
    summary="One indicator's metadata and targets",
    response_description="The indicator's definition, methods, sources and targets",
    openapi_extra=_calls("/indicators/90323"),
)
def indicator(request: Request, indicator_id: IndicatorId) -> IndicatorDetail:
    """Everything known about one indicator: its definition and methods as the
    publisher states them, and its targets as their sources state them."""
    with _session(request) as session:
        row = session.get(m.Indicator, indicator_id)
        if row is None:
            raise _missing("indicator")
        kind = _kinds(session).get(row.id, "no data")
        base = indicator_out(row, _links(session).get(row.id, []), kind)
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
    responses=refusals("No indicator has this ID", "unknown indicator"),
    summary="An indicator's observations",
    response_description="One page of observations with their intervals, counts and notes",
    openapi_extra=_calls(
        "/indicators/90323/data?area=E09000007",
        "/indicators/90323/data?period=2018/19&limit=50",
    ),
)
def data(
    request: Request,
    indicator_id: IndicatorId,
    area: ap.AreaFilter = None,
    period: ap.PeriodFilter = None,
    sex: ap.SexFilter = None,
    age: ap.AgeFilter = None,
    offset: ap.Offset = 0,
    limit: ap.Limit = DEFAULT_PAGE,
    *,
    response: Response,
) -> DataOut:
    """Every figure, filtered by area, period, sex or age, oldest first, in pages of
    ``limit`` rows (default 1,000, at most 10,000): ``next`` and ``previous`` (and the
    ``Link`` header) give the neighbouring pages, null at either end. A city or
    sub-region figure computed from its boroughs says so (``computed``, ``source_note``),
    and the publisher's own comparisons are given as published."""
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
        out = []
        for o, a in rows:
            point = q.point_of(o, a)
            out.append(
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
                    computed=point.computed,
                    source_note=_note(point),
                    compared_to_england=o.compared_to_england,
                    compared_to_region=o.compared_to_region,
                    illustrative=o.illustrative,
                )
            )
    pages = page_links(request, total, offset, limit)
    if pages.header:
        response.headers["Link"] = pages.header
    found = {"indicator_id": indicator_id, "total": total, "offset": offset, "limit": limit}
    return DataOut(**found, next=pages.next, previous=pages.previous, rows=out)


@router.get(
    "/indicators/{indicator_id}/comparisons",
    response_model=ComparisonsOut,
    responses=refusals(
        "No indicator has this ID, no area has the benchmark's code, or the indicator has "
        "no series for the sex and age asked for",
        "no data for that sex and age",
    ),
    summary="Every area compared with a benchmark",
    response_description="Every area's value at the period, each judged against the "
    "benchmark, with the method (or 'as published')",
    openapi_extra=_calls(
        "/indicators/90323/comparisons",
        "/indicators/90323/comparisons?benchmark=E12000007&comparison=two-levels",
    ),
)
def comparisons(
    request: Request,
    indicator_id: IndicatorId,
    benchmark: ap.Benchmark = ENGLAND,
    period: ap.PeriodFilter = None,
    sex: ap.SexFilter = None,
    age: ap.AgeFilter = None,
    comparison: Annotated[Choice, Query(description=COMPARISON_HELP)] = Choice.DEFAULT,
) -> ComparisonsOut:
    """The latest period (or ``period``), each area judged against ``benchmark`` by
    Fingertips' rules (by default the benchmark's value inside the area's 95% interval,
    or 99.8% where the indicator's data use it, is similar); ``comparison`` chooses
    another of Fingertips' methods. A row with no interval keeps the publisher's own
    judgement, flagged ``as_published``."""
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
    method = plan(comparison, latest.indicator.comparison_level).describe(name)
    labels = [r.comparison.label if r.comparison else "not compared" for r in latest.rows]
    return ComparisonsOut(
        indicator_id=indicator_id,
        benchmark=benchmark,
        comparison_method=judged_words(method, labels),
        benchmark_value=latest.benchmark.value if latest.benchmark else None,
        benchmark_note=_note(latest.benchmark),
        period=latest.period,
        sex=latest.breakdown.sex if latest.period else None,
        age=latest.breakdown.age if latest.period else None,
        illustrative=latest.illustrative,
        published_judgements=sum(
            1 for r in latest.rows if r.comparison and r.comparison.as_published
        ),
        rows=[
            ComparisonRow(
                area_code=r.point.area_code,
                area_name=r.point.area_name,
                value=r.point.value,
                lower_ci95=r.point.lower_ci95,
                upper_ci95=r.point.upper_ci95,
                **_judged(r.comparison),
                method=r.comparison.method if r.comparison else None,
                confidence=r.comparison.confidence if r.comparison else None,
                value_note=r.point.value_note,
                source_note=_note(r.point),
                illustrative=r.point.illustrative,
            )
            for r in latest.rows
        ],
    )


@router.get(
    "/indicators/{indicator_id}/targets",
    response_model=list[ProgressOut],
    responses=refusals("No indicator has this ID", "unknown indicator"),
    summary="Progress to each target",
    response_description="Each target with its status and how it was judged",
    openapi_extra=_calls("/indicators/90323/targets"),
)
def targets(request: Request, indicator_id: IndicatorId) -> list[ProgressOut]:
    """Progress of the city to each of the indicator's targets, with the method used;
    the city's figure may be published or computed from its boroughs."""
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
    responses=refusals("No indicator has this ID, or no area has this code", "unknown area"),
    summary="Recent trend of one area",
    response_description="The trend's direction, the test used and how many points it had",
    openapi_extra=_calls("/indicators/90323/trend?area=E09000007"),
)
def trend(
    request: Request,
    indicator_id: IndicatorId,
    area: ap.TrendArea = DEFAULT_CITY,
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


@router.get(
    "/areas",
    response_model=list[AreaOut],
    summary="Every area",
    response_description="The areas, by name",
    responses=refusals(),
    openapi_extra=_calls("/areas?type=sub_region", "/areas?parent=E54000027"),
)
def areas(
    request: Request,
    area_type: ap.AreaTypeFilter = None,
    parent: ap.ParentFilter = None,
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
    "/areas/{area_code}",
    response_model=AreaDetail,
    responses=refusals("No area has this code", "unknown area"),
    summary="One area",
    response_description="The area with its population and the areas within it",
    openapi_extra=_calls("/areas/E54000027"),
)
def area(request: Request, area_code: AreaCode) -> AreaDetail:
    """One area: its name, type, the area it sits within and the areas within it."""
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
    responses=refusals(
        "No area has this code, or no area has the benchmark's code", "unknown benchmark area"
    ),
    summary="An area's spine chart data",
    response_description="One row per indicator with data for the area, in the pack's order",
    openapi_extra=_calls(
        "/areas/E09000007/profile", "/areas/E09000007/profile?benchmark=E12000007"
    ),
)
def profile(
    request: Request,
    area_code: AreaCode,
    benchmark: ap.Benchmark = ENGLAND,
    comparison: Annotated[Choice, Query(description=COMPARISON_HELP)] = Choice.DEFAULT,
) -> list[ProfileRow]:
    """Every indicator with data for the area: its latest value, the benchmark's, the
    comparison (flagged ``as_published`` when it is the publisher's) and the range across
    areas of the same type."""
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
            benchmark_note=_note(r.benchmark),
            **_judged(r.comparison),
            comparison_method=r.comparison.method if r.comparison else None,
            value_note=r.area.value_note,
            source_note=_note(r.area),
            illustrative=r.area.illustrative,
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


@router.get(
    "/aspirations",
    response_model=list[ThemeOut],
    summary="The city's aspirations",
    response_description="The aspirations in their order, with ambitions and indicators",
    openapi_extra=_calls("/aspirations"),
)
def aspirations(request: Request) -> list[ThemeOut]:
    """The city's aspirations (Better Health for London's ten for the London pack), each
    with its ambitions and the indicators that measure it."""
    with _session(request) as session:
        rows = session.scalars(select(m.Aspiration).order_by(m.Aspiration.number)).all()
        return [_aspiration_out(session, r) for r in rows]


@router.get(
    "/aspirations/{slug}",
    response_model=ThemeOut,
    responses=refusals("No aspiration has this short name", "unknown aspiration"),
    summary="One aspiration",
    response_description="The aspiration with its ambitions and indicators",
    openapi_extra=_calls("/aspirations/healthy-start"),
)
def aspiration(request: Request, slug: AspirationSlug) -> ThemeOut:
    """One aspiration, its ambitions and the indicators that measure it."""
    with _session(request) as session:
        row = session.get(m.Aspiration, slug)
        if row is None:
            raise _missing("aspiration")
        return _aspiration_out(session, row)


@router.get(
    "/commitments",
    response_model=list[ThemeOut],
    summary="The shared commitments",
    response_description="The commitments in their order, with their indicators",
    openapi_extra=_calls("/commitments"),
)
def commitments(request: Request) -> list[ThemeOut]:
    """The partners' shared commitments, each with its statement and indicators."""
    with _session(request) as session:
        rows = session.scalars(select(m.Commitment).order_by(m.Commitment.sort_order)).all()
        return [_commitment_out(session, r) for r in rows]


@router.get(
    "/commitments/{slug}",
    response_model=ThemeOut,
    responses=refusals("No shared commitment has this short name", "unknown commitment"),
    summary="One commitment",
    response_description="The commitment with its statement and indicators",
    openapi_extra=_calls("/commitments/cut-child-obesity"),
)
def commitment(request: Request, slug: CommitmentSlug) -> ThemeOut:
    """One shared commitment, its statement and the indicators that measure it."""
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
    endpoints = api_docs.endpoints(document)
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
