"""All four London years load on both engines, again without change, and the summary
equals sums computed here from the raw CSV with the csv module (not through the module)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy import select, text
from sqlalchemy.engine import Engine

from healthycity.core.db import read_transaction
from healthycity.estates.models import EstatesOrganisation, EstatesReturn, EstatesSite
from tests.estates.conftest import (
    LOOKUP,
    YEARS,
    load_all,
    raw_rows,
    raw_sum,
    summary,
)

BANDS = ("high", "significant", "moderate", "low")
GIA = ("Gross internal floor area (m²)", "Gross internal site floor area (m²)")


def _snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as connection:
        return {
            table: sorted(
                tuple(str(v) for v in row)
                for row in connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            )
            for table in ("estates_organisation", "estates_site", "estates_return")
        }


def test_all_london_years_load_and_loading_again_changes_nothing(
    engine: Engine, estates_dir: Path
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    first = load_all(url, estates_dir)
    assert "unchanged" in first.stdout
    before = _snapshot(engine)
    with read_transaction(engine) as session:
        years = sorted(set(session.scalars(select(EstatesReturn.year))))
    assert years == list(YEARS)
    expected_rows = sum(len(raw_rows(p)) for p in estates_dir.glob("eric_*_london.csv"))
    assert len(before["estates_return"]) == expected_rows

    again = load_all(url, estates_dir)
    assert " 0 added, 0 updated" in again.stdout
    assert _snapshot(engine) == before


def test_summary_matches_the_raw_csv_for_every_year(loaded: str, estates_dir: Path) -> None:
    lookup = {r["org_code"]: r["subregion"] for r in raw_rows(estates_dir / LOOKUP)}
    for year in YEARS:
        rows = raw_rows(estates_dir / f"eric_{year.replace('-', '_')}_site_london.csv")
        data = summary(loaded, year)
        assert data["year"] == year
        london = data["london"]
        for band in BANDS:
            column = f"Cost to eradicate {band} risk backlog (£)"
            assert Decimal(london["backlog"][band]) == raw_sum(rows, column), (year, band)
        assert Decimal(london["gross_internal_floor_area_m2"]) == raw_sum(rows, *GIA), year

        ncl = [r for r in rows if lookup.get(r["Organisation Code"]) == "NCL"]
        entry = data["subregions"]["NCL"]
        for band in BANDS:
            column = f"Cost to eradicate {band} risk backlog (£)"
            assert Decimal(entry["backlog"][band]) == raw_sum(ncl, column), (year, band)
        assert Decimal(entry["gross_internal_floor_area_m2"]) == raw_sum(ncl, *GIA)

        royal_free = [r for r in rows if r["Organisation Code"] == "RAL"]
        org = data["organisations"]["RAL"]
        bands = [f"Cost to eradicate {b} risk backlog (£)" for b in BANDS]
        total = sum((raw_sum(royal_free, c) for c in bands), Decimal(0))
        assert Decimal(org["backlog_total"]) == total
        assert Decimal(org["gross_internal_floor_area_m2"]) == raw_sum(royal_free, *GIA)


def test_summary_csv_has_london_subregions_and_organisations(loaded: str) -> None:
    from tests.estates.conftest import cli

    result = cli(loaded, "estates", "summary", "--year", "2016-17", "--format", "csv")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("year,scope,code,ons_code,name,backlog_high")
    assert lines[1].startswith("2016-17,london,LONDON,,London,")
    assert any(line.startswith("2016-17,subregion,NCL,") for line in lines)
    assert any(line.startswith("2016-17,organisation,RYJ,") for line in lines)


def test_organisations_and_sites_are_registered(loaded: str, engine: Engine) -> None:
    with read_transaction(engine) as session:
        orgs = {o.code: o for o in session.scalars(select(EstatesOrganisation))}
        sites = session.scalars(select(EstatesSite)).all()
        assert orgs["RYJ"].subregion == "NWL"
        assert orgs["RYJ"].name == "IMPERIAL COLLEGE HEALTHCARE NHS TRUST"
        assert len({(s.org_code, s.site_code) for s in sites}) == len(sites)
