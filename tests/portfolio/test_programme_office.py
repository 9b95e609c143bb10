"""The programme office without a spreadsheet: a month's spend is not overwritten without
confirmation and shows its history, milestones carry status, owner and a slippage flag,
reports for any month come from a chooser, leads read by borough, and pack budgets carry
no illustrative-data banner."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from healthycity.core.pack_loading import load_pack
from tests.workspace.helpers import add_people, app_for, load_london, london_pack, url_of


def _client(engine: Engine, whole_pack: bool = False) -> tuple[TestClient, dict[str, str]]:
    if whole_pack:
        load_pack(engine, london_pack())
    else:
        load_london(engine)
    tokens = add_people(engine)
    return TestClient(app_for(url_of(engine))), tokens


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_reentering_a_month_asks_for_confirmation_and_shows_history(engine: Engine) -> None:
    client, tokens = _client(engine)
    office = _auth(tokens["portfolio_office"])
    # A year with no baseline, so the variance rule stays out of the way.
    body = {"programme_slug": "cancer", "month": "2030-07", "actual": "1000"}
    first = client.post("/api/v1/spend", json=body, headers=office)
    assert first.status_code == 201, first.text
    again = client.post("/api/v1/spend", json=body | {"actual": "2000"}, headers=office)
    assert again.status_code == 422
    assert "already has spend recorded" in again.json()["errors"]["replace"]
    assert "£1,000" in again.json()["errors"]["replace"]
    confirmed = client.post(
        "/api/v1/spend", json=body | {"actual": "2000", "replace": True}, headers=office
    )
    assert confirmed.status_code == 201, confirmed.text
    spend_id = confirmed.json()["id"]
    history = client.get(f"/api/v1/spend/{spend_id}/history", headers=office)
    assert history.status_code == 200 and len(history.json()) >= 2
    page = client.get("/workspace/programmes/cancer", headers=office).text
    assert f"/workspace/history/spend/{spend_id}" in page


def test_milestones_carry_status_owner_and_slippage(engine: Engine) -> None:
    client, tokens = _client(engine)
    lead = _auth(tokens["programme_lead"])
    made = client.post(
        "/api/v1/milestones",
        json={
            "programme_slug": "cancer",
            "title": "Screening pilot live",
            "baseline_date": "2015-09-01",
            "forecast_date": "2015-11-01",
            "status": "at_risk",
            "owner": "Jane Doe",
        },
        headers=lead,
    )
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "at_risk" and made.json()["owner"] == "Jane Doe"
    bad = client.post(
        "/api/v1/milestones",
        json={
            "programme_slug": "cancer",
            "title": "X",
            "baseline_date": "2015-09-01",
            "status": "meh",
        },
        headers=lead,
    )
    assert bad.status_code == 422
    rows = client.get("/workspace/programmes/cancer.json", headers=lead).json()["milestones"]
    assert rows[0]["status"] == "at_risk" and rows[0]["owner"] == "Jane Doe"
    assert rows[0]["slipped"] is True
    page = client.get("/workspace/programmes/cancer", headers=lead).text
    assert "At risk" in page and "Slipped" in page


def test_reports_for_any_month_from_the_chooser(engine: Engine) -> None:
    client, tokens = _client(engine)
    viewer = _auth(tokens["viewer"])
    page = client.get("/workspace/reports", headers=viewer).text
    assert 'action="/workspace/reports/choose"' in page and "Quarter 3" in page
    went = client.get(
        "/workspace/reports/choose",
        params={"month": "03", "year": "2016", "format": "pdf"},
        headers=viewer,
        follow_redirects=False,
    )
    assert went.status_code == 303
    assert went.headers["location"] == "/workspace/reports/progress/2016-03.pdf"
    quarter = client.get(
        "/workspace/reports/choose",
        params={"month": "Q3", "year": "2015"},
        headers=viewer,
        follow_redirects=False,
    )
    assert quarter.headers["location"] == "/workspace/reports/progress/2015-Q3"
    wrong = client.get("/workspace/reports/choose", params={"month": "13"}, headers=viewer)
    assert wrong.status_code == 200 and "Choose a month and a year" in wrong.text


def test_leads_read_by_name_and_pack_budgets_are_not_illustrative(engine: Engine) -> None:
    client, tokens = _client(engine, whole_pack=True)
    viewer = _auth(tokens["viewer"])
    page = client.get("/workspace/programmes/estates", headers=viewer).text
    assert "E09000022" not in page and "Lambeth" in page  # by name, not by code
    assert "hc-illustrative" not in page
    assert "hc-illustrative" not in client.get("/workspace/programmes", headers=viewer).text


def test_delivery_confidence_over_time_has_a_chart_and_its_table(engine: Engine) -> None:
    client, tokens = _client(engine)
    office = _auth(tokens["portfolio_office"])
    for day, rating in (("2015-07-31", "Amber"), ("2015-10-31", "Amber/Green")):
        made = client.post(
            "/api/v1/confidence",
            json={
                "programme_slug": "cancer",
                "assessed_on": day,
                "rating": rating,
                "assessor": "Office",
                "commentary": "Reviewed.",
            },
            headers=office,
        )
        assert made.status_code == 201, made.text
    page = client.get("/workspace/confidence", headers=office)
    assert page.status_code == 200 and "<svg" in page.text and 'role="img"' in page.text
    rows = client.get("/workspace/confidence.json", headers=office).json()
    assert [r["rating"] for r in rows] == ["Amber", "Amber/Green"]
    assert client.get("/workspace/confidence.csv", headers=office).text.count("cancer") == 2
    assert client.get("/workspace/confidence.json").status_code == 401
