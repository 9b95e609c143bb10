"""The open data API: shapes, refusals and CORS on both engines; schemathesis fuzzing
of every operation against the OpenAPI document (SQLite) with no server errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from healthycity.outcomes.api import openapi_document
from healthycity.web.app import create_app
from tests.conftest import LiveServer, settings_for
from tests.web import test_dashboard_data as shared_data

# Session fixtures shared with the other dashboard tests (built once per engine).
london_postgres = shared_data.london_postgres
london_sqlite = shared_data.london_sqlite
london_url = shared_data.london_url


@pytest.fixture(scope="module")
def api(london_url: str) -> Iterator[LiveServer]:
    app = create_app(settings_for(london_url))  # type: ignore[arg-type]
    with LiveServer(app) as server:
        yield server


def _get(server: LiveServer, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.get(server.url + path, timeout=30, **kwargs)


def test_openapi_document_lists_the_resources(api: LiveServer) -> None:
    document = _get(api, "/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.")
    paths = set(document["paths"])
    for path in (
        "/api/v1/indicators",
        "/api/v1/indicators/{indicator_id}",
        "/api/v1/indicators/{indicator_id}/data",
        "/api/v1/indicators/{indicator_id}/comparisons",
        "/api/v1/indicators/{indicator_id}/targets",
        "/api/v1/areas",
        "/api/v1/areas/{area_code}/profile",
    ):
        assert path in paths
    index = _get(api, "/api/v1").json()
    assert index["openapi"] == "/api/v1/openapi.json"


def test_indicators_and_metadata(api: LiveServer) -> None:
    everything = _get(api, "/api/v1/indicators").json()
    assert len(everything) >= 25
    linked = _get(api, "/api/v1/indicators", params={"aspiration": "healthy-start"}).json()
    assert {i["id"] for i in linked} >= {"90631", "90323"}
    one = _get(api, "/api/v1/indicators/90323").json()
    assert one["polarity"] == "low_is_good" and one["targets"]
    assert _get(api, "/api/v1/indicators/nope").status_code == 404


def test_data_comparisons_targets_and_trend(api: LiveServer) -> None:
    data = _get(api, "/api/v1/indicators/90323/data", params={"area": "E09000007"}).json()
    assert data["total"] == 8 and all(r["area_code"] == "E09000007" for r in data["rows"])
    paged = _get(api, "/api/v1/indicators/90323/data", params={"limit": 5, "offset": 5}).json()
    assert len(paged["rows"]) == 5 and paged["total"] > 10
    compared = _get(
        api, "/api/v1/indicators/90323/comparisons", params={"benchmark": "E12000007"}
    ).json()
    assert compared["benchmark"] == "E12000007" and compared["period"]
    outcomes = {r["comparison"] for r in compared["rows"]}
    assert outcomes <= {"better", "similar", "worse", "not compared"}
    assert "better" in outcomes or "worse" in outcomes
    targets = _get(api, "/api/v1/indicators/90323/targets").json()
    assert targets and {t["status"] for t in targets} <= {
        "achieved",
        "on track",
        "off track",
        "not set",
        "not enough data",
    }
    trend = _get(api, "/api/v1/indicators/90323/trend", params={"area": "E09000007"}).json()
    assert trend["points"] == 8
    missing = _get(api, "/api/v1/indicators/90323/comparisons", params={"benchmark": "E99"})
    assert missing.status_code == 404


def test_comparisons_and_profile_take_a_comparison_method(api: LiveServer) -> None:
    path = "/api/v1/indicators/90323/comparisons"
    one = _get(api, path).json()
    two = _get(api, path, params={"comparison": "two-levels"}).json()
    assert one["comparison_method"] == "Compared with England using 95% confidence intervals"
    assert "(two levels)" in two["comparison_method"]
    before = {r["area_code"]: r["comparison"] for r in one["rows"]}
    after = {r["area_code"]: r["comparison"] for r in two["rows"]}
    assert {v.split(" (")[0] for v in after.values()} <= {
        "better",
        "similar",
        "worse",
        "not compared",
    }
    assert all(after[c].split(" (")[0] == before[c] for c in before)
    assert {"better (99.8%)", "worse (95%)"} <= set(after.values())
    strict = _get(api, path, params={"comparison": "99.8"}).json()
    assert {r["confidence"] for r in strict["rows"] if r["method"]} == {0.998}
    assert _get(api, path, params={"comparison": "99.9"}).status_code == 422
    profile = _get(api, "/api/v1/areas/E09000007/profile", params={"comparison": "99.8"}).json()
    assert {r["comparison_method"] for r in profile if r["comparison_method"]} == {
        "benchmark inside the area's confidence interval (99.8%)"
    }
    schema = _get(api, "/api/v1/openapi.json").json()
    params = schema["paths"]["/api/v1/indicators/{indicator_id}/comparisons"]["get"]["parameters"]
    choice = next(p for p in params if p["name"] == "comparison")
    assert "two-levels" in str(choice["schema"]) and "Fingertips" in choice["description"]


def test_areas_profile_and_themes(api: LiveServer) -> None:
    boroughs = _get(api, "/api/v1/areas", params={"type": "local_authority"}).json()
    assert len(boroughs) == 33
    camden = _get(api, "/api/v1/areas/E09000007").json()
    assert camden["name"] == "Camden"
    profile = _get(api, "/api/v1/areas/E09000007/profile").json()
    assert len(profile) >= 20 and all(r["peers"] >= 1 for r in profile)
    assert len(_get(api, "/api/v1/aspirations").json()) == 10
    assert len(_get(api, "/api/v1/commitments").json()) >= 9
    assert _get(api, "/api/v1/aspirations/healthy-start").json()["number"] == 1
    assert _get(api, "/api/v1/areas/E99999999").status_code == 404
    status = _get(api, "/api/v1/status").json()
    assert status["illustrative"] is True


def test_cors_allows_get_from_anywhere(api: LiveServer) -> None:
    origin = {"Origin": "https://example.org"}
    response = _get(api, "/api/v1/indicators", headers=origin)
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = httpx.options(
        api.url + "/api/v1/indicators",
        headers={**origin, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 200
    assert "GET" in preflight.headers["access-control-allow-methods"]
    refused = httpx.options(
        api.url + "/api/v1/indicators",
        headers={**origin, "Access-Control-Request-Method": "DELETE"},
    )
    assert refused.status_code == 400
    page = _get(api, "/indicators/90323", headers=origin)
    assert "access-control-allow-origin" not in page.headers


def test_docs_page_is_server_rendered_without_scripts_from_elsewhere(api: LiveServer) -> None:
    html = _get(api, "/api/v1/docs").text
    assert "<h1>Open data API</h1>" in html
    assert "GET /api/v1/indicators/{indicator_id}/comparisons" in html
    assert "https://cdn" not in html and "unpkg" not in html


@pytest.fixture(scope="module")
def api_app(london_sqlite: str) -> Any:
    return create_app(settings_for(london_sqlite))  # type: ignore[arg-type]


# The document is static (generated from the routes), so the schema is loaded at import
# and each generated case is sent to the app of the demo database through ASGI.
schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_api_never_answers_with_a_server_error(case: Any, api_app: Any) -> None:
    case.call_and_validate(app=api_app)
