"""Issue 20's chart details without a browser: the area page's spine chart prints each
row's figures (the area's value, the benchmark's, the range) beside the row, every
label is whole (no "…" anywhere in a rendered chart), legends list only what is drawn,
and the heat map numbers its columns with the names in full in a key beneath."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from healthycity.outcomes import chart_specs as cs
from healthycity.web.app import create_app
from tests.conftest import LiveServer, settings_for
from tests.web import test_dashboard_data as shared_data

london_sqlite = shared_data.london_sqlite


@pytest.fixture(scope="module")
def site(london_sqlite: str) -> Iterator[LiveServer]:
    app = create_app(settings_for(london_sqlite))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


def _get(server: LiveServer, path: str) -> httpx.Response:
    answer = httpx.get(server.url + path, timeout=120)
    assert answer.status_code == 200, path
    return answer


def _chart(url: str, build: Any, name: str) -> dict[str, Any]:
    """The spec of chart ``name`` of the page ``build(session, cache)`` makes."""
    from healthycity.core.db import make_engine, session_factory
    from healthycity.outcomes import dashboard as d

    engine = make_engine(url)
    try:
        with session_factory(engine)() as session:
            page = build(session, d.PageCache())
    finally:
        engine.dispose()
    charts = [*getattr(page, "charts", []), getattr(page, "heat_map", None)]
    spec: dict[str, Any] = next(c.spec for c in charts if c is not None and c.name == name)
    return spec


def test_spine_rows_carry_the_areas_value_the_benchmark_and_the_range(
    site: LiveServer, london_sqlite: str
) -> None:
    from healthycity.outcomes import dashboard as d

    page = _get(site, "/areas/E09000030.json?benchmark=london").json()
    choice = d.IndicatorQuery.parse(benchmark="london")
    spec = _chart(
        london_sqlite,
        lambda session, cache: d.area_page(session, cache, "E09000030", choice),
        "spine",
    )
    spine, figures = spec["hconcat"]
    headings = figures["encoding"]["x"]["axis"]["labelExpr"]
    assert '"Tower Hamlets"' in headings and '"London"' in headings and '"Range"' in headings
    printed = figures["data"]["values"]
    by_row: dict[str, dict[str, str]] = {}
    for cell in printed:
        by_row.setdefault(cell["label"], {})[cell["column"]] = cell["text"]
    assert len(by_row) == len(spec["data"]["values"]) >= 20
    number = re.compile(r"-?[\d,]+(?:\.\d+)?")
    for row in page["indicators"]:
        label = "\n".join(cs.wrap_words(row["indicator"], 44))
        if label not in by_row:
            continue  # no range across peers: in the table, not on the spine
        mine = by_row[label]
        assert mine["a"] == number.search(row["value"]).group()  # type: ignore[union-attr]
        assert mine["b"] == number.search(row["benchmark_value"]).group()  # type: ignore[union-attr]
        assert mine["c"] == f"{row['lowest_peer']} to {row['highest_peer']}"
    # Whole labels: wrapped, never limited; rows tall enough for their lines.
    axis = spine["layer"][0]["encoding"]["y"]["axis"]
    assert axis["labelLimit"] == 0 and "split" in axis["labelExpr"]
    lines = max(label.count("\n") + 1 for label in by_row)
    assert spine["height"]["step"] >= 14 * lines
    legend = spine["layer"][3]["encoding"]["color"]["legend"]
    assert legend["titleLimit"] == 0 and isinstance(legend["title"], list)


def test_no_chart_label_is_cut_short(site: LiveServer) -> None:
    for path in (
        "/areas/E09000030",
        "/areas/E54000027",
        "/aspirations/healthy-start",
        "/commitments/cut-child-obesity",
        "/indicators/90323?comparison=two-levels",
        "/inequalities",
    ):
        html = _get(site, path).text
        svgs = re.findall(r'<div class="hc-chart">(.*?)</svg>', html, re.S)
        assert svgs, path
        texts = [t for svg in svgs for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]
        cut = [t for t in texts if t.rstrip().endswith(("…", "..."))]
        assert not cut, f"{path}: {cut}"


def test_the_heat_map_numbers_its_columns_and_keys_them_in_full(
    site: LiveServer, london_sqlite: str
) -> None:
    from healthycity.outcomes import dashboard as d

    spec = _chart(
        london_sqlite,
        lambda session, cache: d.aspiration(session, cache, "healthy-start"),
        "heat-map",
    )
    grid, key = spec["vconcat"]
    columns = grid["encoding"]["x"]["sort"]
    assert columns == [str(n) for n in range(1, len(columns) + 1)]
    written = " ".join(line["text"] for line in key["data"]["values"])
    twin = _get(site, "/aspirations/healthy-start/chart-heat-map.csv").text
    names = {row["indicator"] for row in csv.DictReader(io.StringIO(twin))}
    assert len(names) == len(columns)
    for name in names:
        assert " ".join(cs.wrap_words(name, 1000)) in written, name


def test_legends_list_only_the_outcomes_drawn() -> None:
    assert cs.legend_domain(["better", "worse", "better"]) == ["better", "worse"]
    assert cs.legend_domain(["similar", "not compared"]) == ["similar", "not compared"]
    assert cs.legend_domain(["higher (95%)", "similar"]) == ["similar", "higher (95%)"]
    assert cs.legend_domain(["better", "odd"]) == ["better", "odd"]
    assert cs.legend_domain([]) == []
