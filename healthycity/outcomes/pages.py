"""The public outcomes pages: home, aspirations, commitments, indicators, areas,
inequalities and search, each with ``.json`` and ``.csv`` twins and a CSV per chart.

Why the handlers are thin: ``healthycity.outcomes.dashboard`` builds each page's data
(cached per data version) and this module only turns the request into the reader's
choices (``dashboard.IndicatorQuery``), picks the twin's content and hands the rest to a
template. A bad or unknown parameter becomes a 400 or
404 page here, never a server error, and the same handler serves the live site and the
static export (which renders through the app itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from healthycity.core import registry
from healthycity.core.errors import NotFound
from healthycity.core.web.twins import Page, Table, json_response, twin_routes
from healthycity.geography.service import ENGLAND, city_code
from healthycity.outcomes import dashboard as d
from healthycity.outcomes import queries as q

router = APIRouter()


# --------------------------------------------------------------------------- plumbing


@contextmanager
def _session(request: Request) -> Iterator[Session]:
    sessions: sessionmaker[Session] = request.app.state.sessions
    with sessions() as session:
        yield session


def page_cache(app: Any) -> d.PageCache:
    """The app's page cache (created on first use, so tests can build apps freely)."""
    cache = getattr(app.state, "outcomes_cache", None)
    if cache is None:
        cache = d.PageCache()
        app.state.outcomes_cache = cache
    return cache


