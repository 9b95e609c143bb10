"""Two public views of the estate's condition: its age, and its backlog against investment.

``/estates/age-profile`` shows the floor area built in each period (ERIC's age profile)
for London and each sub-region, with every organisation in a table;
``/estates/backlog`` shows backlog maintenance by risk category (high, significant,
moderate, low) for London, each sub-region and each trust, beside each trust's
investment to reduce it. Each has ``.json`` and ``.csv`` twins and every chart its
table (``?table=NAME``), as the other estates pages do.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request

from healthycity.core.web.twins import Page, Table, twin_routes
from healthycity.core.web.workspace import install, read_session
from healthycity.estates import charts, condition, service
from healthycity.estates.pages import about, band_rows, chart_of, pick_year

router = APIRouter(include_in_schema=False)


def _place(entry: dict[str, Any]) -> str:
    """A sub-region's name with its ONS code, where the pack gives one."""
    code = entry.get("ons_code")
    return f"{entry['name']} ({code})" if code else str(entry["name"])


def _age_table(data: dict[str, Any], scope: str) -> Table:
    """One row per place and band (``scope`` london+subregions, or organisations)."""
    places: list[tuple[str, str | None, str, dict[str, Any]]] = []
    if scope == "organisations":
        places = [(c, None, e["name"], e) for c, e in data["organisations"].items()]
    else:
        places = [("LONDON", None, "London", data["london"])]
        places += [(c, e.get("ons_code"), e["name"], e) for c, e in data["subregions"].items()]
    rows = [
        [code, ons, name, band, entry["bands"][band]["floor_area_m2"], entry["bands"][band]["pct"]]
        for code, ons, name, entry in places
        for band in data["bands"]
    ]
    return Table(["code", "ons_code", "name", "built", "floor_area_m2", "pct_of_floor_area"], rows)


def _oldest(data: dict[str, Any]) -> str:
    london = data["london"]["bands"]["pre 1948"]["pct"]
    return (
        f" In London, {london:g}% of the floor area with an age profile was built before 1948."
        if london is not None
        else ""
    )


@twin_routes(router, "/estates/age-profile")
def age_profile_page(request: Request, year: str | None = None) -> Page:
    with read_session(request) as session:
        chosen = pick_year(session, year)
        years = service.years(session)
        data = condition.age_profile(session, chosen)
    table = _age_table(data, "places")
    places = [("London", data["london"])] + [(_place(e), e) for e in data["subregions"].values()]
    rows = [
        {"place": name, "band": band, "band_order": i, "pct": entry["bands"][band]["pct"]}
        for name, entry in places
        for i, band in enumerate(data["bands"])
    ]
    description = (
        f"Stacked bars of the share of floor area built in each period, for London and each "
        f"sub-region in {chosen}, newest buildings first." + _oldest(data)
    )
    chart = chart_of(
        "age-by-place",
        f"Floor area by age, {chosen}",
        description,
        charts.age_bars(rows, data["bands"]),
        table,
    )
    organisations = _age_table(data, "organisations")
    return Page(
        "estates/age_profile.html",
        f"The age of London's NHS estate, {chosen}",
        context=about() | {"data": data, "year": chosen, "years": years, "chart": chart},
        data=data,
        table=table,
        tables={"age-by-place": table, "organisations": organisations},
        filename=f"estates-age-profile-{chosen}",
    )


INVESTMENT_COLUMNS = [
    "backlog_high",
    "backlog_significant",
    "backlog_moderate",
    "backlog_low",
    "backlog_total",
    "backlog_investment",
    "backlog_set_against_investment",
    "investment_pct_of_backlog",
]


def _investment_row(entry: dict[str, Any]) -> list[Any]:
    values = entry | {f"backlog_{b}": entry["backlog"][b] for b in charts.BAND_ORDER}
    return [values[c] for c in INVESTMENT_COLUMNS]


