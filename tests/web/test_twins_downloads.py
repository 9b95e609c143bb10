"""Twins for signed-in pages: no-store, further tables by name, money as text, and CSV
cells that a spreadsheet would run as formulas written as text instead."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import httpx
from fastapi import APIRouter, FastAPI, Request

from healthycity.core.web.twins import Page, Table, csv_safe, money, twin_routes
from tests.conftest import LiveServer


def test_formula_cells_are_written_as_text_and_numbers_are_not() -> None:
    for text in ("=1+2", "+44 20 7946 0000", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "-"):
        assert csv_safe(text) == "'" + text
    for value in ("-12.50", "+3", "-1e5", ".5", "plain", "", "a=b", 0, -3, Decimal("-1.00")):
        assert csv_safe(value) == value
    assert csv_safe(None) == ""
    written = Table(["a", "b"], [["=cmd|' /C calc'!A0", Decimal("-4.20")]]).to_csv()
    assert list(csv.reader(io.StringIO(written))) == [
        ["a", "b"],
        ["'=cmd|' /C calc'!A0", "-4.20"],
    ]


def test_money_is_pounds_and_pence_as_text() -> None:
    assert money(Decimal("1200000")) == "1200000.00"
    assert money(Decimal("1E+6")) == "1000000.00"
    assert money(Decimal("0.005")) == "0.01"
    assert money(Decimal("-41234.565")) == "-41234.57"
    assert money(12) == "12.00"
    assert money(None) is None


def _app() -> FastAPI:
    router = APIRouter()

    @twin_routes(router, "/private/{key}", private=True)
    def private(request: Request, key: str) -> Page:
        return Page(
            "error.html",
            "Private",
            context={"message": key},
            table=Table(["key"], [[key]]),
            tables={"extra": Table(["n"], [[1], [2]])},
            filename=f"private-{key}",
        )

    @twin_routes(router, "/public")
    def public(request: Request) -> Page:
        return Page("error.html", "Public", context={"message": "hi"}, table=Table(["x"], []))

    app = FastAPI()
    app.include_router(router)
    return app


def test_private_pages_and_their_twins_are_not_stored_and_tables_are_named() -> None:
    with LiveServer(_app()) as server:
        answers = [httpx.get(f"{server.url}/private/k{s}") for s in ("", ".json", ".csv")]
        extra = httpx.get(f"{server.url}/private/k.csv", params={"table": "extra"})
        missing = httpx.get(f"{server.url}/private/k.csv", params={"table": "nope"})
        public = httpx.get(f"{server.url}/public.csv")
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert {a.headers.get("cache-control") for a in answers} == {"private, no-store"}
    assert answers[1].json() == [{"key": "k"}]
    assert extra.text == "n\n1\n2\n"
    assert 'filename="private-k-extra.csv"' in extra.headers["content-disposition"]
    assert missing.status_code == 404
    assert "cache-control" not in public.headers