@contextmanager
def _answering() -> Iterator[None]:
    """Turn the dashboard's refusals into the right HTTP answers."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except d.BadChoice as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from None


def _csv(table: Table, filename: str) -> Response:
    return Response(
        table.to_csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def _chart_response(charts: list[d.Chart], chart: str, filename: str, suffix: str) -> Response:
    found = next((c for c in charts if c.name == chart), None)
    if found is None:
        raise HTTPException(status_code=404, detail=f"This page has no chart called {chart!r}.")
    if suffix == ".vl.json":
        from healthycity.core.charts import VEGA_LITE_SCHEMA

        return json_response({"$schema": VEGA_LITE_SCHEMA, **found.spec})
    return _csv(found.table, f"{filename}-{chart}")


def illustrative_flag(app: Any) -> tuple[Any, Any]:
    """Two zero-argument callables for the banner: is any shown figure illustrative, and
    how many indicators show published figures ("3 of 40 indicators show published
    figures", ``queries.DataStatus.real_text``).

    Checked against the data version on every call (one small query) and remembered
    per version, so the banner appears the moment demo data are loaded, goes the
    moment real data replace them, and counts the real indicators after every load.
    """
    remembered: dict[str, q.DataStatus] = {}

    def status() -> q.DataStatus | None:
        sessions: sessionmaker[Session] = app.state.sessions
        try:
            with sessions() as session:
                version = d.data_version(session)
                if version not in remembered:
                    remembered.clear()
                    remembered[version] = q.data_status(session)
                return remembered[version]
        except Exception:  # noqa: BLE001 - the banner must never break a page
            return None

    def illustrative() -> bool:
        found = status()
        return bool(found and found.illustrative)

    def real_text() -> str:
        found = status()
        return found.real_text if found is not None and found.indicators else ""

    return illustrative, real_text


# --------------------------------------------------------------------------- home


@twin_routes(router, "/")
def home(request: Request) -> Page:
    with _session(request) as session:
        data = d.home(session, page_cache(request.app))
    return Page(
        template="outcomes/home.html",
        title="How London is doing" if data.city_name == "London" else "Home",
        context={"page": data},
        data=_home_json(data),
        table=data.table,
        filename="home",
    )


def _home_json(data: d.HomeData) -> dict[str, Any]:
    return {
        "pack": data.pack_name,
        "goal": data.goal,
        "last_updated": data.last_updated.isoformat() if data.last_updated else None,
        "illustrative": data.illustrative,
        "real_data": data.real_text or None,
        "summaries": data.table.records(),
    }


@router.get("/index.json", include_in_schema=False)
def home_json(request: Request) -> Response:
    with _session(request) as session:
        data = d.home(session, page_cache(request.app))
    return json_response(_home_json(data))


@router.get("/index.csv", include_in_schema=False)
def home_csv(request: Request) -> Response:
    with _session(request) as session:
        data = d.home(session, page_cache(request.app))
    return _csv(data.table, "home")


# --------------------------------------------------------------------------- themes


def _theme_page(data: d.ThemeData, path: str, related: Any = ()) -> Page:
    kind = "Aspiration" if data.kind == "aspiration" else "Commitment"
    title = f"{kind} {data.number}: {data.title}" if data.kind == "aspiration" else data.title
    return Page(
        template="outcomes/theme.html",
        title=title,
        context={"page": data, "heading": title, "path": path, "related": list(related)},
        data={
            "kind": data.kind,
            "slug": data.slug,
            "title": data.title,
            "statements": data.statements,
            "status": {
                "indicators": data.status.indicators,
                "better": data.status.better,
                "similar": data.status.similar,
                "worse": data.status.worse,
                "not_compared": data.status.other,
                "targets": data.status.target_sentence,
            },
            "illustrative": data.illustrative,
            "indicators": data.table.records(),
            "charts": {c.name: c.as_data() for c in ([data.heat_map] if data.heat_map else [])},
        },
        table=data.table,
        filename=f"{data.kind}-{data.slug}",
    )


@twin_routes(router, "/aspirations/{slug}")
def aspiration(request: Request, slug: str) -> Page:
    with _session(request) as session, _answering():
        data = d.aspiration(session, page_cache(request.app), slug)
    return _theme_page(data, f"/aspirations/{slug}")


@twin_routes(router, "/commitments/{slug}")
def commitment(request: Request, slug: str) -> Page:
    with _session(request) as session, _answering():
        data = d.commitment(session, page_cache(request.app), slug)
        # Other modules' links (consultations…) come through the registry's hook.
        related = registry.related(session, "commitment", slug)
    return _theme_page(data, f"/commitments/{slug}", related)


@router.get("/aspirations/{slug}/chart-{chart}.csv", include_in_schema=False)
def aspiration_chart(request: Request, slug: str, chart: str) -> Response:
    with _session(request) as session, _answering():
        data = d.aspiration(session, page_cache(request.app), slug)
    return _chart_response(
        [data.heat_map] if data.heat_map else [], chart, f"aspiration-{slug}", ".csv"
    )


@router.get("/commitments/{slug}/chart-{chart}.csv", include_in_schema=False)
def commitment_chart(request: Request, slug: str, chart: str) -> Response:
    with _session(request) as session, _answering():
        data = d.commitment(session, page_cache(request.app), slug)
    return _chart_response(
        [data.heat_map] if data.heat_map else [], chart, f"commitment-{slug}", ".csv"
    )


# --------------------------------------------------------------------------- indexes


@twin_routes(router, "/indicators")
def indicators(
    request: Request,
    aspiration: str | None = None,
    commitment: str | None = None,
    polarity: str | None = None,
    sort: str | None = None,
) -> Page:
    """Every indicator of the pack once, filtered and sorted by the form (no JavaScript)."""
    with _session(request) as session, _answering():
        data = d.indicator_list(
            session, page_cache(request.app), aspiration, commitment, polarity, sort
        )
    return Page(
        template="outcomes/indicators.html",
        title="Indicators",
        context={"page": data, "query": data.choice.link},
        data={
            "total": data.total,
            "shown": len(data.lines),
            "filters": {
                "aspiration": data.choice.aspiration or None,
                "commitment": data.choice.commitment or None,
                "polarity": data.choice.polarity or None,
                "sort": data.choice.sort,
            },
            "illustrative": data.illustrative,
            "indicators": data.table.records(),
        },
        table=data.table,
        filename="indicators",
    )


@twin_routes(router, "/areas")
def areas(request: Request) -> Page:
    """The city, its sub-regions and boroughs, each with its better/similar/worse counts."""
    with _session(request) as session:
        data = d.area_list(session, page_cache(request.app))
    return _listing("areas", "Areas", data, "areas")


def _listing(name: str, title: str, data: Any, rows: str, **more: Any) -> Page:
    """A page of one table (``outcomes/NAME.html``): its JSON twin is the rows under
    ``rows``, with whether any figure is illustrative and ``more``."""
    return Page(
        template=f"outcomes/{name}.html",
        title=title,
        context={"page": data},
        data={"illustrative": data.illustrative, rows: data.table.records(), **more},
        table=data.table,
        filename=name,
    )


@router.get("/compare", include_in_schema=False)
@router.get("/map", include_in_schema=False)
def to_indicator(request: Request, indicator: str | None = None) -> RedirectResponse:
    """Fingertips' "compare areas" and "map" views are parts of each indicator page:
    send the reader there (or to the list of indicators to pick one)."""
    view = "map" if request.url.path.endswith("/map") else "compare"
    root = request.scope.get("root_path", "")
    if indicator and not d.unusable_key(indicator):
        return RedirectResponse(f"{root}/indicators/{quote(indicator)}#{view}", status_code=303)
    return RedirectResponse(f"{root}/indicators", status_code=303)


# --------------------------------------------------------------------------- indicators


def _indicator_data(
    request: Request, indicator_id: str, choice: d.IndicatorQuery
) -> d.IndicatorPage:
    with _session(request) as session, _answering():
        return d.indicator_page(session, page_cache(request.app), indicator_id, choice)


# The CSV twin's last column: how its two "Compared to …" columns were judged.
COMPARISON_METHOD_COLUMN = "Comparison method"


@d.cached_page("fingertips-csv")
def _fingertips_csv(
    session: Session, cache: d.PageCache, version: str, indicator_id: str, code: str, method: str
) -> str:
    """The indicator CSV twin's text, against ``code`` (England if it has no figures)."""
    from healthycity.outcomes.export import ExportError, export_table

    try:
        exported = export_table(session, indicator_id, benchmark=code, comparison=method)
    except ExportError:
        exported = export_table(session, indicator_id, benchmark=ENGLAND, comparison=method)
    words = d.method_words(exported.indicator, method, "each benchmark")
    return Table(
        columns=[*exported.columns, COMPARISON_METHOD_COLUMN],
        rows=[[*r, words] for r in exported.rows],
    ).to_csv()


@router.get("/indicators/{indicator_id}.csv", include_in_schema=False)
def indicator_csv(
    request: Request, indicator_id: str, benchmark: str = "england", comparison: str | None = None
) -> Response:
    """The CSV twin: every row of the indicator in Fingertips' columns (re-importable),
    judged by the reader's comparison method and saying so in a last column
    ("Comparison method"; Fingertips' importers, and ours, pass over columns they do
    not know).

    Registered before the page's twins so that this, the heaviest download, is served
    from the cache (per data version) rather than rebuilt for every request.
    """
    if benchmark not in d.BENCHMARK_CHOICES:
        raise HTTPException(status_code=400, detail="Choose england, london or sub-region.")
    with _answering():
        method = d.check_comparison(comparison)
    with _session(request) as session:
        row = None if d.unusable_key(indicator_id) else q.indicator_row(session, indicator_id)
        if row is None:
            raise HTTPException(status_code=404, detail="There is no indicator with that ID.")
        code = city_code(session) if benchmark == "london" else ENGLAND
        text = _fingertips_csv(session, page_cache(request.app), indicator_id, code, method)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="indicator-{indicator_id}.csv"'},
    )


