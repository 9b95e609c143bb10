"""One test per quirk the shared data's README lists, on the real files."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from healthycity.core.db import read_transaction
from healthycity.estates.columns import year_from_name
from healthycity.estates.models import EstatesOrganisation, EstatesReturn, EstatesSite
from tests.estates.conftest import cli, summary


def _returns(engine: Engine, year: str, org: str) -> list[EstatesReturn]:
    with read_transaction(engine) as session:
        found = session.scalars(
            select(EstatesReturn).where(
                EstatesReturn.year == year,
                EstatesReturn.org_code == org,
                EstatesReturn.level == "site",
            )
        ).all()
        session.expunge_all()
    return list(found)


@pytest.mark.parametrize(
    ("name", "year"),
    [
        ("eric_2013_14_site_london.csv", "2013-14"),
        ("ERIC-201718-SiteData.csv", "2017-18"),
        ("ERIC - 201819 - SiteData v4.csv", "2018-19"),
        ("ERIC - 201920 - SiteData - v2.csv", "2019-20"),
        ("HospitalEstatesAndFacilitiesStatistics_13944.XLS", "2016-17"),
        ("site-data.csv", None),
        ("eric_2013_15_site.csv", None),
    ],
)
def test_year_is_inferred_from_nhs_digital_file_names(name: str, year: str | None) -> None:
    assert year_from_name(name) == year


def test_renamed_floor_area_column_is_read_in_every_year(loaded: str, engine: Engine) -> None:
    # "Gross internal site floor area" until 2014/15, "Gross internal floor area" after.
    for year in ("2013-14", "2016-17"):
        assert all(r.gia_m2 is not None for r in _returns(engine, year, "RYJ"))


def test_unutilised_space_before_2015_16_and_empty_plus_under_used_after(
    loaded: str, engine: Engine
) -> None:
    early = _returns(engine, "2014-15", "RJ1")
    late = _returns(engine, "2016-17", "RJ1")
    assert any(r.unutilised_pct is not None for r in early)
    assert all(r.empty_pct is None and r.under_used_pct is None for r in early)
    assert all(r.unutilised_pct is None for r in late)
    assert any(r.empty_pct is not None for r in late)
    for year in ("2014-15", "2016-17"):
        assert summary(loaded, year)["london"]["empty_under_used_pct"] is not None


def test_not_applicable_is_missing_with_its_reason_not_zero(loaded: str, engine: Engine) -> None:
    with read_transaction(engine) as session:
        marked = session.scalars(select(EstatesReturn)).all()
        reasons = [(r, k) for r in marked for k, v in r.missing.items() if v == "Not Applicable"]
        assert reasons, "the London files use Not Applicable"
        typed = [(r, k) for r, k in reasons if k in EstatesReturn.__table__.columns]
        assert typed, "some typed figure is Not Applicable"
        for ret, key in typed:
            assert getattr(ret, key) is None
        for ret, key in reasons:
            if key in ret.published:
                assert ret.published[key] == "Not Applicable"


def test_aggregate_sites_are_keyed_by_organisation_and_never_located(
    loaded: str, engine: Engine
) -> None:
    with read_transaction(engine) as session:
        aggregates = session.scalars(
            select(EstatesSite).where(EstatesSite.site_code == "AGGRE")
        ).all()
        assert len({a.org_code for a in aggregates}) == len(aggregates) > 10
        assert all(a.is_aggregate and a.latitude is None for a in aggregates)
    # ... but their backlog and floor area count in London's totals (checked against the
    # raw CSV in test_loading), and they are not on the map.
    from fastapi.testclient import TestClient

    from tests.estates.test_pages import client_for

    with TestClient(client_for(loaded)) as client:
        points = client.get("/estates.csv?table=sites").text
    assert ",AGGRE," not in points


def test_merged_trusts_point_to_their_successors(loaded: str, engine: Engine) -> None:
    with read_transaction(engine) as session:
        orgs = {o.code: o for o in session.scalars(select(EstatesOrganisation))}
        assert (orgs["RC3"].successor_code, orgs["RC3"].merged_on) == ("R1K", date(2014, 10, 1))
        assert orgs["RV8"].successor_code == "R1K"
        assert orgs["RVL"].successor_code == "RAL"
        assert orgs["RFW"].successor_code == "RQM"
        years = set(
            session.scalars(select(EstatesReturn.year).where(EstatesReturn.org_code == "RFW"))
        )
    assert years == {"2013-14", "2014-15"}
    assert "RVL" in summary(loaded, "2013-14")["organisations"]
    assert "RVL" not in summary(loaded, "2014-15")["organisations"]


def test_oxleas_filed_under_the_south_region_still_counts_in_london(loaded: str) -> None:
    assert "RPG" in summary(loaded, "2013-14")["organisations"]
    assert summary(loaded, "2013-14")["organisations"]["RPG"]["subregion"] == "SEL"


def test_site_types_are_kept_as_published(loaded: str, engine: Engine) -> None:
    early = {r.site_type for r in _returns(engine, "2013-14", "RYJ")}
    late = {r.site_type for r in _returns(engine, "2016-17", "RYJ")}
    assert all(t == t.upper() for t in early if t)
    assert any(t and t[0].isdigit() for t in late)


def test_repeated_column_names_carry_their_section(loaded: str, engine: Engine) -> None:
    # 2014/15 has two "Occupied floor area (m²)": [Areas] is the site's, the other PFI's.
    rows = _returns(engine, "2014-15", "RYJ")
    for row in rows:
        areas = row.published["Occupied floor area (m²) [Areas]"]
        if areas not in ("", "Not Applicable", "No Data Provided"):
            assert row.occupied_m2 == Decimal(areas)


def test_critical_infrastructure_risk_and_land_from_2016_17(loaded: str) -> None:
    late = summary(loaded, "2016-17")["london"]
    early = summary(loaded, "2015-16")["london"]
    assert late["backlog"]["critical_infrastructure_risk"] > 0
    assert late["land_not_delivering_services_ha"] is not None
    assert early["backlog"]["critical_infrastructure_risk"] is None
    assert early["land_not_delivering_services_ha"] is None


def test_backlog_is_concentrated_as_the_readme_says(loaded: str) -> None:
    data = summary(loaded, "2016-17")
    assert 1.85e9 < data["london"]["backlog"]["total"] < 1.87e9
    assert 6.7e8 < data["organisations"]["RYJ"]["backlog_total"] < 6.9e8


def test_trusts_spanning_subregions_are_allocated_site_by_site(loaded: str) -> None:
    before = summary(loaded, "2016-17")
    assert before["organisations"]["RPY"]["subregion"] == "MULTI"
    nwl = before["subregions"]["NWL"]["sites"]
    result = cli(loaded, "estates", "allocate", "RPY", "RPY01", "NWL")
    assert result.exit_code == 0, result.output
    after = summary(loaded, "2016-17")
    assert after["subregions"]["NWL"]["sites"] == nwl + 1
    refused = cli(loaded, "estates", "allocate", "RPY", "RPY01", "LONDON")
    assert refused.exit_code == 1


def test_nhs_choices_gives_sites_a_postcode_and_coordinates(loaded: str, engine: Engine) -> None:
    with read_transaction(engine) as session:
        royal_london = session.scalars(
            select(EstatesSite).where(EstatesSite.site_code == "R1H12")
        ).one()
        assert royal_london.postcode == "E1 1BB"
        assert royal_london.latitude is not None and 51 < royal_london.latitude < 52


def test_england_files_give_the_benchmark(engine: Engine, estates_dir: Path) -> None:
    url = engine.url.render_as_string(hide_password=False)
    files = [
        estates_dir / f
        for f in ("eric_2016_17_site_england.csv", "london_org_subregion_lookup.csv")
    ]
    assert cli(url, "estates", "load", *map(str, files)).exit_code == 0
    data = summary(url, "2016-17")
    bench = data["england_benchmark"]["backlog_per_m2"]
    assert bench["lower_quartile"] <= bench["median"] <= bench["upper_quartile"]
    assert 1.85e9 < data["london"]["backlog"]["total"] < 1.87e9  # England rows not in London


def test_sites_on_the_pfi_sheets_have_pfi_tenure(
    loaded: str, engine: Engine, estates_dir: Path
) -> None:
    """ERIC has no tenure field; its PFI sheets (2015/16 on) name the sites with a PFI
    scheme, so those, and only those, are PFI (never an aggregate)."""
    from tests.estates.conftest import raw_rows

    listed = {
        (r["Organisation Code"], r["Site Code"])
        for name in ("eric_2015_16_pfi_london.csv", "eric_2016_17_pfi_london.csv")
        for r in raw_rows(estates_dir / name)
    }
    with read_transaction(engine) as session:
        sites = session.scalars(select(EstatesSite)).all()
        pfi = {(s.org_code, s.site_code) for s in sites if s.tenure == "PFI"}
        registered = {(s.org_code, s.site_code) for s in sites if not s.is_aggregate}
        assert pfi == listed & registered and ("R1H", "R1H12") in pfi
    again = cli(
        loaded, "estates", "load", *map(str, sorted(estates_dir.glob("eric_*_pfi_london.csv")))
    )
    assert again.exit_code == 0 and re.search(r"\b0 added, 0 updated", again.output), again.output
