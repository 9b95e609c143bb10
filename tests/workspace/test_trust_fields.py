"""Issue #13 item 4: field-level permissions as policy data, partial imports, and refused
writes in the audit trail.

A programme lead may edit their own programme but not its number, SRO or whole-life
budget (the portfolio office's), whichever way they try: the JSON API, the edit form or
an import. A file of ``slug,name`` changes names only. Every refused write leaves one
"write refused" audit record naming what was asked for.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from healthycity.core import auth
from healthycity.core.audit import WRITE_REFUSED, AuditRecord
from healthycity.core.db import transaction
from healthycity.portfolio.models import Programme
from tests.workspace.helpers import OWN_PROGRAMME, add_people, app_for, load_london, url_of


def _programme(engine: Engine, slug: str = OWN_PROGRAMME) -> dict[str, Any]:
    with transaction(engine) as session:
        row = session.get(Programme, slug)
        assert row is not None
        return {
            "number": row.number,
            "name": row.name,
            "title": row.title,
            "sro": row.sro,
            "whole_life_budget": row.whole_life_budget,
            "vision": row.vision,
            "theme": row.theme,
            "start_date": row.start_date,
            "aspirations": list(row.aspirations or []),
        }


def _refusals(engine: Engine) -> list[AuditRecord]:
    with transaction(engine) as session:
        rows = session.scalars(
            select(AuditRecord).where(AuditRecord.action == WRITE_REFUSED).order_by(AuditRecord.id)
        ).all()
        session.expunge_all()
        return list(rows)


def _setup(engine: Engine) -> tuple[TestClient, dict[str, str], dict[str, str]]:
    load_london(engine)
    tokens = add_people(engine)
    client = TestClient(app_for(url_of(engine)))
    lead = {"Authorization": f"Bearer {tokens['programme_lead']}"}
    office = {"Authorization": f"Bearer {tokens['portfolio_office']}"}
    return client, lead, office


def test_the_policy_names_the_protected_fields_as_data() -> None:
    lead = auth.Principal(1, "l@x", "L", "programme_lead", programmes=frozenset({"cancer"}))
    office = auth.Principal(2, "o@x", "O", "portfolio_office")
    assert auth.is_allowed(lead, "edit", "programme", owner="cancer")
    for name in ("number", "sro", "whole_life_budget"):
        obj = auth.field_object("programme", name)
        assert not auth.is_allowed(lead, "edit", obj, owner="cancer")
        assert auth.is_allowed(office, "edit", obj, owner="cancer")
        assert ("portfolio_office", obj, "edit", "all") in auth.FIELD_POLICY
    assert auth.protected_changes("programme", {"sro": "A", "name": "x"}, {"sro": "A"}) == ()
    assert auth.protected_changes("programme", {"sro": "A"}, {"sro": "B"}) == ("sro",)
    budget = {"whole_life_budget": Decimal("1.0")}
    assert auth.protected_changes("programme", budget, {"whole_life_budget": Decimal("1.00")}) == ()


def test_a_lead_cannot_change_baseline_sro_or_number_through_the_api(engine: Engine) -> None:
    client, lead, office = _setup(engine)
    before = _programme(engine)
    url = f"/api/v1/programmes/{OWN_PROGRAMME}"
    for field, value in (
        ("whole_life_budget", "999999.00"),
        ("sro", "Someone Else"),
        ("number", 99),
    ):
        refused = client.patch(url, json={field: value}, headers=lead)
        assert refused.status_code == 403, (field, refused.text)
        assert "portfolio office" in refused.json()["detail"]
        assert _programme(engine) == before
    # A change mixing an allowed field with a protected one is refused whole.
    mixed = client.patch(url, json={"title": "New title", "sro": "Someone Else"}, headers=lead)
    assert mixed.status_code == 403
    assert _programme(engine) == before
    # The lead's ordinary edits still work, including one that repeats a protected value.
    same = {"title": "A lead's title", "sro": before["sro"]}
    assert client.patch(url, json=same, headers=lead).status_code == 200
    assert _programme(engine)["title"] == "A lead's title"
    # The portfolio office may change them.
    done = client.patch(
        url, json={"whole_life_budget": "123.45", "sro": "Ann Other"}, headers=office
    )
    assert done.status_code == 200, done.text
    after = _programme(engine)
    assert after["whole_life_budget"] == Decimal("123.45") and after["sro"] == "Ann Other"
    # Each refused write is audited, attributed, with the fields asked for.
    refusals = _refusals(engine)
    assert len(refusals) == 4
    assert [r.after["fields"] for r in refusals] == [  # type: ignore[index]
        ["whole_life_budget"],
        ["sro"],
        ["number"],
        ["sro"],
    ]
    for record in refusals:
        assert record.actor.startswith("Programme Lead <programme_lead@example.org>")
        assert record.record_type == "programme" and record.record_id == url
        assert record.after is not None and record.after["method"] == "PATCH"
        assert record.after["owner"] == OWN_PROGRAMME


def test_the_edit_form_shows_protected_fields_as_text_and_refuses_them(engine: Engine) -> None:
    client, lead, office = _setup(engine)
    before = _programme(engine)
    form = client.get(f"/workspace/programmes/{OWN_PROGRAMME}/edit", headers=lead)
    assert form.status_code == 200
    assert 'id="kept-fields"' in form.text
    for name in ("sro", "whole_life_budget", "number"):
        assert f'name="{name}"' not in form.text
    assert 'name="title"' in form.text
    office_form = client.get(f"/workspace/programmes/{OWN_PROGRAMME}/edit", headers=office)
    assert 'id="kept-fields"' not in office_form.text and 'name="sro"' in office_form.text
    # Saving the form as shown keeps the protected fields.
    saved = client.post(
        f"/workspace/programmes/{OWN_PROGRAMME}/edit",
        data={"title": "Changed on the form"},
        headers=lead,
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text[:500]
    assert _programme(engine) == before | {"title": "Changed on the form"}
    # A forged post with a protected field is refused and audited.
    forged = client.post(
        f"/workspace/programmes/{OWN_PROGRAMME}/edit",
        data={"title": "x", "whole_life_budget": "1"},
        headers=lead,
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert _programme(engine)["whole_life_budget"] == before["whole_life_budget"]
    refusals = _refusals(engine)
    assert len(refusals) == 1 and refusals[0].after["fields"] == ["whole_life_budget"]  # type: ignore[index]


def test_imports_change_only_the_columns_in_the_file(engine: Engine) -> None:
    client, lead, office = _setup(engine)
    before = _programme(engine)
    other_before = _programme(engine, "mental-health")
    assert before["sro"] and before["whole_life_budget"] and before["vision"]  # real values
    renamed = client.post(
        "/api/v1/import/programmes?filename=names.csv",
        content=f"slug,name\n{OWN_PROGRAMME},Cancer (renamed)\n".encode(),
        headers=office,
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["updated"] == 1
    assert _programme(engine) == before | {"name": "Cancer (renamed)"}
    assert _programme(engine, "mental-health") == other_before
    # The lead may import their programme's own fields, not the protected ones.
    refused = client.post(
        "/api/v1/import/programmes?filename=lead.csv",
        content=f"slug,title,whole_life_budget,sro\n{OWN_PROGRAMME},T,1.00,Me\n".encode(),
        headers=lead,
    )
    assert refused.status_code == 422, refused.text
    errors = refused.json()["errors"]
    assert {(e["file"], e["row"], e["column"]) for e in errors} == {
        ("lead.csv", 2, "whole_life_budget"),
        ("lead.csv", 2, "sro"),
    }
    assert all("portfolio office" in e["reason"] for e in errors)
    assert _programme(engine) == before | {"name": "Cancer (renamed)"}
    refusals = _refusals(engine)
    assert sorted(r.after["fields"][0] for r in refusals) == ["sro", "whole_life_budget"]  # type: ignore[index]
    # Repeating the current value of a protected field is not a change.
    same = client.post(
        "/api/v1/import/programmes?filename=lead.csv",
        content=f"slug,title,sro\n{OWN_PROGRAMME},Lead title,{before['sro']}\n".encode(),
        headers=lead,
    )
    assert same.status_code == 200, same.text
    assert _programme(engine)["title"] == "Lead title"
