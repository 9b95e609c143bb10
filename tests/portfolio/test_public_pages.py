"""The partnership's work in the open: /programmes, /devolution and /governance answer
without a sign-in, with .json and .csv twins, and carry nothing the workspace keeps
private; the devolution register counts its pledges against the agreement's 54."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from healthycity.core.errors import Invalid
from healthycity.core.pack_loading import load_pack
from healthycity.portfolio import funds, overview, schemas, service
from healthycity.portfolio.models import (
    BudgetBaseline,
    ConfidenceAssessment,
    Milestone,
    MonthlySpend,
    Pledge,
    Risk,
    Stakeholder,
    TransformationFund,
)
from tests.workspace.helpers import app_for, london_pack, unit, url_of

PUBLIC = ["/programmes", "/devolution", "/governance", "/programmes/estates"]
SECRET = "PRIVATE-MARKER-7f3a"


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    load_pack(engine, london_pack())
    return engine


def _client(engine: Engine) -> TestClient:
    return TestClient(app_for(url_of(engine)))


def test_the_public_pages_and_twins_answer_without_a_sign_in(loaded: Engine) -> None:
    client = _client(loaded)
    for path in PUBLIC:
        page = client.get(path)
        assert page.status_code == 200, path
        assert f'href="{path}.csv' in page.text and f'href="{path}.json' in page.text, path
        assert client.get(path + ".json").status_code == 200, path
        csv = client.get(path + ".csv")
        assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    programmes = client.get("/programmes.json").json()
    assert len(programmes["programmes"]) == 15
    assert sum(1 for p in programmes["programmes"] if p["kind"] == "programme") == 13
    assert programmes["totals"]["whole_life_budget"] == "15525236.00"
    organisations = client.get("/api/v1/organisations").json()
    assert any(o["ods_code"] for o in organisations)
    assert any(o["ons_codes"] for o in organisations if o["kind"] == "council")


def test_programmes_link_to_their_own_aspirations_and_objectives(loaded: Engine) -> None:
    rows = {p["programme"]: p for p in _client(loaded).get("/programmes.json").json()["programmes"]}
    assert "world-class-care" not in rows["estates"]["aspirations"]
    assert "fit-for-purpose-estate" in rows["estates"]["shared_objectives"]
    assert rows["workforce"]["shared_objectives"] == "world-class-workforce"
    assert rows["workforce"]["aspirations"] == "healthy-work"
    assert "digital-health" in rows["interoperability"]["aspirations"]
    assert "engaged-londoners" in rows["personalisation-and-participation"]["aspirations"]
    only_care = [s for s, p in rows.items() if p["aspirations"] == "world-class-care"]
    # Only the programmes about care itself (and its money) serve aspiration 8 alone.
    assert set(only_care) == {
        "cancer",
        "urgent-and-emergency-care",
        "specialised-commissioning",
        "payments-and-funding",
    }


def test_governance_shows_forums_partnerships_parties_and_ten_objectives(loaded: Engine) -> None:
    client = _client(loaded)
    data = client.get("/governance.json").json()
    names = {f["name"] for f in data["forums"]}
    assert {"London Health Board", "Strategic Partnership Board", "London Estates Board"} <= names
    assert len(data["shared_objectives"]) == 10
    assert data["parties"] and all(p["party_to_agreement"] for p in data["parties"])
    assert {p["sub_region_code"] for p in data["partnerships"]} >= {"E54000027", "E54000028"} or (
        len({p["sub_region"] for p in data["partnerships"]}) >= 5
    )
    html = client.get("/governance").text
    assert "Remit:" in html and "The 10 shared objectives" in html


def test_devolution_counts_pledges_of_54_and_pilots_have_status(loaded: Engine) -> None:
    with unit(loaded) as session:
        service.create_pledge(
            session,
            schemas.PledgeIn(
                area_slug="public-health",
                text="Explore planning and licensing flexibilities",
                owner="Haringey Council",
                status="delivered",
                evidence="Pilot report",
            ),
        )
    client = _client(loaded)
    data = client.get("/devolution.json").json()
    assert data["pledges_in_agreement"] == 54
    assert data["pledges_recorded"] == 1 and data["pledges_delivered"] == 1
    assert len(data["areas"]) == 7 and len(data["pilots"]) == 5
    assert all(p["status"] and p["milestones"] for p in data["pilots"])
    assert "1 of 54 pledges recorded; 1 of 54 delivered." in client.get("/devolution").text


def test_fund_allocations_that_do_not_reconcile_are_refused_with_category_and_difference(
    loaded: Engine,
) -> None:
    with pytest.raises(Invalid) as refused, unit(loaded) as session:
        fund = session.get(TransformationFund, "2018/19")
        assert fund is not None
        service.update_fund(
            session,
            fund,
            schemas.FundIn(
                period="2018/19",
                total="114000000",
                allocations={
                    "contracts-issued": "50000000",
                    "purpose-defined": "40000000",
                    "unallocated": "20000000",
                },
            ),
        )
    text = " ".join(refused.value.errors.values())
    assert "Unallocated" in text and "£4,000,000" in text
    with unit(loaded) as session:
        fund = session.get(TransformationFund, "2018/19")
        assert fund is not None
        split = {"contracts-issued": "50000000", "purpose-defined": "40000000"}
        service.update_fund(
            session,
            fund,
            schemas.FundIn(
                period="2018/19", total="114000000", allocations=split | {"unallocated": "24000000"}
            ),
        )
        funds.grant(
            session, "2018/19", "purpose-defined", "pilot", "hackney-integration", Decimal(30000000)
        )
    with pytest.raises(Invalid) as over, unit(loaded) as session:
        funds.grant(
            session, "2018/19", "purpose-defined", "programme", "estates", Decimal(15000000)
        )
    message = over.value.errors["amount"]
    assert "Purpose already defined" in message and "£5,000,000" in message
    data = _client(loaded).get("/devolution.json").json()
    purpose = next(c for c in data["funds"][0]["categories"] if c["category"] == "purpose-defined")
    assert purpose["granted"] == "30000000.00" and purpose["remaining"] == "10000000.00"


def test_nothing_private_reaches_a_public_page_or_twin(loaded: Engine) -> None:
    """Fill every private field with a marker; no public answer may carry it."""
    with unit(loaded) as session:
        service.record_spend(
            session,
            schemas.SpendIn(
                programme_slug="estates",
                month=date(2015, 7, 1),
                actual="1000",
                note=SECRET,
                explanation=SECRET,
            ),
        )
        session.add_all(
            [
                Milestone(
                    programme_slug="estates",
                    title="Asset database live",
                    baseline_date=date(2015, 9, 1),
                    forecast_date=date(2015, 12, 1),
                    notes=SECRET,
                    owner="Owner",
                ),
                ConfidenceAssessment(
                    programme_slug="estates",
                    assessed_on=date(2015, 7, 31),
                    rating="Amber",
                    assessor=SECRET,
                    commentary=SECRET,
                ),
                Risk(
                    programme_slug="estates",
                    title=SECRET,
                    description=SECRET,
                    likelihood=3,
                    impact=3,
                    owner=SECRET,
                    mitigation=SECRET,
                ),
                Stakeholder(
                    programme_slug="estates",
                    role="hlp_lead",
                    people=["Lead"],
                    contact=SECRET,
                    note=SECRET,
                ),
            ]
        )
        baseline = session.scalars(
            select(BudgetBaseline).where(BudgetBaseline.programme_slug == "estates")
        ).first()
        assert baseline is not None
        baseline.variance_explanation = SECRET
    with unit(loaded) as session:
        assert session.scalars(select(MonthlySpend)).first() is not None
        assert session.scalars(select(Pledge)).first() is None
    # The marker columns are the ones overview.PRIVATE_FIELDS names.
    assert set(overview.PRIVATE_FIELDS) == {
        "programme_stakeholder",
        "monthly_spend",
        "milestone",
        "confidence_assessment",
        "programme_risk",
        "budget_baseline",
    }
    client = _client(loaded)
    pages = ["/programmes", "/programmes/estates", "/devolution", "/governance"]
    for path in pages:
        for suffix in ("", ".json", ".csv"):
            answer = client.get(path + suffix)
            assert answer.status_code == 200
            assert SECRET not in answer.text, path + suffix
        for name in ("confidence", "milestones", "pilots", "funds", "areas", "organisations"):
            assert SECRET not in client.get(f"{path}.csv?table={name}").text
    detail = client.get("/programmes/estates.json").json()
    assert detail["delivery_confidence"] == "Amber"
    assert detail["milestones"][0]["slipped"] is True
    assert detail["spend_to_date"] == "1000.00"
