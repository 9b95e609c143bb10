"""Forum meetings and decisions, and grants from the transformation fund: entered by the
portfolio office (the API and forms share one record kind), refused to everyone else,
audited, validated (money exact, never negative, never above the fund), and shown on the
public pages and their twins without anything the office keeps private."""

from __future__ import annotations

from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.engine import Engine

from healthycity.core.audit import AuditRecord
from healthycity.core.errors import Invalid
from healthycity.core.pack_loading import load_pack
from healthycity.portfolio import funds, schemas, service
from healthycity.portfolio.models import FundGrant, TransformationFund
from tests.workspace.helpers import add_people, app_for, london_pack, unit, url_of

SECRET = "OFFICE-ONLY-4c9e"
SPLIT = {"contracts-issued": "50000000", "purpose-defined": "40000000", "unallocated": "24000000"}


@pytest.fixture
def loaded(engine: Engine) -> Engine:
    load_pack(engine, london_pack())
    with unit(engine) as session:
        fund = session.get(TransformationFund, "2018/19")
        assert fund is not None
        service.update_fund(
            session,
            fund,
            schemas.FundIn(period="2018/19", total="114000000", allocations=SPLIT),
        )
    return engine


def _grant(**changes: object) -> schemas.GrantIn:
    body: dict[str, object] = {
        "fund_period": "2018/19",
        "category": "purpose-defined",
        "recipient_kind": "pilot",
        "recipient": "hackney-integration",
        "recipient_name": "London Borough of Hackney",
        "amount": "30000000.00",
        "awarded_on": "2018-06-01",
        "purpose": "Integrated care in Hackney",
        "note": SECRET,
    }
    return schemas.GrantIn.model_validate(body | changes)


def test_grant_amounts_are_exact_pounds_never_negative_or_zero() -> None:
    assert _grant(amount="£1,234.56").amount == Decimal("1234.56")
    for bad in ("-5", "0", "12.345", "ten pounds"):
        with pytest.raises(ValidationError):
            _grant(amount=bad)


def test_grants_never_add_up_to_more_than_the_category_or_the_fund(loaded: Engine) -> None:
    with unit(loaded) as session:
        funds.create_grant(session, _grant())
    with pytest.raises(Invalid) as over, unit(loaded) as session:
        funds.create_grant(session, _grant(amount="15000000", recipient="ncl-estates"))
    message = over.value.errors["amount"]
    assert "Purpose already defined" in message and "£5,000,000" in message
    with unit(loaded) as session:
        row = session.scalars(select(FundGrant)).one()
        # Changing a grant counts its new amount, not the old one as well.
        funds.update_grant(session, row, _grant(amount="40000000"))
        assert row.amount == Decimal("40000000.00")
    with pytest.raises(Invalid) as lowered, unit(loaded) as session:
        fund = session.get(TransformationFund, "2018/19")
        assert fund is not None
        service.update_fund(
            session,
            fund,
            schemas.FundIn(
                period="2018/19",
                total="114000000",
                allocations=SPLIT | {"purpose-defined": "30000000", "unallocated": "34000000"},
            ),
        )
    assert "Purpose already defined" in lowered.value.errors["allocations.purpose-defined"]
    with unit(loaded) as session:
        row = session.scalars(select(FundGrant)).one()
        funds.update_grant(session, row, _grant(amount="40000000", status="withdrawn"))
        # Withdrawn, it frees its money for another grant.
        funds.create_grant(session, _grant(amount="40000000", recipient="ncl-estates"))
        fund = session.get(TransformationFund, "2018/19")
        assert fund is not None
        assert funds.fund_total(fund).granted == Decimal("40000000.00")
        assert funds.fund_total(fund).remaining == Decimal("74000000.00")
    with pytest.raises(Invalid) as nobody, unit(loaded) as session:
        funds.create_grant(session, _grant(recipient="no-such-pilot", amount="1"))
    assert "no-such-pilot" in nobody.value.errors["recipient"]


def test_grants_show_publicly_with_totals_and_without_the_office_note(loaded: Engine) -> None:
    with unit(loaded) as session:
        made = funds.create_grant(session, _grant())
        key = str(made.id)
    with unit(loaded) as session:
        trail = session.scalars(
            select(AuditRecord).where(
                AuditRecord.record_type == "fund_grant", AuditRecord.record_id == key
            )
        ).all()
        assert [r.action for r in trail] == ["create"]
        assert trail[0].after["amount"] == "30000000.00"
    client = TestClient(app_for(url_of(loaded)))
    data = client.get("/devolution.json").json()
    fund = next(f for f in data["funds"] if f["period"] == "2018/19")
    assert fund["granted"] == "30000000.00" and fund["remaining"] == "84000000.00"
    assert data["grants"][0]["recipient"] == "London Borough of Hackney"
    assert data["grants"][0]["amount"] == "30000000.00"
    grants_csv = client.get("/devolution.csv?table=grants").text
    assert "London Borough of Hackney" in grants_csv and "30000000.00" in grants_csv
    html = client.get("/devolution").text
    assert "£30,000,000 of £114,000,000 granted; £84,000,000 left." in html
    for path in ("/devolution", "/devolution.json", "/devolution.csv?table=grants"):
        assert SECRET not in client.get(path).text, path


