"""The Fingertips API importer against a real loopback HTTP server serving recorded
responses this test writes: caching, retries with backoff, timeouts, the parent filter,
metadata, and the ``load fingertips --indicator`` command end to end.
"""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

import pytest
import typer
from sqlalchemy import select
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from typer.testing import CliRunner

from healthycity.cli import app as root_app
from healthycity.core.db import transaction
from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes import models as m
from healthycity.outcomes.cli import register
from healthycity.outcomes.ingest.fingertips_api import (
    ClientOptions,
    FingertipsApiError,
    FingertipsClient,
    import_fingertips_api,
)
from tests.conftest import LiveServer


def outcomes_cli() -> typer.Typer:
    """The root app with the outcomes commands (registered here until the lead wires them)."""
    if not any(group.name == "load" for group in root_app.registered_groups):
        register(root_app)
    return root_app


INDICATOR = "93088"
NAME = "Percentage of physically active adults"


def fingertips_text() -> str:
    """A recorded ``all_data/csv`` response: England, London, 2 boroughs, 1 elsewhere."""
    rows = [
        ("", "", "E92000001", "England", "England", "66.4", "Not compared"),
        ("E92000001", "England", "E12000007", "London region", "Region", "65.1", "Worse"),
        ("E12000007", "London region", "E09000007", "Camden", "UA", "70.2", "Better"),
        ("E12000007", "London region", "E09000025", "Newham", "UA", "55.0", "Worse"),
        ("E12000002", "North West region", "E08000009", "Trafford", "UA", "68.0", "Similar"),
    ]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(fc.COLUMNS)
    for parent, parent_name, code, name, area_type, value, england in rows:
        record = {c: "" for c in fc.COLUMNS}
        record.update(
            {
                fc.INDICATOR_ID: INDICATOR,
                fc.INDICATOR_NAME: NAME,
                fc.PARENT_CODE: parent,
                fc.PARENT_NAME: parent_name,
                fc.AREA_CODE: code,
                fc.AREA_NAME: name,
                fc.AREA_TYPE: area_type,
                fc.SEX: "Persons",
                fc.AGE: "19+ yrs",
                fc.TIME_PERIOD: "2018/19",
                fc.VALUE: value,
                fc.COMPARED_TO_ENGLAND: england,
                fc.TIME_PERIOD_SORTABLE: "20180000",
            }
        )
        writer.writerow([record[c] for c in fc.COLUMNS])
    return out.getvalue()


METADATA = (
    "Indicator ID,Indicator,Definition,Rationale,Data source,Methodology,"
    "Unit,Value type,Polarity,Caveats,Frequency,Copyright\n"
    f'{INDICATOR},"{NAME}","The percentage of adults doing 150+ minutes a week.",'
    '"Activity protects health.","Active Lives Survey","Weighted survey estimate.",'
    '%,Proportion,RAG - High is good,"Survey, so sampling error.",Annual,© Sport England\n'
)


