"""Issue 12 on the open data API, on SQLite and PostgreSQL: what the pages say about
where a figure comes from, the API says too — a judgement taken from the publisher is
flagged ``as_published`` with the publisher's words, a city or sub-region figure computed
from its boroughs carries ``computed`` and its ``source_note``, and every indicator says
whether its data are published or illustrative. The OpenAPI document describes each.

The data are two small Fingertips files written here with known answers: one with
counts and no London row (London is computed from the four boroughs: the sum of the
counts over the sum of the denominators), one with values and the publisher's
comparison but no intervals (every judgement is as published).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from healthycity.outcomes import fingertips_columns as fc
from healthycity.outcomes.api import openapi_document
from healthycity.outcomes.ingest.fingertips_csv import import_fingertips_csv
from healthycity.web.app import create_app
from tests.conftest import settings_for
from tests.web.test_dashboard_data import (
    BOROUGHS,
    fingertips_csv,
    fingertips_row,
    load_pack_only,
)

COUNTED = "99911"
PUBLISHED = "99912"
# (count, denominator) of each borough in the counted file.
COUNTS = {"E09000007": (30, 400), "E09000012": (45, 500), "E09000022": (52, 600)}
COUNTS["E09000033"] = (21, 350)
PUBLISHED_SAYS = {
    "E09000007": "Better 95%",
    "E09000012": "Worse 95%",
    "E09000022": "Similar",
    "E09000033": "Not compared",
}


def _row(indicator: str, name: str, code: str, **values: Any) -> dict[str, str]:
    borough = code.startswith("E09")
    return fingertips_row(
        **{
            fc.INDICATOR_ID: indicator,
            fc.INDICATOR_NAME: name,
            fc.PARENT_CODE: "E12000007" if borough else "",
            fc.PARENT_NAME: "London" if borough else "",
            fc.AREA_CODE: code,
            fc.AREA_NAME: BOROUGHS.get(code, "England"),
            fc.AREA_TYPE: "Local authority" if borough else "England",
            fc.SEX: "Persons",
            fc.AGE: "All ages",
            fc.TIME_PERIOD: "2019",
            fc.TIME_PERIOD_SORTABLE: 20190000,
            **values,
        }
    )


def write_files(folder: Path) -> list[Path]:
    from healthycity.outcomes.stats.proportion import proportion

    counted = [_row(COUNTED, "Counted widgets", "E92000001", **{fc.VALUE: 9.0})]
    for code, (n, d) in COUNTS.items():
        found = proportion([n], [d], confidence=(0.95, 0.998), multiplier=100)
        counted.append(
            _row(
                COUNTED,
                "Counted widgets",
                code,
                **{
                    fc.VALUE: repr(float(found.value[0])),
                    fc.LOWER_95: repr(float(found.lower[0.95][0])),
                    fc.UPPER_95: repr(float(found.upper[0.95][0])),
                    fc.LOWER_998: repr(float(found.lower[0.998][0])),
                    fc.UPPER_998: repr(float(found.upper[0.998][0])),
                    fc.COUNT: n,
                    fc.DENOMINATOR: d,
                },
            )
        )
    published = [_row(PUBLISHED, "Published gadgets", "E92000001", **{fc.VALUE: 14.4})]
    for i, (code, said) in enumerate(PUBLISHED_SAYS.items()):
        published.append(
            _row(
                PUBLISHED,
                "Published gadgets",
                code,
                **{fc.VALUE: 11.0 + i, fc.COMPARED_TO_ENGLAND: said},
            )
        )
    paths = []
    for name, rows in (("counted.csv", counted), ("published.csv", published)):
        path = folder / name
        path.write_text(fingertips_csv(rows), encoding="utf-8")
        paths.append(path)
    return paths


@pytest.fixture
def client(engine: Engine, tmp_path: Path) -> Iterator[TestClient]:
    from healthycity.outcomes.demo import load_demo

    load_pack_only(engine)
    load_demo(engine)  # illustrative figures for the pack's indicators
    import_fingertips_csv(engine, write_files(tmp_path))
    app = create_app(settings_for(str(engine.url.render_as_string(hide_password=False))))  # type: ignore[arg-type]
    with TestClient(app) as test_client:
        yield test_client


def test_the_api_says_where_each_figure_comes_from(client: TestClient) -> None:
    # London computed from the four boroughs: the sum of counts over denominators.
    london = client.get(f"/api/v1/indicators/{COUNTED}/data", params={"area": "E12000007"})
    assert london.status_code == 200
    (row,) = london.json()["rows"]
    count = sum(n for n, _ in COUNTS.values())
    denominator = sum(d for _, d in COUNTS.values())
    assert row["computed"] is True and row["illustrative"] is False
    assert row["value"] == pytest.approx(100 * count / denominator)
    assert (row["count"], row["denominator"]) == (count, denominator)
    assert row["lower_ci95"] < row["value"] < row["upper_ci95"]
    assert row["source_note"] == "computed from the boroughs (4 of 33)", row["value_note"]
    camden = client.get(f"/api/v1/indicators/{COUNTED}/data", params={"area": "E09000007"})
    assert camden.json()["rows"][0]["computed"] is False
    assert camden.json()["rows"][0]["source_note"] is None

    # Compared with London: the benchmark's figure says it was computed.
    compared = client.get(
        f"/api/v1/indicators/{COUNTED}/comparisons", params={"benchmark": "E12000007"}
    ).json()
    assert compared["benchmark_note"] == "computed from the boroughs (4 of 33)"
    assert compared["published_judgements"] == 0
    assert not any(r["as_published"] for r in compared["rows"])

    # No intervals: the publisher's judgements, flagged and in its own words.
    judged = client.get(f"/api/v1/indicators/{PUBLISHED}/comparisons").json()
    rows = {r["area_code"]: r for r in judged["rows"]}
    for code, said in PUBLISHED_SAYS.items():
        if said == "Not compared":
            assert rows[code]["comparison"] == "not compared"
            assert rows[code]["as_published"] is False
            continue
        word = said.split()[0].lower()
        assert rows[code]["as_published"] is True
        assert rows[code]["comparison"] == word
        assert rows[code]["comparison_label"] == f"{word} (as published)"
        assert rows[code]["published_comparison"] == said
        assert rows[code]["method"] == "as published" and rows[code]["confidence"] is None
    assert judged["published_judgements"] == 3
    assert judged["comparison_method"].startswith("Judgements as published")

    # The area profile carries the same flags for the same indicator.
    profile = client.get("/api/v1/areas/E09000012/profile").json()
    mine = next(r for r in profile if r["indicator_id"] == PUBLISHED)
    assert mine["as_published"] is True and mine["comparison_label"] == "worse (as published)"
    assert mine["published_comparison"] == "Worse 95%"
    counted = next(r for r in profile if r["indicator_id"] == COUNTED)
    assert counted["as_published"] is False and counted["illustrative"] is False

    # Published or illustrative, per indicator and in the status.
    kinds = {i["id"]: i["data_kind"] for i in client.get("/api/v1/indicators").json()}
    assert kinds[COUNTED] == kinds[PUBLISHED] == "published"
    assert kinds["90323"] == "illustrative"
    assert client.get(f"/api/v1/indicators/{PUBLISHED}").json()["data_kind"] == "published"
    status = client.get("/api/v1/status").json()
    assert status["published_indicators"] >= 2
    assert status["indicators"] > status["published_indicators"]


def test_the_openapi_document_describes_the_new_fields() -> None:
    schemas = openapi_document()["components"]["schemas"]
    for model, field, words in (
        ("ComparisonRow", "as_published", "publisher's"),
        ("ComparisonRow", "source_note", "computed from the boroughs"),
        ("ProfileRow", "as_published", "publisher's"),
        ("ObservationOut", "computed", "boroughs"),
        ("IndicatorOut", "data_kind", "illustrative"),
        ("ComparisonsOut", "published_judgements", "as published"),
    ):
        described = schemas[model]["properties"][field].get("description", "")
        assert words in described, f"{model}.{field}: {described!r}"
    kind = schemas["IndicatorOut"]["properties"]["data_kind"]
    assert kind["enum"] == ["published", "illustrative", "no data"]