@twin_routes(router, "/indicators/{indicator_id}")
def indicator(
    request: Request,
    indicator_id: str,
    benchmark: str = "england",
    area: str | None = None,
    breakdown: str | None = None,
    sex: str | None = None,
    age: str | None = None,
    period: str | None = None,
    comparison: str | None = None,
) -> Page:
    with _answering():
        choice = d.IndicatorQuery.parse(
            benchmark=benchmark,
            area=area,
            breakdown=breakdown,
            sex=sex,
            age=age,
            period=period,
            comparison=comparison,
        )
    data = _indicator_data(request, indicator_id, choice)
    table = data.table  # the .csv twin is served by indicator_csv, above
    with _session(request) as session:
        # Other modules' links (consultations…) come through the registry's hook.
        related = registry.related(session, "indicator", data.id)
    return Page(
        template="outcomes/indicator.html",
        title=data.name,
        context={"page": data, "query": choice.link, "related": related},
        data=_indicator_json(data) if request.url.path.endswith(".json") else None,
        table=table,
        filename=f"indicator-{indicator_id}",
    )


def _indicator_json(data: d.IndicatorPage) -> dict[str, Any]:
    return {
        "indicator": {"id": data.id, "name": data.name, "unit": data.unit},
        "metadata": dict(data.metadata),
        "benchmark": data.benchmark_name,
        "comparison": data.comparison,
        "comparison_method": data.method_text,
        "breakdown": (
            {"sex": data.breakdown.sex, "age": data.breakdown.age} if data.breakdown else None
        ),
        "period": data.period,
        "headline": data.headline,
        "recent_trend": data.trend_text,
        "recent_trend_method": data.trend_method,
        "data": data.data_kind,
        "city_missing": data.city_missing or None,
        "funnel_note": data.funnel_note or None,
        "disagreements": [
            {
                "area_code": x.area_code,
                "area": x.area_name,
                "period": x.period,
                "sex": x.breakdown.sex,
                "age": x.breakdown.age,
                "ours": x.ours,
                "published": x.published,
                "benchmark": x.benchmark_code,
            }
            for x in data.disagreements
        ],
        "targets": [
            {"statement": t.statement, "status": t.status, "method": t.method} for t in data.targets
        ],
        "illustrative": data.illustrative,
        "areas": data.table.records(),
        "breakdowns": [
            {
                "sex": b.sex,
                "age": b.age,
                "category": b.category,
                "period": b.period,
                "city": b.city_text,
                "country": b.country_text,
                "comparison": b.comparison_text,
            }
            for b in data.breakdown_rows
        ],
        "charts": {c.name: c.as_data() for c in data.charts},
    }