def _meeting(client: TestClient, headers: dict[str, str], **changes: object) -> dict:
    body = {
        "forum_slug": "london-health-board",
        "held_on": "2018-07-10",
        "title": "Summer meeting",
        "status": "held",
        "papers": ["https://example.org/lhb/2018-07/agenda.pdf"],
        "note": SECRET,
    } | changes
    answer = client.post("/api/v1/forum-meetings", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_the_office_records_meetings_and_decisions_others_may_not(loaded: Engine) -> None:
    tokens = add_people(loaded)
    office = {"Authorization": f"Bearer {tokens['portfolio_office']}"}
    lead = {"Authorization": f"Bearer {tokens['programme_lead']}"}
    client = TestClient(app_for(url_of(loaded)))
    forums = {f["forum"] for f in client.get("/governance.json").json()["forums"]}
    assert "london-health-board" in forums
    refused = client.post(
        "/api/v1/forum-meetings",
        json={"forum_slug": "london-health-board", "held_on": "2018-07-10"},
        headers=lead,
    )
    assert refused.status_code == 403
    bad = client.post(
        "/api/v1/forum-meetings",
        json={"forum_slug": "no-such-board", "held_on": "2018-07-10", "papers": "javascript:x"},
        headers=office,
    )
    assert bad.status_code == 422
    meeting = _meeting(client, office)
    decision = {
        "forum_slug": "london-health-board",
        "meeting_id": meeting["id"],
        "decided_on": "2018-07-10",
        "title": "Estates board to report quarterly",
        "decision": "The London Estates Board reports to each meeting on disposals.",
        "decided_by": "London Health Board",
        "programmes": ["estates"],
        "published": False,
        "note": SECRET,
    }
    wrong = client.post(
        "/api/v1/forum-decisions", json=decision | {"programmes": ["nope"]}, headers=office
    )
    assert wrong.status_code == 422 and "nope" in wrong.text
    created = client.post("/api/v1/forum-decisions", json=decision, headers=office)
    assert created.status_code == 201, created.text
    key = created.json()["id"]
    assert (
        client.patch(
            f"/api/v1/forum-decisions/{key}", json={"published": True}, headers=lead
        ).status_code
        == 403
    )
    # Not yet published: nowhere public.
    assert "Estates board to report" not in client.get("/governance/decisions").text
    assert not client.get("/programmes/estates.json").json()["decisions"]
    published = client.patch(
        f"/api/v1/forum-decisions/{key}", json={"published": True}, headers=office
    )
    assert published.status_code == 200, published.text
    with unit(loaded) as session:
        actions = session.scalars(
            select(AuditRecord.action).where(
                AuditRecord.record_type == "forum_decision", AuditRecord.record_id == str(key)
            )
        ).all()
        assert len(actions) == 2
        assert session.scalars(
            select(AuditRecord).where(AuditRecord.record_type == "forum_meeting")
        ).first()
    page = client.get("/governance/decisions")
    assert page.status_code == 200 and "Estates board to report quarterly" in page.text
    data = client.get("/governance/decisions.json").json()
    assert data["decisions"][0]["programmes"] == "estates"
    assert data["meetings"][0]["papers"] == "https://example.org/lhb/2018-07/agenda.pdf"
    assert "Estates board to report" in client.get("/governance/decisions.csv").text
    assert "agenda.pdf" in client.get("/governance/decisions.csv?table=meetings").text
    programme = client.get("/programmes/estates.json").json()
    assert programme["decisions"][0]["title"] == "Estates board to report quarterly"
    assert "Estates board to report quarterly" in client.get("/programmes/estates").text
    board = next(
        f
        for f in client.get("/governance.json").json()["forums"]
        if f["forum"] == "london-health-board"
    )
    assert {x["heading"] for x in board["meetings_and_decisions"]} == {"Meetings", "Decisions"}
    assert "Estates board to report quarterly" in client.get("/governance").text
    for path in (
        "/governance",
        "/governance.json",
        "/governance/decisions",
        "/governance/decisions.json",
        "/governance/decisions.csv",
        "/governance/decisions.csv?table=meetings",
        "/programmes/estates",
        "/programmes/estates.json",
        "/programmes/estates.csv?table=decisions",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert SECRET not in answer.text, path
    # The signed-in API keeps the office's note.
    assert client.get(f"/api/v1/forum-decisions/{key}", headers=lead).json()["note"] == SECRET