class FakeFingertips:
    """A tiny Starlette app standing in for fingertips.phe.org.uk/api."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.failures = 0  # answer 503 this many times first
        self.delay = 0.0
        self.app = Starlette(
            routes=[
                Route("/api/all_data/csv/by_indicator_id", self.data),
                Route("/api/indicator_metadata/csv/by_indicator_id", self.metadata),
            ]
        )

    async def _answer(self, request: Request, body: str) -> Response:
        self.requests.append((request.url.path, dict(request.query_params)))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            return PlainTextResponse("busy", status_code=503)
        return PlainTextResponse(body, media_type="text/csv")

    async def data(self, request: Request) -> Response:
        if request.query_params.get("indicator_ids") != INDICATOR:
            self.requests.append((request.url.path, dict(request.query_params)))
            return PlainTextResponse("no such indicator", status_code=404)
        return await self._answer(request, fingertips_text())

    async def metadata(self, request: Request) -> Response:
        return await self._answer(request, METADATA)


@pytest.fixture
def fake() -> Any:
    server = FakeFingertips()
    with LiveServer(server.app) as live:
        server.base_url = f"{live.url}/api"  # type: ignore[attr-defined]
        yield server


def client(fake: Any, tmp_path: Path, **options: Any) -> FingertipsClient:
    settings = {"base_url": fake.base_url, "cache_dir": tmp_path / "cache", "backoff": 0.0}
    settings.update(options)
    return FingertipsClient(ClientOptions(**settings))


def test_fetch_import_cache_and_parent_filter(engine: Engine, fake: Any, tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    with client(fake, tmp_path) as api:
        result, warnings = import_fingertips_api(
            engine,
            api,
            [INDICATOR],
            parent_code="E12000007",
            progress=lambda label, size, total: seen.append((label, size)),
        )
    assert warnings == []
    assert (result.rows, result.inserted) == (4, 4)  # Trafford filtered out
    path, params = fake.requests[0]
    assert path == "/api/all_data/csv/by_indicator_id"
    assert params == {
        "indicator_ids": INDICATOR,
        "child_area_type_id": "402",
        "parent_area_type_id": "6",
        "include_sortable_time_periods": "yes",
        "parent_area_code": "E12000007",
    }
    assert {label for label, _ in seen} == {f"indicator {INDICATOR}", "metadata"}
    assert sum(size for label, size in seen if label != "metadata") == len(
        fingertips_text().encode()
    )
    with transaction(engine) as session:
        codes = set(session.scalars(select(m.Observation.area_code)))
        assert codes == {"E92000001", "E12000007", "E09000007", "E09000025"}
        indicator = session.get(m.Indicator, INDICATOR)
        assert indicator is not None
        assert indicator.definition == "The percentage of adults doing 150+ minutes a week."
        assert (indicator.value_type, indicator.polarity, indicator.unit) == (
            m.PROPORTION,
            m.HIGH_IS_GOOD,
            "%",
        )
        assert indicator.caveats == "Survey, so sampling error."
        assert indicator.extra == {"Copyright": "© Sport England"}
        release = session.scalars(select(m.DataRelease)).one()
        assert release.location is not None and "indicator_ids=93088" in release.location

    # Cached: a second import makes no request and changes nothing.
    before = len(fake.requests)
    with client(fake, tmp_path) as api:
        again, _ = import_fingertips_api(engine, api, [INDICATOR], parent_code="E12000007")
    assert len(fake.requests) == before and not again.changed
    # --refresh goes back to the server.
    with client(fake, tmp_path, refresh=True) as api:
        import_fingertips_api(engine, api, [INDICATOR], parent_code="E12000007")
    assert len(fake.requests) == before + 2


def test_transient_failures_are_retried_with_backoff(fake: Any, tmp_path: Path) -> None:
    fake.failures = 2
    waits: list[float] = []
    options = ClientOptions(
        base_url=fake.base_url, cache_dir=tmp_path / "cache", retries=3, backoff=0.5
    )
    with FingertipsClient(options, sleep=waits.append) as api:
        path = api.indicator_data(INDICATOR)
    assert path.read_bytes() == fingertips_text().encode()
    assert len(fake.requests) == 3
    assert waits == [0.5, 1.0]


def test_gives_up_after_the_retries(fake: Any, tmp_path: Path) -> None:
    fake.failures = 10
    with client(fake, tmp_path, retries=2) as api, pytest.raises(FingertipsApiError) as caught:
        api.indicator_data(INDICATOR)
    assert "HTTP 503 after 3 attempts" in str(caught.value)
    assert not list((tmp_path / "cache").rglob("*.csv"))


def test_timeout_is_reported(fake: Any, tmp_path: Path) -> None:
    fake.delay = 1.0
    with (
        client(fake, tmp_path, retries=1, timeout=0.2) as api,
        pytest.raises(FingertipsApiError) as caught,
    ):
        api.indicator_data(INDICATOR)
    assert "timed out" in str(caught.value) and len(fake.requests) == 2


def test_unknown_indicator_is_not_retried(fake: Any, tmp_path: Path) -> None:
    with client(fake, tmp_path) as api, pytest.raises(FingertipsApiError) as caught:
        api.indicator_data("1")
    assert "HTTP 404" in str(caught.value) and len(fake.requests) == 1


def test_load_fingertips_command_end_to_end(
    engine: Engine, database_url: str, fake: Any, tmp_path: Path
) -> None:
    runner = CliRunner()
    cli_app = outcomes_cli()
    args = [
        "--database",
        database_url,
        "load",
        "fingertips",
        "--indicator",
        INDICATOR,
        "--parent",
        "E12000007",
        "--base-url",
        fake.base_url,
        "--cache-dir",
        str(tmp_path / "cache"),
    ]
    result = runner.invoke(cli_app, args)
    assert result.exit_code == 0, result.output
    assert "4 inserted" in result.output
    again = runner.invoke(cli_app, args)
    assert again.exit_code == 0 and "nothing changed" in again.output
    missing = runner.invoke(cli_app, [*args[:5], "1", *args[6:]])
    assert missing.exit_code == 1
    assert "HTTP 404" in missing.output
