"""The public estates pages, their twins, their chart tables and the API, on loaded data."""

from __future__ import annotations

import csv
import io
from typing import Any

from fastapi.testclient import TestClient

from healthycity.web.app import create_app
from tests.conftest import settings_for


def client_for(url: str) -> Any:
    return create_app(settings_for(url))  # type: ignore[arg-type]


def test_london_page_twins_charts_and_caveat(loaded: str) -> None:
    with TestClient(client_for(loaded)) as client:
        page = client.get("/estates")
        assert page.status_code == 200
        assert "London&#39;s NHS estate, 2016-17" in page.text
        assert "Open Government Licence v3.0" in page.text
        assert "does not check or correct them" in page.text
        assert page.text.count('class="hc-figure"') == 4  # three charts and the map
        data = client.get("/estates.json?year=2015-16").json()
        assert data["year"] == "2015-16" and len(data["trend"]) == 4
        ranked = list(
            csv.DictReader(io.StringIO(client.get("/estates.csv?table=organisations").text))
        )
        per_m2 = [float(r["backlog_per_m2"]) for r in ranked if r["backlog_per_m2"]]
        assert per_m2 == sorted(per_m2, reverse=True)
        for table in (
            "backlog-by-subregion",
            "backlog-trend",
            "empty-under-used",
            "sites",
            "trend",
        ):
            assert client.get(f"/estates.csv?table={table}").status_code == 200, table
        assert client.get("/estates?year=1999-00").status_code == 404


def test_organisation_and_site_pages(loaded: str) -> None:
    with TestClient(client_for(loaded)) as client:
        page = client.get("/estates/organisations/RVL")
        assert page.status_code == 200 and "joined" in page.text
        assert client.get("/estates/organisations/RAL.json").json()["predecessors"] == ["RVL"]
        assert client.get("/estates/organisations/RAL.csv?table=sites").status_code == 200
        site = client.get("/estates/sites/R1H/R1H12")
        assert site.status_code == 200 and "E1 1BB" in site.text
        aggregate = client.get("/estates/sites/R1H/AGGRE")
        assert aggregate.status_code == 200 and "Not one building" in aggregate.text
        assert client.get("/estates/sites/R1H/AGGRE.json").json()["aggregate"] is True
        assert client.get("/estates/sites/XXX/YYY").status_code == 404


def test_api_matches_the_summary(loaded: str) -> None:
    from tests.estates.conftest import summary

    with TestClient(client_for(loaded)) as client:
        body = client.get("/api/v1/estates/summary/2016-17").json()
        assert client.get("/api/v1/estates/years").json()["years"][-1] == "2016-17"
        assert (
            client.get("/api/v1/estates/organisations/RYJ").json()["years"][0]["year"] == "2013-14"
        )
        assert client.get("/api/v1/estates/summary/2099-00").status_code == 404
    cli_data = summary(loaded, "2016-17")
    assert float(body["london"]["backlog"]["total"]) == float(
        cli_data["london"]["backlog"]["total"]
    )


def test_empty_database_has_a_page(engine: Any) -> None:
    url = engine.url.render_as_string(hide_password=False)
    with TestClient(client_for(url)) as client:
        page = client.get("/estates")
        assert page.status_code == 200 and "No estates returns are loaded yet" in page.text
