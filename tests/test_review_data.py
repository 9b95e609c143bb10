"""The annual strategic review on the demo data, on SQLite and PostgreSQL: every number
in its JSON twin equals the open data API's for that indicator, the command line writes
it (and refuses a year without data), its pages and twins answer without a sign-in, and
the foreword is versioned, audited and the portfolio office's to write."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from healthycity.core.audit import Actor, acting_as, history
from healthycity.core.db import make_engine, transaction
from healthycity.core.errors import Invalid
from healthycity.reports import review, review_texts
from tests.web.test_dashboard_data import (  # noqa: F401 - fixtures
    london_postgres,
    london_sqlite,
    london_url,
)
from tests.workspace.helpers import add_people, app_for, cli_for, url_of

CITY = "E12000007"


@pytest.fixture(scope="module")
def client(london_url: str) -> TestClient:  # noqa: F811 - the imported fixture
    return TestClient(app_for(london_url))


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _check_year(client: TestClient, year: int, latest: bool) -> int:
    """Walk the review's JSON twin; check every figure against the indicator's API."""
    data = client.get(f"/review/{year}.json").json()
    checked = 0
    for indicator_id, figure in data["figures"].items():
        if figure["period"] is None:
            assert figure["missing"], indicator_id
            continue
        api = client.get(
            f"/api/v1/indicators/{indicator_id}/comparisons",
            params={"period": figure["period"]},
        ).json()
        rows = {r["area_code"]: r for r in api["rows"]}
        where = f"{indicator_id} {figure['period']}"
        assert api["period"] == figure["period"], where
        assert _same(api["benchmark_value"], figure["england"]), where
        mine = rows.get(CITY)
        if figure["value"] is None:  # the areas have figures, the city none: said why
            assert mine is None or mine["value"] is None, where
            assert figure["missing"], where
        else:
            assert mine is not None, where
            assert _same(mine["value"], figure["value"]), where
            assert _same(mine["lower_ci95"], figure["lower95"]), where
            assert _same(mine["upper_ci95"], figure["upper95"]), where
            assert (figure["comparison"] or "not compared").split(" (")[0] == mine["comparison"]
        boroughs = [r["value"] for c, r in rows.items() if c.startswith("E09") and r["value"]]
        variation = figure["variation"]
        if boroughs:
            assert variation["boroughs"] == len(boroughs), where
            assert _same(variation["lowest"]["value"], min(boroughs)), where
            assert _same(variation["highest"]["value"], max(boroughs)), where
            if mine is not None and mine["value"] is not None:
                further = [a["value"] for a in variation["furthest"]]
                gaps = sorted((abs(v - mine["value"]) for v in boroughs), reverse=True)
                assert [abs(v - mine["value"]) for v in further] == pytest.approx(gaps[:3])
        for sub in variation["sub_regions"] if variation else []:
            assert _same(rows[sub["code"]]["value"], sub["value"]), where
        if latest and figure["new_data"] and figure["value"] is not None:
            trend = client.get(f"/api/v1/indicators/{indicator_id}/trend").json()
            assert trend["outcome"] == figure["trend"], where
            targets = client.get(f"/api/v1/indicators/{indicator_id}/targets").json()
            assert [t["status"] for t in targets] == [t["status"] for t in figure["targets"]]
            assert [t["target_value"] for t in targets] == pytest.approx(
                [t["target_value"] for t in figure["targets"]]
            ), where
        checked += 1
    return checked


def test_every_number_in_the_review_equals_the_indicator_api(client: TestClient) -> None:
    years = [r["year"] for r in client.get("/review.json").json()["reviews"]]
    assert years[0] == max(years) and len(years) >= 2
    assert _check_year(client, years[0], latest=True) >= 35
    assert _check_year(client, years[2], latest=False) >= 30


def test_the_review_covers_every_aspiration_and_commitment(client: TestClient) -> None:
    data = client.get("/review/2019.json").json()
    assert [a["number"] for a in data["aspirations"]] == list(range(1, 11))
    assert all(a["indicators"] for a in data["aspirations"])
    assert len(data["commitments"]) == 9 and all(c["indicators"] for c in data["commitments"])
    summary = data["summary"]
    assert summary["headline"]["test"].startswith("Fingertips' comparison")
    for section in summary["sections"]:
        assert section["sentences"], section["key"]
        assert all(s["test"] for s in section["sentences"]), section["key"]
    better = [s["text"] for s in summary["sections"][0]["sentences"]]
    improved = [
        f for f in data["figures"].values() if (f["change"] or {}).get("outcome") == ("improved")
    ]
    assert len(better) == min(4, len(improved)) and all(
        t.startswith("improved from ") for t in better
    )
    assert all(f["change"]["p"] < 0.05 for f in improved)
    delivery = data["delivery"]
    assert delivery["pledges_agreed"] == 54 and len(delivery["pilots"]) == 5
    assert delivery["budget"] == "15525236.00"
    cities = {m["slug"]: m for m in data["global_cities"]}
    assert set(cities) == {"infant-mortality", "life-expectancy-at-birth", "suicide-rate"}
    assert cities["life-expectancy-at-birth"]["values"][0]["city"] == "London"
    assert [
        "Hong Kong",
        "No comparable figure: China (Hong Kong SAR) is not in this OECD series.",
    ] in cities["life-expectancy-at-birth"]["gaps"]


def test_the_pages_and_twins_answer_without_a_sign_in(client: TestClient) -> None:
    listing = client.get("/review")
    assert listing.status_code == 200 and 'href="/review/2019"' in listing.text
    page = client.get("/review/2019")
    assert page.status_code == 200
    for text in (
        'href="/review/2019.csv"',
        'href="/review/2019.json"',
        "table=cities",
        "The year in two minutes",
        "OECD (2023), Suicide rates (indicator)",
        'href="/indicators/90323"',
        "Hong Kong: No comparable figure",
    ):
        assert text in page.text, text
    csv = client.get("/review/2019.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    data = client.get("/review/2019.json").json()
    themed = sum(len(t["indicators"]) for t in data["aspirations"] + data["commitments"])
    assert len(csv.text.strip().splitlines()) == themed + 1
    cities = client.get("/review/2019.csv", params={"table": "cities"}).text
    assert "London,United Kingdom,81.4" in cities
    missing = client.get("/review/1999")
    assert missing.status_code == 404
    assert "There is no review for 1999" in missing.text and "2019" in missing.text


def test_the_command_line_writes_the_review_and_refuses_a_year_without_data(
    london_url: str,  # noqa: F811 - the imported fixture
    tmp_path: Path,
) -> None:
    out = tmp_path / "review.html"
    runner = CliRunner()
    args = ["--database", london_url, "report", "annual", "--year", "2019"]
    result = runner.invoke(cli_for(london_url), [*args, "--format", "html", "--output", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert '<html lang="en-GB">' in html and "Annual strategic review 2019" in html
    with Session(make_engine(london_url)) as session:
        from healthycity.outcomes import queries as q

        titles = [a.title for a in q.aspirations(session)]
    assert len(titles) == 10 and all(str(escape(t)) in html for t in titles)
    refused = runner.invoke(
        cli_for(london_url),
        [
            "--database",
            london_url,
            "report",
            "annual",
            "--year",
            "1999",
            "--output",
            str(tmp_path / "x.html"),
        ],
    )
    assert refused.exit_code == 1 and not (tmp_path / "x.html").exists()
    assert "There is no review for 1999" in refused.output


def test_an_empty_database_has_no_review_and_says_so(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(review.NoReview, match="no data are loaded"):
        review.build(session, 2019)
    page = TestClient(app_for(url_of(engine))).get("/review")
    assert "There are no reviews yet" in page.text


def test_the_foreword_is_versioned_audited_and_the_portfolio_offices(engine: Engine) -> None:
    tokens = add_people(engine)
    writer = Actor("office@example.org")
    with transaction(engine) as session, acting_as(session, writer):
        first = review_texts.save(session, 2019, "foreword", "A year of work.", "office")
    with transaction(engine) as session, acting_as(session, writer):
        second = review_texts.save(session, 2019, "foreword", "A year of work.\n\nMore.", "o")
        with pytest.raises(Invalid, match="unchanged"):
            review_texts.save(session, 2019, "foreword", "A year of work.\n\nMore.", "o")
    assert (first.version, second.version) == (1, 2)
    with Session(engine) as session:
        latest = review_texts.latest(session, 2019, "foreword")
        assert latest is not None and latest.paragraphs == ["A year of work.", "More."]
        trail = history(session, "review_text", str(second.id))
        assert [r.action for r in trail] == ["create"] and trail[0].actor == writer.label
    client = TestClient(app_for(url_of(engine)))
    office = {"Authorization": f"Bearer {tokens['portfolio_office']}"}
    saved = client.post(
        "/workspace/review/2019", data={"kind": "commentary", "body": "Notes."}, headers=office
    )
    assert saved.status_code == 200 and "Commentary saved as version 1" in saved.text
    blank = client.post(
        "/workspace/review/2019", data={"kind": "commentary", "body": " "}, headers=office
    )
    assert blank.status_code == 422 and "Enter the commentary" in blank.text
    lead = {"Authorization": f"Bearer {tokens['programme_lead']}"}
    refused = client.post(
        "/workspace/review/2019", data={"kind": "foreword", "body": "x"}, headers=lead
    )
    assert refused.status_code == 403
    with Session(engine) as session:
        assert len(review_texts.versions(session, 2019, "commentary")) == 1
        assert len(review_texts.versions(session, 2019, "foreword")) == 2


def test_the_review_of_real_published_figures(engine: Engine) -> None:
    """Real data (the shipped snapshot of published Fingertips figures, OGL v3): the
    review is built from them alone, nothing illustrative, and its numbers match the
    API's as on the demo data."""
    from healthycity.core.pack_loading import load_pack
    from healthycity.outcomes.published import load_published
    from healthycity.packs.reader import PACKS_DIR, read_pack

    load_pack(engine, read_pack(PACKS_DIR / "london"))
    load_published(engine)
    with Session(engine) as session:
        years = review.review_years(session)
        built = review.build(session, years[-1])
    assert not built.illustrative
    shown = [f for f in built.figures.values() if f.period is not None]
    assert len(shown) >= 5 and all(not f.illustrative for f in shown)
    # The snapshot has borough figures without counts, so no London figure can be
    # computed: the review says why, and still shows the boroughs' variation.
    for figure in shown:
        assert figure.value is not None or figure.missing, figure.indicator_id
        assert figure.variation is not None and figure.variation.boroughs >= 30
    client = TestClient(app_for(url_of(engine)))
    assert _check_year(client, years[-1], latest=True) == len(shown)
    page = client.get(f"/review/{years[-1]}")
    assert page.status_code == 200 and "Illustrative data" not in page.text
