"""Public estates pages: London and its sub-regions, an organisation, a site.

Each page has ``.json`` and ``.csv`` twins (`twin_routes`); every chart has a table
beside it and that table as CSV (``?table=NAME``), the map included. Every page names
its source (NHS Digital's ERIC returns, OGL v3) and carries ERIC's caveat, because
the figures are trusts' own and nobody corrects them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from healthycity.core.charts import render_svg
from healthycity.core.errors import NotFound
from healthycity.core.web.twins import Page, Table, twin_routes
from healthycity.core.web.workspace import install, read_session
from healthycity.estates import charts, service
from healthycity.estates.disposal_pages import public_pipeline, receipts_chart, receipts_table
from healthycity.estates.hand_site_pages import hand_table, public_entries
from healthycity.estates.measures import EMPTY_UNDER_USED_TARGET_PCT, NON_CLINICAL_TARGET_PCT
from healthycity.estates.models import EstatesSite
from healthycity.estates.tables import FIGURE_COLUMNS, figure_row, summary_table, trend_table
from healthycity.geography.service import local_authority_codes
from healthycity.outcomes.boundaries import boundaries_or_shipped

router = APIRouter(include_in_schema=False)
BANDS = charts.BAND_ORDER


@dataclass(frozen=True)
class Chart:
    """A chart with its words and its numbers: the SVG, its text alternative, its table."""

    name: str
    title: str
    description: str
    svg: Markup
    table: Table


def chart_of(name: str, title: str, description: str, spec: dict[str, Any], table: Table) -> Chart:
    return Chart(name, title, description, render_svg(spec, description), table)


def band_rows(label: str, places: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {label: place, "band": band, "band_order": i, "pounds": entry["backlog"][band]}
        for place, entry in places.items()
        for i, band in enumerate(BANDS)
    ]


def pick_year(session: Session, asked: str | None) -> str:
    known = service.years(session)
    if asked is None:
        if not known:
            raise NotFound("no estates returns are loaded")
        return known[-1]
    if asked not in known:
        raise NotFound(f"no estates returns are loaded for {asked}")
    return asked


def _boundaries(session: Session) -> tuple[list[dict[str, Any]], str]:
    """The city's borough outlines (loaded, or the ones the package ships) and where they
    came from, asked of geography (which boroughs) and outcomes (their outlines)."""
    shapes, source = boundaries_or_shipped(session, local_authority_codes(session))
    features = [{"type": "Feature", "geometry": g, "properties": {}} for g in shapes.values()]
    return features, source


def _site_points(session: Session, year: str) -> Table:
    """The located, non-aggregate London sites of ``year`` (the map's table twin)."""
    rows = []
    for row in service.site_rows(session, year):
        site = row.site
        if not row.london or site is None or site.is_aggregate or site.latitude is None:
            continue
        total = sum(float(getattr(row.ret, f"backlog_{b}") or 0) for b in BANDS)
        rows.append(
            [
                row.org.code,
                site.site_code,
                site.name,
                row.subregion or "unallocated",
                site.postcode,
                site.latitude,
                site.longitude,
                round(total),
            ]
        )
    columns = ["organisation", "site", "name", "subregion", "postcode", "latitude", "longitude"]
    return Table([*columns, "backlog_pounds"], rows)


def _map(session: Session, year: str) -> Chart:
    table = _site_points(session, year)
    points = [r | {"backlog_millions": (r["backlog_pounds"] or 0) / 1e6} for r in table.records()]
    description = (
        f"Map of {len(points)} London NHS sites with a known location in {year}, each a circle "
        "sized by its backlog maintenance cost and coloured by sub-region. Aggregated small "
        "sites have no location and are not shown."
    )
    outlines, source = _boundaries(session)
    if outlines:
        description += f" Borough outlines drawn behind. {source}".rstrip()
    spec = charts.site_map(points, outlines)
    return chart_of("sites", "London NHS sites by backlog", description, spec, table)


def _london_charts(
    session: Session, data: dict[str, Any], trend: list[dict[str, Any]]
) -> list[Chart]:
    year = data["year"]
    places = {v["name"]: v for v in data["subregions"].values()}
    by_band = band_rows("place", places)
    top = max(data["subregions"].items(), key=lambda kv: kv[1]["backlog_total"] or 0, default=None)
    bars = chart_of(
        "backlog-by-subregion",
        f"Backlog by risk band and sub-region, {year}",
        f"Stacked bars of backlog maintenance cost by risk band for each sub-region in {year}."
        + (f" {top[1]['name']} has the largest backlog." if top else ""),
        charts.backlog_bars(by_band, "place", "Risk band"),
        Table(
            ["subregion", "band", "backlog_pounds"],
            [[r["place"], r["band"], r["pounds"]] for r in by_band],
        ),
    )
    trend_rows = band_rows("year", {t["year"]: t for t in trend})
    over_time = chart_of(
        "backlog-trend",
        "London's backlog by risk band, year by year",
        f"Stacked columns of London's backlog maintenance cost by risk band for "
        f"{len(trend)} years, {trend[0]['year']} to {trend[-1]['year']}.",
        charts.backlog_trend(trend_rows),
        Table(
            ["year", "band", "backlog_pounds"],
            [[r["year"], r["band"], r["pounds"]] for r in trend_rows],
        ),
    )
    shares = [
        {"place": v["name"], "pct": v["empty_under_used_pct"]}
        for v in data["subregions"].values()
        if v["empty_under_used_pct"] is not None
    ]
    surplus = chart_of(
        "empty-under-used",
        f"Empty and under-used floor space by sub-region, {year}",
        f"Bars of empty plus under-used floor space as a share of floor area for each "
        f"sub-region in {year}, against the Carter review's {EMPTY_UNDER_USED_TARGET_PCT:g}% "
        "target, drawn as a dashed line.",
        charts.share_against_target(
            shares, "pct", "Empty and under-used (% of floor area)", EMPTY_UNDER_USED_TARGET_PCT
        ),
        Table(["subregion", "empty_under_used_pct"], [[s["place"], s["pct"]] for s in shares]),
    )
    return [bars, over_time, surplus, _map(session, year)]


def _ranked(data: dict[str, Any]) -> Table:
    """Organisations ranked by backlog per m² (highest first; unreported last)."""
    orgs = sorted(
        data["organisations"].items(),
        key=lambda kv: (kv[1]["backlog_per_m2"] is None, -(kv[1]["backlog_per_m2"] or 0)),
    )
    return Table(
        ["code", "name", "subregion", *FIGURE_COLUMNS],
        [[code, e["name"], e["subregion"], *figure_row(e)] for code, e in orgs],
    )


@twin_routes(router, "/estates")
def estates_home(request: Request, year: str | None = None) -> Page:
    with read_session(request) as session:
        years = service.years(session)
        pipeline, receipts = public_pipeline(session)
        hand = public_entries(session)
        pipeline_context = {
            "receipts": receipts,
            "receipts_chart": receipts_chart(receipts) if pipeline else None,
            "hand_sites": hand,
        }
        if not years:
            return Page(
                "estates/empty.html", "London's NHS estate", context=about() | pipeline_context
            )
        chosen = pick_year(session, year)
        data = service.summary(session, chosen)
        trend = service.trend(session)
        found = _london_charts(session, data, trend)
    ranked = _ranked(data)
    tables = {c.name: c.table for c in found} | {"trend": trend_table(trend)}
    receipts_twin = receipts_table(receipts)
    return Page(
        "estates/home.html",
        f"London's NHS estate, {chosen}",
        context=about()
        | pipeline_context
        | {"data": data, "year": chosen, "years": years, "charts": found, "ranked": ranked},
        data=data
        | {
            "trend": trend,
            "receipts": receipts_twin.records(),
            "hand_sites": hand_table(hand).records(),
        },
        table=summary_table(data),
        tables=tables
        | {"organisations": ranked, "receipts": receipts_twin, "hand-sites": hand_table(hand)},
        filename=f"estates-{chosen}",
    )


def about() -> dict[str, Any]:
    return {
        "caveat": service.CAVEAT,
        "attribution": service.ATTRIBUTION,
        "targets": {
            "non_clinical": NON_CLINICAL_TARGET_PCT,
            "surplus": EMPTY_UNDER_USED_TARGET_PCT,
        },
    }


@twin_routes(router, "/estates/organisations/{code}")
def organisation_page(request: Request, code: str, year: str | None = None) -> Page:
    with read_session(request) as session:
        org = service.organisation(session, code)
        history = service.organisation_years(session, code)
        if not history:
            raise NotFound(f"{code} has filed no site returns")
        chosen = pick_year(session, year) if year else history[-1]["year"]
        sites = service.sites_of(session, code, chosen)
        predecessors = [
            o.code
            for o in session.scalars(select(type(org)).where(type(org).successor_code == code))
        ]
    trend_rows = band_rows("year", {h["year"]: h for h in history})
    chart = chart_of(
        "backlog-trend",
        f"{org.name}: backlog by risk band, year by year",
        f"Stacked columns of {org.name}'s backlog maintenance cost by risk band for each "
        "year it filed site returns.",
        charts.backlog_trend(trend_rows),
        Table(
            ["year", "band", "backlog_pounds"],
            [[r["year"], r["band"], r["pounds"]] for r in trend_rows],
        ),
    )
    site_table = Table(
        ["site", "name", "site_type", "aggregate", *FIGURE_COLUMNS],
        [
            [
                r.ret.site_code,
                r.site.name if r.site else r.ret.site_code,
                r.ret.site_type,
                bool(r.site and r.site.is_aggregate),
                *figure_row(e),
            ]
            for r, e in sites
        ],
    )
    data = {
        "code": org.code,
        "name": org.name,
        "subregion": org.subregion,
        "successor": org.successor_code,
        "merged_on": org.merged_on.isoformat() if org.merged_on else None,
        "predecessors": predecessors,
        "years": history,
        "sites": site_table.records(),
        "year": chosen,
        "source": service.ATTRIBUTION,
        "caveat": service.CAVEAT,
    }
    return Page(
        "estates/organisation.html",
        org.name,
        context=about()
        | {
            "org": org,
            "history": history,
            "sites": sites,
            "chart": chart,
            "year": chosen,
            "predecessors": predecessors,
            "site_table": site_table,
        },
        data=data,
        table=trend_table(history),
        tables={"sites": site_table, "backlog-trend": chart.table},
        filename=f"estates-{code}",
    )


RETURN_FIELDS = (
    "gia_m2",
    "occupied_m2",
    "backlog_high",
    "backlog_significant",
    "backlog_moderate",
    "backlog_low",
    "critical_infrastructure_risk",
    "empty_pct",
    "under_used_pct",
    "unutilised_pct",
    "not_functionally_suitable_pct",
    "clinical_m2",
    "non_clinical_m2",
    "land_owned_ha",
    "land_not_delivering_ha",
    "running_cost",
)


@twin_routes(router, "/estates/sites/{org_code}/{site_code}")
def site_page(request: Request, org_code: str, site_code: str) -> Page:
    with read_session(request) as session:
        site = service.site(session, org_code, site_code)
        org = service.organisation(session, org_code)
        returns = service.site_returns(session, org_code, site_code)
    table = Table(
        ["year", "site_type", *RETURN_FIELDS, "missing"],
        [
            [
                r.year,
                r.site_type,
                *(getattr(r, f) for f in RETURN_FIELDS),
                "; ".join(f"{k}: {v}" for k, v in sorted(r.missing.items())),
            ]
            for r in returns
        ],
    )
    data = {
        "organisation": org.code,
        "organisation_name": org.name,
        "site": site.site_code,
        "name": site.name,
        "aggregate": site.is_aggregate,
        "site_type": site.site_type,
        "address": site.address,
        "postcode": site.postcode,
        "latitude": site.latitude,
        "longitude": site.longitude,
        "tenure": site.tenure,
        "subregion": site.subregion or org.subregion,
        "returns": table.records(),
        "source": service.ATTRIBUTION,
        "caveat": service.CAVEAT,
    }
    return Page(
        "estates/site.html",
        f"{site.name} ({org.name})"
        if not site.is_aggregate
        else f"{org.name}: aggregated small sites",
        context=about() | {"site": site, "org": org, "table": table},
        data=data,
        table=table,
        filename=f"estates-{org_code}-{site_code}",
    )


def site_paths(session: Session) -> list[str]:
    """The public estates URLs for the static site: the London page, every organisation
    with site returns and every site."""
    paths = ["/estates", "/estates/disposals", "/estates/hand-sites"]
    if not service.years(session):
        return paths
    paths += ["/estates/backlog", "/estates/age-profile"]
    codes = sorted(
        {r.org.code for y in service.years(session) for r in service.site_rows(session, y)}
    )
    paths += [f"/estates/organisations/{c}" for c in codes]
    sites = session.scalars(
        select(EstatesSite).order_by(EstatesSite.org_code, EstatesSite.site_code)
    )
    paths += [f"/estates/sites/{s.org_code}/{s.site_code}" for s in sites]
    return paths


def register(app: FastAPI) -> None:
    """Mount the public estates pages (and the refusal handlers they rely on)."""
    install(app)
    app.include_router(router)
