"""The disposals pipeline: workflow rules, the audit trail, who may change it, and what the
public sees (only published entries, never their notes), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from healthycity.core.audit import history
from healthycity.core.db import transaction
from healthycity.core.errors import Conflict, Invalid
from healthycity.estates import disposals
from healthycity.estates.disposals import DisposalIn
from healthycity.estates.models import EstatesOrganisation, EstatesSite
from tests.workspace.helpers import add_people, app_for, unit, url_of

SECRET = "PRIVATE-NOTE-7f3a"
BASE: dict[str, Any] = {
    "name": "Former nurses' home",
    "site_description": "Nurses' home north of the main hospital",
    "subregion": "NCL",
    "expected_receipt": "£12,500,000",
    "homes_enabled": "180",
    "notes": SECRET,
}


def _data(**changes: Any) -> DisposalIn:
    return DisposalIn.model_validate(BASE | changes)


def _move(engine: Engine, disposal_id: int, **changes: Any) -> None:
    with unit(engine) as session:
        row = disposals.get(session, disposal_id)
        disposals.update(session, row, DisposalIn.model_validate(disposals.current(row) | changes))


def _candidate(engine: Engine, **changes: Any) -> int:
    with unit(engine) as session:
        row = disposals.create(session, _data(stage_on="2016-04-01", **changes), "tests")
        return row.id


def test_a_disposal_goes_from_candidate_to_sold_with_its_dated_history(engine: Engine) -> None:
    disposal_id = _candidate(engine)
    with pytest.raises(Invalid) as no_forum:
        _move(engine, disposal_id, stage="approved", stage_on="2016-06-01")
    assert "forum" in no_forum.value.errors
    _move(engine, disposal_id, stage="approved", stage_on="2016-06-01", forum="subregional_board")
    _move(engine, disposal_id, stage="marketed", stage_on="2016-09-01")
    with pytest.raises(Invalid) as no_receipt:
        _move(engine, disposal_id, stage="sold", stage_on="2017-01-10")
    assert no_receipt.value.errors == {"actual_receipt": "a sold disposal needs its actual receipt"}
    _move(engine, disposal_id, stage="sold", stage_on="2017-01-10", actual_receipt="13000000.50")
    with transaction(engine) as session:
        row = disposals.get(session, disposal_id)
        assert row.stage == "sold" and row.actual_receipt == Decimal("13000000.50")
        assert [(s.stage, s.reached_on) for s in row.stages] == [
            ("candidate", date(2016, 4, 1)),
            ("approved", date(2016, 6, 1)),
            ("marketed", date(2016, 9, 1)),
            ("sold", date(2017, 1, 10)),
        ]
        trail = history(session, "disposal", str(disposal_id))
        stages = [r.after["stage"] for r in trail if r.record_type == "disposal" and r.after]
        assert stages == ["candidate", "approved", "marketed", "sold"]
        assert [r.after["stage"] for r in trail if r.record_type == "disposal_stage"] == [
            "candidate",
            "approved",
            "marketed",
            "sold",
        ]
        assert all(r.actor == "system: command line" for r in trail)


def test_the_pipeline_refuses_moves_it_does_not_allow(engine: Engine) -> None:
    disposal_id = _candidate(engine)
    with pytest.raises(Invalid, match="must be approved before it is marketed"):
        _move(engine, disposal_id, stage="marketed", forum="london_estates_board")
    with pytest.raises(Invalid, match="only a sold disposal has an actual receipt"):
        _move(engine, disposal_id, actual_receipt="100")
    with pytest.raises(Invalid, match="in the future"):
        _move(
            engine,
            disposal_id,
            stage="approved",
            forum="london_estates_board",
            stage_on=(date.today() + timedelta(days=2)).isoformat(),
        )
    with pytest.raises(Invalid, match="before the disposal became candidate"):
        _move(
            engine,
            disposal_id,
            stage="approved",
            forum="london_estates_board",
            stage_on="2015-01-01",
        )
    # Stepping back is allowed (taken off the market), except from sold.
    _move(
        engine, disposal_id, stage="approved", forum="london_estates_board", stage_on="2016-05-01"
    )
    _move(engine, disposal_id, stage="candidate", stage_on="2016-05-02")
    _move(engine, disposal_id, stage="approved", stage_on="2016-05-03")
    _move(engine, disposal_id, stage="marketed", stage_on="2016-05-04")
    _move(engine, disposal_id, stage="sold", stage_on="2016-05-05", actual_receipt="1")
    for stage in ("marketed", "candidate", "withdrawn"):
        with pytest.raises(Invalid, match="a sold disposal stays sold"):
            _move(engine, disposal_id, stage=stage, withdrawn_reason="x", actual_receipt=None)
    with pytest.raises(Conflict, match="only a candidate can be deleted"), unit(engine) as session:
        disposals.delete(session, disposals.get(session, disposal_id))

    other = _candidate(engine)
    with pytest.raises(Invalid) as no_reason:
        _move(engine, other, stage="withdrawn")
    assert no_reason.value.errors == {"withdrawn_reason": "say why the disposal was withdrawn"}
    _move(engine, other, stage="withdrawn", withdrawn_reason="Needed for a new health centre")
    with pytest.raises(Invalid, match="stays withdrawn"):
        _move(engine, other, stage="candidate")
    third = _candidate(engine)
    with unit(engine) as session:
        disposals.delete(session, disposals.get(session, third))
    with transaction(engine) as session:
        assert [r.action for r in history(session, "disposal", str(third))][-1] == "delete"


def test_the_site_comes_from_the_register_or_is_described(engine: Engine) -> None:
    with pytest.raises(ValueError, match="give the site from the estates register"):
        DisposalIn.model_validate({"name": "Somewhere", "subregion": "NCL"})
    blank = {"site_code": "", "homes_enabled": "", "stage_on": "", "actual_receipt": ""}
    assert (
        DisposalIn.model_validate({"name": "x", "site_description": "y"} | blank).homes_enabled
        is None
    )
    with pytest.raises(ValueError, match="site code is missing"):
        DisposalIn.model_validate({"name": "Somewhere", "org_code": "RAL"})
    with unit(engine) as session:
        session.add(EstatesOrganisation(code="RAL", name="Royal Free", subregion="NCL"))
        session.add(EstatesOrganisation(code="RYJ", name="Imperial", subregion="MULTI"))
        session.flush()
        session.add(EstatesSite(org_code="RAL", site_code="RAL01", name="Royal Free Hospital"))
        session.add(EstatesSite(org_code="RAL", site_code="AGGRE", name="Small sites"))
        session.add(EstatesSite(org_code="RYJ", site_code="RYJ02", name="Charing Cross"))
    register = {"site_description": None, "subregion": None}
    with unit(engine) as session:
        row = disposals.create(
            session, _data(**register, org_code="ral", site_code="ral01"), "tests"
        )
        assert (row.org_code, row.site_code, row.subregion) == ("RAL", "RAL01", "NCL")
        assert disposals.site_names(session, [row]) == {("RAL", "RAL01"): "Royal Free Hospital"}
    refusals = {
        "AGGRE is the aggregate": {"org_code": "RAL", "site_code": "AGGRE"},
        "has no site RAL99": {"org_code": "RAL", "site_code": "RAL99"},
        "places this site in NCL, not SEL": {
            "org_code": "RAL",
            "site_code": "RAL01",
            "subregion": "SEL",
        },
        "choose the sub-region": {"org_code": "RYJ", "site_code": "RYJ02"},
        "choose one of the sub-regions": {"site_description": "Land", "subregion": "XXX"},
    }
    for message, changes in refusals.items():
        with pytest.raises(Invalid, match=message), unit(engine) as session:
            disposals.create(session, _data(**(register | changes)), "tests")
    with unit(engine) as session:  # a trust spanning sub-regions: the person says which
        row = disposals.create(
            session, _data(org_code="RYJ", site_code="RYJ02", subregion="NWL"), "tests"
        )
        assert row.subregion == "NWL"


def test_receipts_add_up_per_subregion_and_for_london() -> None:
    from healthycity.estates.models import Disposal

    rows = [
        Disposal(subregion="NCL", stage="sold", actual_receipt=Decimal("10.10"), homes_enabled=5),
        Disposal(subregion="NCL", stage="approved", expected_receipt=Decimal("2.20")),
        Disposal(
            subregion="SEL", stage="withdrawn", expected_receipt=Decimal("99"), homes_enabled=9
        ),
        Disposal(
            subregion="SEL", stage="candidate", expected_receipt=Decimal("0.01"), homes_enabled=1
        ),
    ]
    found = {r.code: r for r in disposals.receipts(rows)}
    assert list(found)[-1] == "LONDON" and len(found) == 6
    assert found["NCL"].actual_receipts == Decimal("10.10")
    assert found["NCL"].expected_receipts == Decimal("2.20")
    assert (found["SEL"].in_pipeline, found["SEL"].withdrawn) == (1, 1)
    assert found["SEL"].expected_receipts == Decimal("0.01")
    london = found["LONDON"]
    assert (london.actual_receipts, london.expected_receipts) == (Decimal("10.10"), Decimal("2.21"))
    assert (london.homes_enabled, london.sold, london.in_pipeline) == (6, 1, 2)


# ------------------------------------------------------------------------- over HTTP


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_who_may_change_the_pipeline(engine: Engine) -> None:
    tokens = add_people(engine)
    body = dict(BASE) | {"stage": "candidate", "stage_on": "2016-04-01"}
    with TestClient(app_for(url_of(engine))) as client:
        for role in ("viewer", "programme_lead", "assessor", "admin"):
            refused = client.post("/api/v1/disposals", json=body, headers=_auth(tokens[role]))
            assert refused.status_code == 403, role
        made = client.post("/api/v1/disposals", json=body, headers=_auth(tokens["estates"]))
        assert made.status_code == 201, made.text
        key = made.json()["id"]
        assert made.json()["created_by"].startswith("Estates <estates@example.org>")
        approve = {"stage": "approved", "stage_on": "2016-05-01", "forum": "london_estates_board"}
        patch = client.patch(
            f"/api/v1/disposals/{key}", json=approve, headers=_auth(tokens["portfolio_office"])
        )
        assert patch.status_code == 200 and patch.json()["stage"] == "approved"
        skip = client.patch(
            f"/api/v1/disposals/{key}", json={"stage": "sold"}, headers=_auth(tokens["estates"])
        )
        assert skip.status_code == 422 and "stage" in skip.json()["errors"]
        viewer_edit = client.patch(
            f"/api/v1/disposals/{key}", json={"name": "x"}, headers=_auth(tokens["viewer"])
        )
        assert viewer_edit.status_code == 403
        gone = client.delete(f"/api/v1/disposals/{key}", headers=_auth(tokens["estates"]))
        assert gone.status_code == 409
        read = client.get("/api/v1/disposals", headers=_auth(tokens["viewer"]))
        assert read.status_code == 200 and [d["id"] for d in read.json()] == [key]
        trail = client.get(f"/api/v1/disposals/{key}/history", headers=_auth(tokens["viewer"]))
        assert [r["action"] for r in trail.json() if r["record_type"] == "disposal"] == [
            "create",
            "update",
        ]
        assert client.get("/api/v1/disposals").status_code == 401
        # The generic form, posted with a token (no CSRF needed for a token).
        form = {k: str(v) for k, v in body.items()} | {"published": "yes"}
        posted = client.post(
            "/workspace/disposals/new",
            data=form,
            headers=_auth(tokens["estates"]),
            follow_redirects=False,
        )
        assert posted.status_code == 303 and posted.headers["location"] == "/workspace/disposals"
        page = client.get(f"/workspace/disposals/{key}/edit", headers=_auth(tokens["estates"]))
        assert page.status_code == 200 and "Business case decided by" in page.text
        denied = client.get(f"/workspace/disposals/{key}/edit", headers=_auth(tokens["viewer"]))
        assert denied.status_code == 403


def test_the_workspace_list_and_its_private_twins(engine: Engine) -> None:
    tokens = add_people(engine)
    _candidate(engine, name="Hidden candidate")
    with TestClient(app_for(url_of(engine))) as client:
        for suffix in ("", ".json", ".csv", ".csv?table=receipts"):
            answer = client.get(f"/workspace/disposals{suffix}", headers=_auth(tokens["viewer"]))
            assert answer.status_code == 200, suffix
            assert answer.headers["cache-control"] == "private, no-store"
        page = client.get("/workspace/disposals", headers=_auth(tokens["viewer"]))
        assert "Hidden candidate" in page.text and "Add a disposal" not in page.text
        own = client.get("/workspace/disposals", headers=_auth(tokens["estates"]))
        assert "Add a disposal" in own.text
        rows = list(
            csv.DictReader(
                io.StringIO(
                    client.get("/workspace/disposals.csv", headers=_auth(tokens["viewer"])).text
                )
            )
        )
        assert rows[0]["notes"] == SECRET and rows[0]["expected_receipt"] == "12500000.00"
        assert client.get("/workspace/disposals.json").status_code == 401


def test_the_public_pipeline_shows_only_what_is_published(engine: Engine) -> None:
    published = _candidate(engine, name="Published site", published="yes")
    _candidate(engine, name="Unpublished site", subregion="SEL")
    sold = _candidate(engine, name="Sold site", subregion="SWL", published=True)
    _move(engine, sold, stage="approved", stage_on="2016-05-01", forum="subregional_board")
    _move(engine, sold, stage="marketed", stage_on="2016-06-01")
    _move(engine, sold, stage="sold", stage_on="2016-07-01", actual_receipt="3000000")
    with TestClient(app_for(url_of(engine))) as client:
        answers = {
            suffix: client.get(f"/estates/disposals{suffix}")
            for suffix in ("", ".json", ".csv", ".csv?table=receipts")
        }
        for suffix, answer in answers.items():
            assert answer.status_code == 200, suffix
            assert SECRET not in answer.text and "Unpublished site" not in answer.text, suffix
        assert "London receipts stay in London" in answers[""].text
        assert answers[""].text.count('class="hc-figure"') == 1
        data = answers[".json"].json()
        assert [d["id"] for d in data["disposals"]] == [published, sold]
        assert not {"notes", "created_by", "published"} & set(data["disposals"][0])
        receipts = {r["code"]: r for r in data["receipts"]}
        assert receipts["SWL"]["actual_receipts"] == "3000000.00"
        assert receipts["NCL"]["expected_receipts"] == "12500000.00"
        assert receipts["SEL"]["in_pipeline"] == 0  # unpublished: not counted in public
        assert receipts["LONDON"]["homes_enabled"] == 360
        table = list(csv.DictReader(io.StringIO(answers[".csv?table=receipts"].text)))
        assert table[-1]["code"] == "LONDON" and table[-1]["actual_receipts"] == "3000000.00"
        # /estates with no ERIC returns loaded still shows where the receipts went.
        home = client.get("/estates")
        assert home.status_code == 200 and "London receipts stay in London" in home.text


def test_the_estates_page_gains_the_receipts_table(loaded: str) -> None:
    from healthycity.core.db import make_engine

    engine = make_engine(loaded)
    try:
        _candidate(engine, published=True)
    finally:
        engine.dispose()
    with TestClient(app_for(loaded)) as client:
        page = client.get("/estates")
        assert page.status_code == 200 and "London receipts stay in London" in page.text
        assert page.text.count('class="hc-figure"') == 5  # four estates charts, receipts
        rows = list(csv.DictReader(io.StringIO(client.get("/estates.csv?table=receipts").text)))
        assert rows[-1]["expected_receipts"] == "12500000.00"
        assert client.get("/estates.json").json()["receipts"][-1]["code"] == "LONDON"