def _investment_tables(data: dict[str, Any]) -> tuple[Table, Table]:
    places = Table(
        ["code", "ons_code", "name", *INVESTMENT_COLUMNS],
        [["LONDON", None, "London", *_investment_row(data["london"])]]
        + [
            [code, e.get("ons_code"), e["name"], *_investment_row(e)]
            for code, e in data["subregions"].items()
        ],
    )
    ranked = sorted(data["organisations"].items(), key=lambda kv: -(kv[1]["backlog_total"] or 0))
    trusts = Table(
        ["code", "name", "subregion", *INVESTMENT_COLUMNS],
        [[code, e["name"], e["subregion"], *_investment_row(e)] for code, e in ranked],
    )
    return places, trusts


@twin_routes(router, "/estates/backlog")
def backlog_page(request: Request, year: str | None = None) -> Page:
    with read_session(request) as session:
        chosen = pick_year(session, year)
        years = service.years(session)
        data = condition.backlog_investment(session, chosen)
    places_table, trusts_table = _investment_tables(data)
    named = {"London": data["london"]} | {_place(e): e for e in data["subregions"].values()}
    by_band = band_rows("place", named)
    bands_chart = chart_of(
        "backlog-by-place",
        f"Backlog by risk category, London and sub-regions, {chosen}",
        f"Stacked bars of the cost to eradicate backlog maintenance by risk category (high, "
        f"significant, moderate, low) for London and each sub-region in {chosen}.",
        charts.backlog_bars(by_band, "place", "Risk category"),
        Table(
            ["place", "risk_category", "backlog_pounds"],
            [[r["place"], r["band"], r["pounds"]] for r in by_band],
        ),
    )
    ranked = {
        e["name"]: e
        for e in sorted(data["organisations"].values(), key=lambda e: -(e["backlog_total"] or 0))
    }
    trust_bands = band_rows("trust", ranked)
    trusts_chart = chart_of(
        "backlog-by-trust",
        f"Backlog by risk category and trust, {chosen}",
        f"Stacked bars of each London trust's backlog maintenance cost by risk category in "
        f"{chosen}, largest first."
        + (f" {next(iter(ranked))} has the largest backlog." if ranked else ""),
        charts.backlog_bars(trust_bands, "trust", "Risk category"),
        Table(
            ["trust", "risk_category", "backlog_pounds"],
            [[r["trust"], r["band"], r["pounds"]] for r in trust_bands],
        ),
    )
    pairs = [
        {"place": name, "kind": kind, "pounds": entry[field]}
        for name, entry in named.items()
        for kind, field in zip(
            charts.INVESTMENT_KINDS,
            ("backlog_set_against_investment", "backlog_investment"),
            strict=True,
        )
    ]
    london_pct = data["london"]["investment_pct_of_backlog"]
    investment_chart = chart_of(
        "investment",
        f"Investment to reduce backlog against the backlog, {chosen}",
        f"Paired bars for London and each sub-region in {chosen}: the backlog of the trusts "
        "that reported investment, and what they invested in the year to reduce it."
        + (
            f" Across London, the year's investment was {london_pct:g}% of that backlog."
            if london_pct is not None
            else ""
        ),
        charts.investment_bars(pairs),
        places_table,
    )
    return Page(
        "estates/backlog.html",
        f"Backlog maintenance and investment, {chosen}",
        context=about()
        | {
            "data": data,
            "year": chosen,
            "years": years,
            "charts": [bands_chart, investment_chart, trusts_chart],
            "trusts": trusts_table,
        },
        data=data,
        table=places_table,
        tables={
            "backlog-by-place": bands_chart.table,
            "investment": places_table,
            "backlog-by-trust": trusts_chart.table,
            "trusts": trusts_table,
        },
        filename=f"estates-backlog-{chosen}",
    )


def register(app: FastAPI) -> None:
    """Mount the age-profile and backlog-investment views."""
    install(app)
    app.include_router(router)
