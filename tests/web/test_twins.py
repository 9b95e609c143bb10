"""Page twins: the same path with .json and .csv, and ids that contain no suffix."""

from __future__ import annotations

import csv
import io

import httpx
from fastapi import APIRouter, FastAPI, Request

from healthycity.core.web.security import SecurityHeaders
from healthycity.core.web.twins import Page, Table, twin_routes
from tests.conftest import LiveServer


def _app() -> FastAPI:
    router = APIRouter()

    @twin_routes(router, "/things/{thing_id}")
    def thing(request: Request, thing_id: str) -> Page:
        table = Table(columns=["id", "note"], rows=[[thing_id, 'quote " and, comma'], [2, None]])
        return Page(
            template="error.html",
            title=f"Thing {thing_id}",
            context={"message": "<b>escaped</b>"},
            data={"id": thing_id},
            table=table,
            filename=f"thing-{thing_id}",
        )

    app = FastAPI()
    app.add_middleware(SecurityHeaders)
    app.include_router(router)
    return app


def test_html_json_and_csv_twins() -> None:
    with LiveServer(_app()) as server:
        page = httpx.get(f"{server.url}/things/93356")
        data = httpx.get(f"{server.url}/things/93356.json")
        table = httpx.get(f"{server.url}/things/93356.csv")
    assert page.status_code == 200
    assert "Thing 93356 – healthycity" in page.text
    assert "&lt;b&gt;escaped&lt;/b&gt;" in page.text
    assert data.json() == {"id": "93356"}
    assert table.headers["content-type"].startswith("text/csv")
    assert 'filename="thing-93356.csv"' in table.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(table.text)))
    assert rows == [["id", "note"], ["93356", 'quote " and, comma'], ["2", ""]]
