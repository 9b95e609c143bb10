"""Imports are all or nothing with row-level errors; exports use GMPP-like columns."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import httpx
import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy.engine import Engine

from healthycity.core.db import transaction
from healthycity.portfolio import exporting, importing, service
from tests.conftest import LiveServer
from tests.workspace.helpers import add_people, app_for, load_london, unit, url_of
from tests.workspace.test_access_matrix import database_state

SPEND_CSV = (
    "programme_slug,month,actual,forecast,note\n"
    "cancer,2015-04,172772.50,,April\n"
    'cancer,2015-05,"£172,772.50",,May\n'
    "mental-health,2015-04,,95703.58,\n"
)


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_spend_imports_from_csv_and_again_idempotently(engine: Engine) -> None:
    load_london(engine)
    for expected in ((3, 0), (0, 3)):
        with unit(engine) as session:
            result = importing.import_file(session, "spend", "spend.csv", SPEND_CSV.encode())
        assert (result.created, result.updated) == expected
    with transaction(engine) as session:
        cancer = service.get_programme(session, "cancer")
        assert service.year_finance(cancer, "2015/16").actual_to_date == Decimal("345545.00")


def test_a_bad_file_is_refused_row_by_row_and_nothing_is_written(engine: Engine) -> None:
    load_london(engine)
    before = database_state(engine)
    bad = (
        "programme_slug,month,actual,forecast,colour\n"
        "cancer,2015-04,lots,,\n"
        "cancer,2015-13,1,,\n"
        "nowhere,2015-06,1,,\n"
    )
    with pytest.raises(importing.ImportRefused) as refused, unit(engine) as session:
        importing.import_file(session, "spend", "spend.csv", bad.encode())
    found = {(e.row, e.column) for e in refused.value.errors}
    assert (1, "colour") in found  # unknown column
    assert (2, "actual") in found  # not an amount
    assert (3, "month") in found  # no thirteenth month
    assert all(e.file == "spend.csv" and e.reason for e in refused.value.errors)
    assert "spend.csv: row 2, column actual:" in str(refused.value.errors[1])
    # Valid rows whose effect breaks a rule are refused at that row too.
    wrong_programme = "programme_slug,month,actual\nnowhere,2015-06,1\ncancer,2015-07,900000\n"
    with pytest.raises(importing.ImportRefused) as refused, unit(engine) as session:
        importing.import_file(session, "spend", "spend.csv", wrong_programme.encode())
    assert {(e.row, e.column) for e in refused.value.errors} == {(2, "programme_slug")}
    variance = "programme_slug,month,actual\ncancer,2015-06,172772.50\ncancer,2015-07,900000\n"
    with pytest.raises(importing.ImportRefused) as refused, unit(engine) as session:
        importing.import_file(session, "spend", "spend.csv", variance.encode())
    assert {(e.row, e.column) for e in refused.value.errors} == {(3, "explanation")}
    assert database_state(engine) == before


def test_programmes_and_pledges_import_from_xlsx(engine: Engine) -> None:
    load_london(engine)
    programmes = _xlsx(
        [
            ["slug", "name", "sro", "whole_life_budget", "start_date"],
            ["healthy-streets", "Healthy Streets", "A. Lead", 250000, "2016-04-01"],
            ["cancer", "Cancer", "Paul Haigh", "2073270.00", None],
        ]
    )
    pledges = _xlsx(
        [
            ["area_slug", "number", "text", "owner", "status", "due_date"],
            [
                "public-health",
                1,
                "Pan-London illegal tobacco enforcement team",
                "GLA",
                "in_progress",
                "2018-12-31",
            ],
        ]
    )
    with unit(engine) as session:
        result = importing.import_file(session, "programmes", "programmes.xlsx", programmes)
        assert (result.created, result.updated) == (1, 1)
        importing.import_file(session, "pledges", "pledges.xlsx", pledges)
    with transaction(engine) as session:
        streets = service.get_programme(session, "healthy-streets")
        assert streets.whole_life_budget == Decimal("250000.00") and streets.sro == "A. Lead"
        rows = exporting.pledge_rows(session)
        assert rows[0][:5] == [
            "public-health",
            1,
            "Pan-London illegal tobacco enforcement team",
            "GLA",
            "in_progress",
        ]
    with pytest.raises(importing.ImportRefused, match="problem"), unit(engine) as session:
        importing.import_file(session, "pledges", "pledges.xlsx", b"not a spreadsheet")


def test_the_gmpp_export(engine: Engine) -> None:
    load_london(engine)
    with unit(engine) as session:
        importing.import_file(session, "spend", "spend.csv", SPEND_CSV.encode())
        rows = exporting.gmpp_rows(session, "2015/16", "Healthy London Partnership")
    body = exporting.to_csv(exporting.GMPP_COLUMNS, rows).decode()
    records = list(csv.DictReader(io.StringIO(body)))
    assert len(records) == 15
    cancer = next(r for r in records if r["Project name"] == "Cancer")
    assert cancer["Senior responsible owner"] == "Paul Haigh"
    assert cancer["Baseline (£)"] == "2073270.00" and cancer["Spend to date (£)"] == "345545.00"
    assert cancer["Variance over 5%"] == "No" and cancer["Financial year"] == "2015/16"
    sheet = load_workbook(
        io.BytesIO(exporting.to_xlsx("GMPP", exporting.GMPP_COLUMNS, rows))
    ).active
    assert sheet is not None and sheet["A1"].value == "Project name" and sheet.max_row == 16
    assert exporting.to_csv(["x"], [["=HYPERLINK(1)"]]).decode().splitlines()[1] == "'=HYPERLINK(1)"


def test_imports_over_the_api_check_each_row_against_the_policy(engine: Engine) -> None:
    load_london(engine)
    tokens = add_people(engine)
    with LiveServer(app_for(url_of(engine))) as server:
        before = database_state(engine)
        lead = {"Authorization": f"Bearer {tokens['programme_lead']}"}
        refused = httpx.post(
            f"{server.url}/api/v1/import/spend?filename=spend.csv",
            content=SPEND_CSV.encode(),
            headers=lead,
        )
        assert refused.status_code == 422
        errors = refused.json()["errors"]
        assert errors == [
            {"file": "spend.csv", "row": 4, "column": "", "reason": errors[0]["reason"]}
        ]
        assert "may not create spend" in errors[0]["reason"]  # mental health is not theirs
        assert database_state(engine) == before
        office = {"Authorization": f"Bearer {tokens['portfolio_office']}"}
        done = httpx.post(
            f"{server.url}/api/v1/import/spend?filename=spend.csv",
            content=SPEND_CSV.encode(),
            headers=office,
        )
        assert done.status_code == 200 and done.json()["created"] == 3
        export = httpx.get(f"{server.url}/api/v1/export/gmpp?format=xlsx", headers=office)
        assert export.status_code == 200 and export.content[:2] == b"PK"
