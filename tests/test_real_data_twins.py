"""Issue 12 over HTTP: the pages, their ``.json``/``.csv`` twins and the funnel plot's
downloads say what kind of figures they show, and the cached page is byte for byte the
uncached render. One SQLite database per module: the London pack, the real smoking file
(published judgements, no counts) and a file with counts and a London row (funnel)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from healthycity.core.db import make_engine
from healthycity.core.migrate import upgrade
from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv
from healthycity.outcomes.ingest.long_format import import_long_file
from healthycity.web.app import create_app
from tests.conftest import SHARED, settings_for
from tests.web.test_dashboard_data import load_pack_only, new_indicator_file

SMOKING_FILE = SHARED / "data" / "fingertips" / "trafford_dashboard" / "smoking_adults.csv"
PATHS = [
    "/",
    "/index.json",
    "/indicators/92443",
    "/indicators/92443.json",
    "/indicators/99901?benchmark=london",
    "/indicators/99901.json?benchmark=london",
    "/indicators/99901/chart-funnel.csv?benchmark=london",
    "/indicators/99901/chart-funnel.vl.json",
    "/aspirations/unhealthy-habits",
    "/aspirations/unhealthy-habits.csv",
    "/areas/E09000007",
]


def build_real(folder: Path) -> str:
    url = f"sqlite:///{folder / 'real.db'}"
    engine = make_engine(url)
    upgrade(engine)
    load_pack_only(engine)
    import_long_file(engine, SMOKING_FILE, "92443")
    import_fingertips_csv(engine, [new_indicator_file(folder / "pigeons.csv")])
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def real_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    if not SMOKING_FILE.is_file():
        pytest.skip(f"shared reference data not found at {SMOKING_FILE}")
    return build_real(tmp_path_factory.mktemp("real"))


def _get_all(app: Any, paths: list[str]) -> list[httpx.Response]:
    async def fetch() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://site.local") as c:
            return [await c.get(p, headers={"accept-encoding": "identity"}) for p in paths]

    return asyncio.run(fetch())


@pytest.fixture(scope="module")
def answers(real_url: str) -> Iterator[dict[str, httpx.Response]]:
    app = create_app(settings_for(real_url))  # type: ignore[arg-type]
    yield dict(zip(PATHS, _get_all(app, PATHS), strict=True))


def test_cached_pages_are_byte_for_byte_the_uncached_render(
    real_url: str, answers: dict[str, httpx.Response]
) -> None:
    plain = create_app(settings_for(real_url, page_cache=False))  # type: ignore[arg-type]
    cached = create_app(settings_for(real_url))  # type: ignore[arg-type]
    uncached = _get_all(plain, PATHS)
    again = _get_all(cached, PATHS)
    for path, a, b in zip(PATHS, uncached, again, strict=True):
        assert a.status_code == 200, (path, a.text[:300])
        assert a.content == b.content == answers[path].content, path


def test_indicator_page_and_twins_say_published_and_why(
    answers: dict[str, httpx.Response],
) -> None:
    html = answers["/indicators/92443"].text
    assert "These are published figures" in html
    assert "Worse than England (as published)" in html
    assert "No figure for London: the data have no London row" in html
    assert "Not tested: London has no figure in any period" in html
    assert "No funnel plot: it needs every area&#39;s count and denominator" in html
    assert "Illustrative data" not in html
    body = answers["/indicators/92443.json"].json()
    assert body["data"] == "published" and body["illustrative"] is False
    assert body["city_missing"].startswith("no figure for London")
    assert body["recent_trend_method"] == "Not tested: London has no figure in any period"
    assert body["disagreements"] == []
    judged = [a for a in body["areas"] if a["comparison"].endswith("(as published)")]
    assert len(judged) == 32
    assert {a["source"] for a in body["areas"]} == {"published"}
    map_rows = body["charts"]["map"]["data"]
    assert sum(r["comparison"].endswith("(as published)") for r in map_rows) == 32
    target = next(t for t in body["targets"] if t["status"] == "not enough data")
    assert "no counts and denominators" in target["method"]


def test_banner_counts_the_real_indicators(answers: dict[str, httpx.Response]) -> None:
    home = answers["/"].text
    body = answers["/index.json"].json()
    assert body["real_data"].startswith("2 of ")
    assert f'<p class="nhsuk-body-s hc-data-note">{body["real_data"]}.</p>' in home
    assert "1 with figures for its areas only (1 judged as published)" in (
        answers["/aspirations/unhealthy-habits"].text
    )
    rows = list(csv.DictReader(io.StringIO(answers["/aspirations/unhealthy-habits.csv"].text)))
    smoking = next(r for r in rows if r["indicator_id"] == "92443")
    assert smoking["areas_judged_as_published"] == "32" and smoking["data"] == "published"


def test_funnel_plot_and_its_table_twin(answers: dict[str, httpx.Response]) -> None:
    html = answers["/indicators/99901?benchmark=london"].text
    assert '<h2 id="funnel">Funnel plot</h2>' in html
    assert "with 95% and 99.8% control limits around London" in html
    rows = list(
        csv.DictReader(
            io.StringIO(answers["/indicators/99901/chart-funnel.csv?benchmark=london"].text)
        )
    )
    assert [r["area"] for r in rows] == ["Camden", "Hackney", "Lambeth", "Westminster"]
    assert {r["centre"] for r in rows} == {"London"}
    for r in rows:
        assert float(r["lower_99_8"]) < float(r["lower_95"]) < float(r["upper_95"])
        assert float(r["upper_95"]) < float(r["upper_99_8"])
        assert r["position"]
    body = answers["/indicators/99901.json?benchmark=london"].json()
    assert body["charts"]["funnel"]["data"][0]["area"] == "Camden"
    spec = answers["/indicators/99901/chart-funnel.vl.json"].json()
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/")
    assert len(spec["layer"]) == 3
