"""Sites added by hand (what ERIC does not cover): validation, who may add and change them
(policy data), the audit trail, and how the public pages mark them, on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from healthycity.core import auth
from healthycity.core.audit import history
from healthycity.core.db import transaction
from healthycity.core.errors import Invalid
from healthycity.core.web.records import validate_input
from healthycity.estates import hand_sites
from healthycity.estates.hand_site_pages import KIND
from healthycity.estates.hand_sites import HandSiteIn
from healthycity.estates.models import EstatesOrganisation, EstatesSite, HandSite
from tests.workspace.helpers import add_people, app_for, unit, url_of

SECRET = "PRIVATE-NOTE-hand-91c2"
BASE: dict[str, Any] = {
    "name": "Lordship Lane Health Centre",
    "kind": "gp_premises",
    "subregion": "ncl",
    "source": "NHS Property Services lease schedule, March 2017",
    "holder": "NHS Property Services",
    "tenure": "nhs_property_services",
    "postcode": "n17  6ax",
    "latitude": "51.5978",
    "longitude": "-0.0712",
    "gia_m2": "1250.5",
    "notes": SECRET,
}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _errors(**changes: Any) -> dict[str, str]:
    with pytest.raises(Invalid) as refused:
        validate_input(KIND, BASE | changes)
    return refused.value.errors


def test_the_input_is_checked_field_by_field() -> None:
    data = HandSiteIn.model_validate(BASE)
    assert (data.subregion, data.postcode, data.tenure) == (
        "NCL",
        "N17 6AX",
        "nhs_property_services",
    )
    assert set(_errors(name="")) == {"name"}
    assert set(_errors(source="  ")) == {"source"}
    assert set(_errors(kind="hospital")) == {"kind"}
    assert set(_errors(subregion="LONDON")) == {"subregion"}
    assert set(_errors(postcode="not a postcode")) == {"postcode"}
    assert set(_errors(ods_code="F8-003")) == {"ods_code"}
    assert set(_errors(latitude="40.7")) == {"latitude"}  # New York, not the UK
    assert set(_errors(longitude="181")) == {"longitude"}
    assert set(_errors(gia_m2="-5")) == {"gia_m2"}
    assert set(_errors(gia_m2="12.345")) == {"gia_m2"}
    assert set(_errors(owner="me")) == {"owner"}  # unknown fields are refused
    assert HandSiteIn.model_validate(BASE | {"tenure": "", "postcode": ""}).tenure is None


def test_rules_that_need_the_register_or_both_fields(engine: Engine) -> None:
    with unit(engine) as session:
        session.add(EstatesOrganisation(code="RAL", name="ROYAL FREE"))
        session.flush()
        session.add(EstatesSite(org_code="RAL", site_code="RAL01", name="ROYAL FREE HOSPITAL"))
    with unit(engine) as session:
        with pytest.raises(Invalid) as in_eric:
            hand_sites.create(session, HandSiteIn.model_validate(BASE | {"ods_code": "ral01"}), "t")
        assert "ERIC already returns RAL01" in in_eric.value.errors["ods_code"]
        with pytest.raises(Invalid) as half:
            hand_sites.create(session, HandSiteIn.model_validate(BASE | {"longitude": ""}), "t")
        assert set(half.value.errors) == {"longitude"}
    with transaction(engine) as session:
        assert session.query(HandSite).count() == 0


def test_every_change_is_audited_with_who_and_when(engine: Engine) -> None:
    with unit(engine) as session:
        row = hand_sites.create(session, HandSiteIn.model_validate(BASE), "Ann Estates <a@x.org>")
        key = row.id
        assert row.created_at == row.updated_at
    with unit(engine) as session:
        row = hand_sites.get(session, key)
        unchanged = hand_sites.current(row)
        hand_sites.update(session, row, HandSiteIn.model_validate(unchanged), "Bo Other <b@x.org>")
        assert row.updated_by == "Ann Estates <a@x.org>"  # nothing changed, nobody recorded
        hand_sites.update(
            session,
            row,
            HandSiteIn.model_validate(unchanged | {"gia_m2": "1300"}),
            "Bo Other <b@x.org>",
        )
        assert row.updated_by == "Bo Other <b@x.org>"
    with unit(engine) as session:
        session.delete(hand_sites.get(session, key))
    with transaction(engine) as session:
        trail = history(session, "estate_site", str(key))
        assert [r.action for r in trail] == ["create", "update", "delete"]
        assert trail[1].after["gia_m2"] in ("1300.00", 1300, "1300")


def test_who_may_add_change_and_delete_them(engine: Engine) -> None:
    allowed = {
        (role, action)
        for role, record_type, action, _scope in auth.POLICY
        if record_type == auth.ESTATE_SITE
    }
    assert {(r, a) for r, a in allowed if a != "view"} == {
        (role, action)
        for role in ("estates", "portfolio_office")
        for action in ("create", "edit", "delete")
    }
    tokens = add_people(engine)
    body = dict(BASE)
    with TestClient(app_for(url_of(engine))) as client:
        for role in ("viewer", "programme_lead", "assessor", "admin"):
            refused = client.post("/api/v1/estate-sites", json=body, headers=_auth(tokens[role]))
            assert refused.status_code == 403, role
        assert client.post("/api/v1/estate-sites", json=body).status_code == 401
        bad = client.post(
            "/api/v1/estate-sites", json=body | {"postcode": "X"}, headers=_auth(tokens["estates"])
        )
        assert bad.status_code == 422 and "postcode" in bad.json()["errors"]
        made = client.post("/api/v1/estate-sites", json=body, headers=_auth(tokens["estates"]))
        assert made.status_code == 201, made.text
        key = made.json()["id"]
        assert made.json()["added_by"] == "Estates <estates@example.org>"
        patch = client.patch(
            f"/api/v1/estate-sites/{key}",
            json={"published": True},
            headers=_auth(tokens["portfolio_office"]),
        )
        assert patch.status_code == 200 and patch.json()["changed_by"].startswith("Portfolio")
        denied = client.patch(
            f"/api/v1/estate-sites/{key}", json={"name": "x"}, headers=_auth(tokens["viewer"])
        )
        assert denied.status_code == 403
        trail = client.get(f"/api/v1/estate-sites/{key}/history", headers=_auth(tokens["viewer"]))
        assert [r["action"] for r in trail.json()] == ["create", "update"]
        assert trail.json()[1]["actor"].startswith("Portfolio Office")
        # The generic form, posted with a token (no CSRF needed for a token).
        form = {k: str(v) for k, v in body.items()} | {"name": "Form site", "published": "no"}
        posted = client.post(
            "/workspace/estate-sites/new",
            data=form,
            headers=_auth(tokens["estates"]),
            follow_redirects=False,
        )
        assert posted.status_code == 303
        assert posted.headers["location"] == "/workspace/estate-sites"
        refused_form = client.post(
            "/workspace/estate-sites/new",
            data=form | {"subregion": ""},
            headers=_auth(tokens["estates"]),
        )
        assert "nhsuk-error-summary" in refused_form.text
        assert "Choose one of the sub-regions" in refused_form.text
        page = client.get(f"/workspace/estate-sites/{key}/edit", headers=_auth(tokens["estates"]))
        assert page.status_code == 200 and "Source" in page.text
        gone = client.delete(f"/api/v1/estate-sites/{key}", headers=_auth(tokens["viewer"]))
        assert gone.status_code == 403
        gone = client.delete(f"/api/v1/estate-sites/{key}", headers=_auth(tokens["estates"]))
        assert gone.status_code == 204


def test_public_pages_mark_them_as_hand_entered_without_notes_or_emails(engine: Engine) -> None:
    tokens = add_people(engine)
    with unit(engine) as session:
        hand_sites.create(
            session, HandSiteIn.model_validate(BASE | {"published": True}), "Ann Estates <a@x.org>"
        )
        hand_sites.create(
            session,
            HandSiteIn.model_validate(BASE | {"name": "Unpublished clinic"}),
            "Ann Estates <a@x.org>",
        )
    with TestClient(app_for(url_of(engine))) as client:
        page = client.get("/estates/hand-sites")
        assert page.status_code == 200
        assert "Entered by hand" in page.text and "Added by Ann Estates on" in page.text
        assert "Unpublished clinic" not in page.text
        assert SECRET not in page.text and "a@x.org" not in page.text
        data = client.get("/estates/hand-sites.json").json()["sites"]
        assert [s["name"] for s in data] == [BASE["name"]]
        assert data[0]["entered_by_hand"] == "yes" and data[0]["added_by"] == "Ann Estates"
        rows = list(csv.DictReader(io.StringIO(client.get("/estates/hand-sites.csv").text)))
        assert rows[0]["postcode"] == "N17 6AX" and "notes" not in rows[0]
        home = client.get("/estates")
        assert "Lordship Lane Health Centre" in home.text and SECRET not in home.text
        ws = client.get("/workspace/estate-sites", headers=_auth(tokens["viewer"]))
        assert ws.status_code == 200 and "Unpublished clinic" in ws.text
        assert "no-store" in ws.headers["cache-control"]
        anonymous = client.get("/workspace/estate-sites", follow_redirects=False)
        assert anonymous.status_code in (303, 401) and "Unpublished" not in anonymous.text
        private = client.get("/workspace/estate-sites.json", headers=_auth(tokens["viewer"]))
        assert SECRET in private.text
