"""Issue 20 without a browser: the index pages (``/indicators``, ``/areas``) and their
twins, the header's links, the home page's headline figures and counts, real borough
shapes on a fresh database, and an API reference with every parameter described."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from healthycity.core.db import make_engine, session_factory
from healthycity.core.web import api_docs
from healthycity.outcomes import models as m
from healthycity.outcomes.api import openapi_document
from healthycity.web.app import create_app
from tests.conftest import LiveServer, settings_for
from tests.web import test_dashboard_data as shared_data

london_postgres = shared_data.london_postgres
london_sqlite = shared_data.london_sqlite
london_url = shared_data.london_url


@pytest.fixture(scope="module")
def site(london_url: str) -> Iterator[LiveServer]:
    app = create_app(settings_for(london_url))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="module")
def pack_ids(london_url: str) -> list[str]:
    engine = make_engine(london_url)
    with session_factory(engine)() as session:
        ids = list(session.scalars(select(m.Indicator.id).where(m.Indicator.pack_id == "london")))
    engine.dispose()
    return ids


def _get(server: LiveServer, path: str) -> httpx.Response:
    return httpx.get(server.url + path, timeout=60)


def test_indicators_lists_every_pack_indicator_once(site: LiveServer, pack_ids: list[str]) -> None:
    page = _get(site, "/indicators")
    assert page.status_code == 200
    listed = re.findall(r'<a href="/indicators/([^"/?#]+)">', page.text)
    assert sorted(listed) == sorted(pack_ids) and len(listed) == len(set(listed))
    assert "hc-demo-population" not in listed
    assert f"Showing {len(pack_ids)} of {len(pack_ids)} indicators" in page.text
    data = _get(site, "/indicators.json").json()
    assert data["total"] == len(pack_ids) and data["shown"] == len(pack_ids)
    first = data["indicators"][0]
    assert {"london_value", "england_value", "comparison", "recent_trend", "targets"} <= set(first)
    rows = list(csv.DictReader(io.StringIO(_get(site, "/indicators.csv").text)))
    assert sorted(r["indicator_id"] for r in rows) == sorted(pack_ids)


def test_indicators_filter_and_sort_without_javascript(site: LiveServer) -> None:
    some = _get(site, "/indicators.json?aspiration=healthy-start").json()
    assert 0 < some["shown"] < some["total"]
    assert all(
        "healthy, happy start" in r["aspirations_and_commitments"] for r in some["indicators"]
    )
    low = _get(site, "/indicators.json?polarity=low_is_good").json()["indicators"]
    assert low and {r["polarity"] for r in low} == {"low_is_good"}
    named = _get(site, "/indicators.json?sort=name").json()["indicators"]
    assert [r["indicator"].lower() for r in named] == sorted(r["indicator"].lower() for r in named)
    worse = _get(site, "/indicators.json?sort=comparison").json()["indicators"]
    assert worse[0]["comparison"].startswith("Worse")
    both = _get(site, "/indicators.csv?commitment=cut-child-obesity&polarity=low_is_good")
    assert both.status_code == 200
    html = _get(site, "/indicators?aspiration=healthy-start&sort=name").text
    assert '<option value="healthy-start" selected>' in html
    assert 'href="/indicators.csv?aspiration=healthy-start&amp;sort=name"' in html
    for bad in ("sort=random", "polarity=up", "aspiration=nope", "commitment=%00"):
        assert _get(site, f"/indicators?{bad}").status_code == 400


def test_areas_lists_the_city_sub_regions_and_boroughs_with_counts(site: LiveServer) -> None:
    page = _get(site, "/areas")
    assert page.status_code == 200
    rows = list(csv.DictReader(io.StringIO(_get(site, "/areas.csv").text)))
    kinds = [r["type"] for r in rows]
    assert kinds.count("Region") == 1 and rows[0]["area"] == "London"
    assert kinds.count("Sub-region") == 5 and kinds.count("Local authority") == 33
    for row in rows:
        counted = sum(int(row[k]) for k in ("better", "similar", "worse", "not_compared"))
        assert counted == int(row["indicators_with_data"])
        assert f'href="/areas/{row["area_code"]}"' in page.text
    assert sum(int(r["worse"]) for r in rows) > 0
    assert len(_get(site, "/areas.json").json()["areas"]) == 39


def test_compare_and_map_send_the_reader_to_the_right_page(site: LiveServer) -> None:
    for path, target in (
        ("/compare", "/indicators"),
        ("/map", "/indicators"),
        ("/map?indicator=90323", "/indicators/90323#map"),
        ("/compare?indicator=90323", "/indicators/90323#compare"),
    ):
        answer = httpx.get(site.url + path, timeout=30, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].endswith(target)


def test_header_links_indicators_and_areas_and_keeps_search(site: LiveServer) -> None:
    html = _get(site, "/").text
    header = html[html.index("<header") : html.index("</header>")]
    assert re.search(r'href="/indicators"[^>]*>\s*Indicators\s*<', header)
    assert re.search(r'href="/areas"[^>]*>\s*Areas\s*<', header)
    assert 'action="/search"' in header
    assert "Indicators and areas" not in header


def test_home_has_one_search_headlines_and_counts_only_the_pack(
    site: LiveServer, pack_ids: list[str]
) -> None:
    html = _get(site, "/").text
    assert html.count('type="search"') == 1
    assert f"on the partnership's {len(pack_ids)} indicators" in html
    assert html.count('class="hc-spark"') >= 5
    assert re.search(r'<svg class="hc-spark"[^>]*role="img"[^>]*aria-label="Trend: London ', html)
    # The card number sits outside the link: no underlined space before the title.
    card = '<a class="nhsuk-card__link" href="/aspirations/healthy-start">'
    hidden = '<span class="nhsuk-u-visually-hidden">'
    assert f"{card}{hidden}Aspiration </span>{hidden}1: </span>Give" in html


def test_a_fresh_database_draws_real_borough_shapes(london_sqlite: str) -> None:
    """Pack and demo only, no ``load boundaries``: the shipped outlines draw the map,
    with the attribution, and the tile grid stays as a second view."""
    app = create_app(settings_for(london_sqlite))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        html = _get(server, "/indicators/90323").text
        tiles = _get(server, "/indicators/90323/chart-tiles.csv")
    assert "Map of 33 areas" in html
    assert "Open Government Licence v3.0" in html and "Office for National Statistics" in html
    assert "Tile map of 33 areas" in html and "Show as a tile map" in html
    assert tiles.status_code == 200 and len(tiles.text.strip().splitlines()) == 34


def test_shipped_boundaries_cover_the_33_boroughs() -> None:
    from healthycity.outcomes.boundaries import shipped_boundaries

    shapes, attribution = shipped_boundaries()
    assert sorted(shapes) == [f"E09{n:06d}" for n in range(1, 34)]
    assert all(s["type"] in ("Polygon", "MultiPolygon") for s in shapes.values())
    assert "Open Government Licence v3.0" in attribution


# What FastAPI writes when a route says nothing: never a description a developer can use.
GENERIC = {"successful response", "validation error", "not found", "ok", "error", ""}


def _says_something(text: str, name: str = "", least: int = 3) -> bool:
    words = text.strip().rstrip(".").lower()
    return words not in GENERIC and words != name and len(words.split()) >= least


def test_openapi_describes_every_parameter_and_response() -> None:
    """Walk the OpenAPI document: every operation, parameter, response (errors too) and
    response field carries a description that says something, with an example."""
    document = openapi_document()
    problems: list[str] = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            where = f"{method.upper()} {path}"
            if not _says_something(operation.get("summary", ""), least=2):
                problems.append(f"{where}: no summary")
            if not _says_something(operation.get("description", "")):
                problems.append(f"{where}: no description")
            if not operation.get("x-example-calls"):
                problems.append(f"{where}: no example call")
            for parameter in operation.get("parameters", []):
                name = parameter["name"].replace("_", " ").lower()
                text = parameter.get("description") or ""
                if not _says_something(text, name) or len(text.split()) < 4:
                    problems.append(f"{where}: {parameter['name']}: {text!r} says too little")
                if parameter["name"] != "comparison" and not (
                    parameter.get("schema", {}).get("examples") or parameter.get("examples")
                ):
                    problems.append(f"{where}: {parameter['name']} has no example")
            responses = operation.get("responses", {})
            if "200" not in responses:
                problems.append(f"{where}: no 200 response")
            if operation.get("parameters") and "422" not in responses:
                problems.append(f"{where}: takes parameters but lists no 422")
            if "{" in path and "404" not in responses:
                problems.append(f"{where}: names a resource but lists no 404")
            for code, response in responses.items():
                if not _says_something(response.get("description", "")):
                    problems.append(f"{where} {code}: {response.get('description')!r}")
                content = response.get("content", {}).get("application/json", {})
                if "schema" not in content:
                    problems.append(f"{where} {code}: no body schema")
                elif api_docs.sample(content["schema"], document) is None:
                    problems.append(f"{where} {code}: no example body")
    for name, schema in document["components"]["schemas"].items():
        if name in ("HTTPValidationError", "ValidationError"):
            continue
        for field, child in schema.get("properties", {}).items():
            if not _says_something(child.get("description", ""), field.replace("_", " ")):
                problems.append(f"{name}.{field} has no description")
    assert not problems, "\n".join(problems)


def test_every_model_example_is_a_valid_response() -> None:
    """The examples on the reference page are what the API would send: each validates
    against its model, and fills every field."""
    from healthycity.outcomes.api_models import EXAMPLED

    for model in EXAMPLED:
        extra = model.model_config.get("json_schema_extra")
        assert isinstance(extra, dict) and extra.get("examples"), model.__name__
        example = extra["examples"][0]
        model.model_validate(example)
        assert set(example) == set(model.model_fields), model.__name__


def test_every_example_call_answers(site: LiveServer) -> None:
    document = openapi_document()
    calls = [
        call
        for methods in document["paths"].values()
        for operation in methods.values()
        for call in operation.get("x-example-calls", [])
    ]
    assert len(calls) >= len(document["paths"])
    for call in calls:
        answer = _get(site, call)
        assert answer.status_code == 200, f"{call}: {answer.status_code} {answer.text[:200]}"
        body = answer.json()
        assert body if not isinstance(body, dict) else body.get("rows", body), call


def test_api_docs_give_examples_as_links_and_response_examples(site: LiveServer) -> None:
    html = _get(site, "/api/v1/docs").text
    assert (
        '<a href="/api/v1/indicators/90323"><code>GET /api/v1/indicators/90323</code></a>' in html
    )
    assert (
        '<a href="/api/v1/indicators/90323/comparisons?benchmark=E12000007&amp;'
        'comparison=two-levels">' in html
    )
    assert "Example response 200" in html and "Example: <code>healthy-start</code>" in html
    assert "Example response 404" in html and "Example response 422" in html
    assert "Response 404: No indicator has this ID" in html
    assert "Fields of response 200" in html and "<code>as_published</code>" in html
    for generic in ("aspiration: Aspiration", "Successful Response", "Validation Error"):
        assert generic not in html