# An indicator chart's data (.csv) and its Vega-Lite spec (.vl.json) share one route.
CHART_SUFFIXES = (".vl.json", ".csv")


@router.get("/indicators/{indicator_id}/chart-{file}", include_in_schema=False)
def indicator_chart(
    request: Request,
    indicator_id: str,
    file: str,
    benchmark: str = "england",
    area: str | None = None,
    sex: str | None = None,
    age: str | None = None,
    period: str | None = None,
    comparison: str | None = None,
) -> Response:
    suffix = next((s for s in CHART_SUFFIXES if file.endswith(s)), None)
    if suffix is None:
        raise HTTPException(status_code=404, detail="Charts are downloaded as .csv or .vl.json.")
    with _answering():
        choice = d.IndicatorQuery.parse(
            benchmark=benchmark, area=area, sex=sex, age=age, period=period, comparison=comparison
        )
    data = _indicator_data(request, indicator_id, choice)
    chart = file.removesuffix(suffix)
    return _chart_response(data.downloads, chart, f"indicator-{indicator_id}", suffix)


# --------------------------------------------------------------------------- areas


def _area_data(
    request: Request, area_code: str, benchmark: str, comparison: str | None
) -> tuple[d.AreaPage, d.IndicatorQuery]:
    with _session(request) as session, _answering():
        choice = d.IndicatorQuery.parse(benchmark=benchmark, comparison=comparison)
        return d.area_page(session, page_cache(request.app), area_code, choice), choice


@twin_routes(router, "/areas/{area_code}")
def area(
    request: Request, area_code: str, benchmark: str = "england", comparison: str | None = None
) -> Page:
    data, choice = _area_data(request, area_code, benchmark, comparison)
    return Page(
        template="outcomes/area.html",
        title=data.name,
        context={"page": data, "query": choice.link},
        data={
            "area": {"code": data.code, "name": data.name, "type": data.area_type},
            "benchmark": data.benchmark_name,
            "comparison": data.comparison,
            "comparison_method": data.method_text,
            "illustrative": data.illustrative,
            "indicators": data.table.records(),
            "biggest_gaps": [x.indicator_id for x in data.worst],
            "charts": {c.name: c.as_data() for c in data.charts},
        },
        table=data.table,
        filename=f"area-{area_code}",
    )


@router.get("/areas/{area_code}/chart-{chart}.csv", include_in_schema=False)
def area_chart(
    request: Request,
    area_code: str,
    chart: str,
    benchmark: str = "england",
    comparison: str | None = None,
) -> Response:
    data, _ = _area_data(request, area_code, benchmark, comparison)
    return _chart_response(data.charts, chart, f"area-{area_code}", ".csv")


# --------------------------------------------------------------------------- inequalities


@twin_routes(router, "/inequalities")
def inequalities(request: Request) -> Page:
    with _session(request) as session:
        data = d.inequalities(session, page_cache(request.app))
    charts = {chart.name: chart.as_data() for chart in data.charts}
    return _listing("inequalities", "Inequalities between areas", data, "indicators", charts=charts)


@router.get("/inequalities/chart-{chart}.csv", include_in_schema=False)
def inequalities_chart(request: Request, chart: str) -> Response:
    with _session(request) as session:
        data = d.inequalities(session, page_cache(request.app))
    return _chart_response(data.charts, chart, "inequalities", ".csv")


# --------------------------------------------------------------------------- search


@twin_routes(router, "/search")
def search(request: Request, q: str | None = None) -> Page:
    """Find an indicator or an area by name, ID or code (everything A to Z without ``q``)."""
    with _session(request) as session, _answering():
        found = d.search(session, page_cache(request.app), q)
    title = f"Search results for “{found.query}”" if found.query else "Find an indicator or area"
    return Page(
        template="outcomes/search.html",
        title=title,
        context={"page": found},
        data={
            "query": found.query,
            "indicators": [{"title": h.title, "href": h.href} for h in found.indicators],
            "areas": [{"title": h.title, "detail": h.detail, "href": h.href} for h in found.areas],
        },
        table=found.table,
        filename="search",
    )


# --------------------------------------------------------------------------- register


def register(app: FastAPI) -> None:
    """Mount the outcomes pages (the search page among them) and the open data API.

    ``/`` is the dashboard's home page.
    """
    from healthycity.outcomes.api import register as register_api

    app.state.illustrative, app.state.data_note = illustrative_flag(app)
    page_cache(app)
    app.include_router(router)
    register_api(app)
