"""The age-profile and backlog-investment views, against answers computed here from the raw
CSVs (never through the module), every year, on SQLite and PostgreSQL; the sub-regions'
ONS codes from the pack; the views' pages, twins and chart tables."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from healthycity.estates import measures as m
from tests.estates.conftest import MARKERS, YEARS, cli, raw_rows, raw_sum
from tests.workspace.helpers import app_for

INVESTMENT = "Investment to reduce backlog maintenance (£)"
# The newest band as each year published it (ERIC moved it twice).
NEWEST = {
    "2013-14": ("2005 to present", "2005 to 2014"),
    "2014-15": ("2015 to present", "2015 onwards"),
    "2015-16": ("2015 to 2024", "2015 onwards"),
    "2016-17": ("2015 to 2024", "2015 onwards"),
}
ONS = {
    "NWL": "E54000027",
    "NCL": "E54000028",
    "NEL": "E54000029",
    "SEL": "E54000030",
    "SWL": "E54000031",
}


def _file(folder: Path, year: str, sheet: str) -> Path:
    return folder / f"eric_{year.replace('-', '_')}_{sheet}_london.csv"


def _lookup(folder: Path) -> dict[str, str]:
    return {
        r["org_code"]: r["subregion"] for r in raw_rows(folder / "london_org_subregion_lookup.csv")
    }


def _value(text: str) -> Decimal | None:
    text = text.strip()
    return None if text in MARKERS else Decimal(text)


def _band_m2(rows: list[dict[str, str]], column: str) -> Decimal:
    """Σ floor area × band % / 100 over sites that gave both (done by hand, in Decimal)."""
    total = Decimal(0)
    for row in rows:
        area = _value(
            row.get("Gross internal floor area (m²)")
            or row.get("Gross internal site floor area (m²)", "")
        )
        share = _value(row[column])
        if area is not None and share is not None:
            total += area * share / 100
    return total


def _close(ours: Any, theirs: Decimal) -> bool:
    return abs(Decimal(str(ours or 0)) - theirs) <= Decimal("0.011")


def test_age_profile_matches_the_raw_returns_every_year(loaded: str, estates_dir: Path) -> None:
    lookup = _lookup(estates_dir)
    with TestClient(app_for(loaded)) as client:
        for year in YEARS:
            rows = raw_rows(_file(estates_dir, year, "site"))
            data = client.get(f"/estates/age-profile.json?year={year}").json()
            assert data["bands"][0] == "2015 onwards" and data["bands"][-1] == "pre 1948"
            published, band = NEWEST[year]
            column = f"Age profile - {published} (%)"
            assert _close(data["london"]["bands"][band]["floor_area_m2"], _band_m2(rows, column))
            old = _band_m2(rows, "Age profile - pre 1948 (%)")
            assert _close(data["london"]["bands"]["pre 1948"]["floor_area_m2"], old)
            ncl = [r for r in rows if lookup.get(r["Organisation Code"]) == "NCL"]
            assert _close(
                data["subregions"]["NCL"]["bands"]["pre 1948"]["floor_area_m2"],
                _band_m2(ncl, "Age profile - pre 1948 (%)"),
            )
            ryj = [r for r in rows if r["Organisation Code"] == "RYJ"]
            assert _close(
                data["organisations"]["RYJ"]["bands"]["pre 1948"]["floor_area_m2"],
                _band_m2(ryj, "Age profile - pre 1948 (%)"),
            )
            shares = [b["pct"] or 0 for b in data["london"]["bands"].values()]
            assert abs(sum(shares) - 100) < 0.5, (year, sum(shares))
            if year == "2013-14":  # no building of 2015 or later was reported yet
                assert data["london"]["bands"]["2015 onwards"]["floor_area_m2"] is None


def test_backlog_investment_matches_the_raw_returns_every_year(
    loaded: str, estates_dir: Path
) -> None:
    lookup = _lookup(estates_dir)
    with TestClient(app_for(loaded)) as client:
        for year in YEARS:
            sites = raw_rows(_file(estates_dir, year, "site"))
            trusts = raw_rows(_file(estates_dir, year, "trust"))
            filed = {r["Organisation Code"] for r in sites}
            data = client.get(f"/estates/backlog.json?year={year}").json()
            london = [r for r in trusts if r["Organisation Code"] in filed]
            assert Decimal(str(data["london"]["backlog_investment"])) == raw_sum(
                london, INVESTMENT
            ), year
            ncl = [r for r in london if lookup.get(r["Organisation Code"]) == "NCL"]
            assert Decimal(str(data["subregions"]["NCL"]["backlog_investment"])) == raw_sum(
                ncl, INVESTMENT
            ), year
            for band in ("high", "significant", "moderate", "low"):
                column = f"Cost to eradicate {band} risk backlog (£)"
                assert Decimal(str(data["london"]["backlog"][band])) == raw_sum(sites, column)
            # One trust's share, by hand: its investment over its sites' backlog.
            spent = raw_sum([r for r in trusts if r["Organisation Code"] == "RYJ"], INVESTMENT)
            ryj_sites = [r for r in sites if r["Organisation Code"] == "RYJ"]
            backlog = sum(
                (
                    raw_sum(ryj_sites, f"Cost to eradicate {b} risk backlog (£)")
                    for b in ("high", "significant", "moderate", "low")
                ),
                Decimal(0),
            )
            expected = round(float(spent / backlog * 100), 2)
            assert data["organisations"]["RYJ"]["investment_pct_of_backlog"] == expected


def test_investment_ratio_sums_before_dividing() -> None:
    """Two trusts, one tiny: the group's ratio is Σ/Σ, not the mean of 50% and 1%; a trust
    with no investment reported is left out of both sides."""
    investment = np.array([100.0, 10_000.0, np.nan])
    backlog = np.array([200.0, 1_000_000.0, 5_000.0])
    total, against, ratio = m.investment_against_backlog(
        investment, backlog, np.zeros(3, dtype=np.int64), 1
    )
    assert total[0] == 10_100.0 and against[0] == 1_000_200.0
    assert ratio[0] == 10_100.0 / 1_000_200.0


def test_age_profile_weighs_sites_by_their_floor_area() -> None:
    gia = np.array([100.0, 900.0, 50.0])
    shares = {"new": np.array([100.0, 0.0, np.nan]), "old": np.array([0.0, 100.0, np.nan])}
    by_band, covered = m.age_profile(gia, shares, np.zeros(3, dtype=np.int64), 1)
    assert covered[0] == 1000.0  # the site with no profile is not in the denominator
    assert by_band["new"][0] == 100.0 and by_band["old"][0] == 900.0


def test_sub_regions_carry_their_ons_codes_when_the_pack_is_loaded(loaded: str) -> None:
    from tests.estates.conftest import summary

    before = summary(loaded, "2016-17")
    assert all(before["subregions"][c]["ons_code"] is None for c in ONS)
    assert cli(loaded, "pack", "load", "london").exit_code == 0
    after = summary(loaded, "2016-17")
    assert {c: after["subregions"][c]["ons_code"] for c in ONS} == ONS
    with TestClient(app_for(loaded)) as client:
        page = client.get("/estates")
        assert "E54000028" in page.text
        rows = list(csv.DictReader(io.StringIO(client.get("/estates.csv").text)))
        coded = {r["code"]: r["ons_code"] for r in rows if r["scope"] == "subregion"}
        assert {c: coded[c] for c in ONS} == ONS
        backlog = client.get("/estates/backlog.json").json()
        assert backlog["subregions"]["SEL"]["ons_code"] == "E54000030"
        age = client.get("/estates/age-profile.csv?table=age-by-place").text
        assert "E54000031" in age


def test_the_views_have_twins_and_chart_tables(loaded: str) -> None:
    with TestClient(app_for(loaded)) as client:
        for path, tables in (
            ("/estates/age-profile", ("age-by-place", "organisations")),
            ("/estates/backlog", ("backlog-by-place", "investment", "backlog-by-trust", "trusts")),
        ):
            page = client.get(path + "?year=2015-16")
            assert page.status_code == 200 and "Carter review" in page.text
            assert "does not check or correct them" in page.text
            assert client.get(path + ".json?year=2015-16").json()["year"] == "2015-16"
            for table in tables:
                answer = client.get(f"{path}.csv?year=2015-16&table={table}")
                assert answer.status_code == 200 and answer.text.count("\n") > 5, table
            assert client.get(path + "?year=1999-00").status_code == 404
        trusts = list(
            csv.DictReader(io.StringIO(client.get("/estates/backlog.csv?table=trusts").text))
        )
        totals = [float(r["backlog_total"] or 0) for r in trusts]
        assert totals == sorted(totals, reverse=True)
