"""Reads, versions and resolvable references at the exchange (issue 18, items 1 and 4).

A client that was handed ``subject: Patient/{id}`` or ``encounter: Encounter/{id}`` must
be able to read it at the exchange, through the same gate as a search (consent,
sensitivity, relationships, role policy, audit), with ``meta.versionId``, an ``ETag``
that makes a refresh cost a 304, and ``_history/{vid}`` for the versions it was given.
The exchange's own Patient must never be made of a node Patient the requester may not
see.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from exchange_support import NHS, SCT, ordinary_record, patient, sensitive_record
from sqlalchemy import select

from healthycity.core.db import transaction
from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.dev.harness import Harness
from healthycity.exchange.identity.nhsnumber import generate_test_numbers
from healthycity.exchange.models import AuditRecord, Person, PersonLink
from healthycity.exchange.settings import ExchangeSettings

ALICE, BOB, CARA, EVE = generate_test_numbers(4, seed=1818)
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PRIVACY_SCOPE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
    ]
}


def versioned_condition(version: str, status: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": "b-asthma",
        "meta": {"versionId": version, "lastUpdated": f"2025-0{version}-01T00:00:00Z"},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": status,
                }
            ]
        },
        "code": {"coding": [{"system": SCT, "code": "195967001"}]},
        "subject": {"reference": "Patient/b"},
        "encounter": {"reference": "Encounter/b-visit"},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    folder: Path = tmp_path_factory.mktemp("conformance-reads")
    engine = make_engine(f"sqlite:///{folder / 'exchange.db'}")
    upgrade(engine)
    harness = Harness(
        engine, settings=ExchangeSettings(node_timeout_seconds=2.0, node_health_interval_seconds=0)
    )
    north = harness.add_node("north")
    south = harness.add_node("south")
    # Alice is at both nodes, under different names; her consent withholds her north
    # Patient record (and only that record) from everyone.
    north.store.add_all(
        [
            patient("a-n", ALICE, "Northam", "Alice", postcode="N1 1AA"),
            *ordinary_record("a-n", "a-n"),
        ]
    )
    south.store.add_all([patient("a-s", ALICE, "Southey", "Alice", postcode="SE1 1AA")])
    # Bob: an ordinary and an HIV record at north; a Condition with history at south.
    north.store.add_all(
        [
            patient("b-n", BOB, "Brown", "Bob"),
            *ordinary_record("b-n", "b-n"),
            *sensitive_record("b-n", "b-n"),
        ]
    )
    visit = {
        "resourceType": "Encounter",
        "id": "b-visit",
        "status": "finished",
        "class": {"system": ACT, "code": "AMB"},
        "subject": {"reference": "Patient/b"},
    }
    south.store.add_all(
        [
            patient("b", BOB, "Brown", "Bob"),
            visit,
            versioned_condition("1", "active"),
            versioned_condition("2", "resolved"),
        ]
    )
    # Eve: her NHS number is only on her north record, which her consent withholds.
    north.store.add_all([patient("e-n", EVE, "Evans", "Eve")])
    south.store.add_all([patient("e-s", None, "Evans", "Eve")])
    # Cara: known at north only, with no relationship to the requesting practice.
    north.store.add_all([patient("c-n", CARA, "Clay", "Cara"), *ordinary_record("c-n", "c-n")])
    with harness:
        with transaction(engine) as session:  # as a steward would link them
            eve = session.execute(select(Person).where(Person.nhs_number == EVE)).scalar_one()
            link = session.execute(
                select(PersonLink).where(PersonLink.local_id == "e-s")
            ).scalar_one()
            link.person_id = eve.id
        for number in (ALICE, BOB, EVE):
            harness.relate(number, "gp", "F84001")
        withhold_north = {
            "resourceType": "Consent",
            "status": "active",
            "scope": PRIVACY_SCOPE,
            "provision": {
                "type": "permit",
                "provision": [
                    {
                        "type": "deny",
                        "data": [
                            {"meaning": "instance", "reference": {"reference": "Patient/e-n"}}
                        ],
                    }
                ],
            },
        }
        harness.consent(EVE, withhold_north)
        harness.consent(
            ALICE,
            {
                "resourceType": "Consent",
                "status": "active",
                "scope": PRIVACY_SCOPE,
                "provision": {
                    "type": "permit",
                    "provision": [
                        {
                            "type": "deny",
                            "data": [
                                {"meaning": "instance", "reference": {"reference": "Patient/a-n"}}
                            ],
                        }
                    ],
                },
            },
        )
        harness.consent(
            BOB,
            {
                "resourceType": "Consent",
                "status": "active",
                "scope": PRIVACY_SCOPE,
                "provision": {
                    "type": "permit",
                    "provision": [
                        {"type": "deny", "securityLabel": [{"system": ACT, "code": "HIV"}]}
                    ],
                },
            },
        )
        yield harness
    engine.dispose()


def gp(world: Harness) -> httpx.Client:
    return world.client(world.issuer.mint(subject="dr-gp", role="R8000", organisation="F84001"))


def audited(world: Harness, path: str) -> list[dict[str, Any]]:
    """The AuditEvents of requests for exactly ``path``, with their withheld count."""
    found = []
    with transaction(world.engine) as session:
        for record in session.scalars(select(AuditRecord).order_by(AuditRecord.seq)):
            event = orjson.loads(record.body)
            for entity in event.get("entity") or []:
                query = entity.get("query")
                if query and base64.b64decode(query).decode() == path:
                    details = {d["type"]: d.get("valueString") for d in entity.get("detail") or []}
                    withheld = next(
                        (
                            d.get("valueString")
                            for e in event["entity"]
                            for d in e.get("detail") or []
                            if d["type"] == "withheld"
                        ),
                        "0",
                    )
                    found.append(
                        {
                            "person_id": record.person_id,
                            "outcome": record.outcome,
                            "desc": event.get("outcomeDesc", ""),
                            "withheld": int(withheld or 0),
                            "details": details,
                        }
                    )
    return found


def test_the_exchange_patient_is_made_only_of_released_node_patients(world: Harness) -> None:
    alice = world.person_id(ALICE)
    north = world.nodes["north"].url
    with gp(world) as client:
        read = client.get(f"/Patient/{alice}")
        everything = client.get(f"/Patient/{alice}/$everything").json()
    assert read.status_code == 200, read.text
    ours = [
        e["resource"]
        for e in everything["entry"]
        if e["search"]["mode"] == "match" and e["resource"]["resourceType"] == "Patient"
    ]
    assert [p["id"] for p in ours] == [alice, "a-s"]  # north's Patient was withheld
    for person in (read.json(), ours[0]):
        assert person["name"][0]["family"] == "Southey"
        assert person["address"][0]["postalCode"] == "SE1 1AA"
        assert north not in str(person) and "a-n" not in str(person)
        assert {"system": NHS, "value": ALICE} in person["identifier"]  # south holds it too


def test_patient_read_has_a_version_an_etag_and_answers_304(world: Harness) -> None:
    bob = world.person_id(BOB)
    with gp(world) as client:
        read = client.get(f"/Patient/{bob}")
        again = client.get(f"/Patient/{bob}")
        body = read.json()
        version = body["meta"]["versionId"]
        assert version and body["meta"]["lastUpdated"]
        assert read.headers["etag"] == f'W/"{version}"' == again.headers["etag"]
        assert "last-modified" in read.headers
        unchanged = client.get(f"/Patient/{bob}", headers={"If-None-Match": f'W/"{version}"'})
        assert unchanged.status_code == 304 and unchanged.content == b""
        other = client.get(f"/Patient/{bob}", headers={"If-None-Match": 'W/"stale"'})
        assert other.status_code == 200
        vread = client.get(f"/Patient/{bob}/_history/{version}")
        assert vread.status_code == 200 and vread.json() == body | {"meta": vread.json()["meta"]}
        assert client.get(f"/Patient/{bob}/_history/not-a-version").status_code == 404


def test_node_records_read_at_the_exchange_through_the_gate(world: Harness) -> None:
    bob = world.person_id(BOB)
    with gp(world) as client:
        found = client.get("/Condition", params={"patient": bob}).json()
        ids = sorted(e["resource"]["id"] for e in found["entry"] if e["search"]["mode"] == "match")
        assert "b-n-diabetes" in ids and "b-n-hiv" not in ids
        read = client.get("/Condition/b-n-diabetes")
        assert read.status_code == 200, read.text
        body = read.json()
        assert body["subject"]["reference"] == f"Patient/{bob}"
        assert body["meta"]["versionId"] and read.headers["etag"]
        assert read.headers["etag"] == f'W/"{body["meta"]["versionId"]}"'
        assert (
            client.get(
                "/Condition/b-n-diabetes", headers={"If-None-Match": read.headers["etag"]}
            ).status_code
            == 304
        )
        # Withheld by consent, unknown, or another type's id: all the same 404.
        for path in ("/Condition/b-n-hiv", "/Condition/nothing-here", "/Condition/b-n-visit"):
            missing = client.get(path)
            assert missing.status_code == 404, (path, missing.text)
            assert missing.json()["resourceType"] == "OperationOutcome"
            assert "hiv" not in missing.text.lower() and "withheld" not in missing.text
    [withheld] = audited(world, "/Condition/b-n-hiv")
    assert withheld["person_id"] == bob and withheld["outcome"] == "0"  # audited as it was
    assert withheld["withheld"] >= 1


def test_a_record_of_someone_without_a_relationship_reads_as_not_found(world: Harness) -> None:
    with gp(world) as client:
        refused = client.get("/Condition/c-n-diabetes")
    assert refused.status_code == 404 and "forbidden" not in refused.text
    [entry] = audited(world, "/Condition/c-n-diabetes")
    assert entry["outcome"] == "4" and "403" in entry["desc"], entry


def test_vread_where_the_node_keeps_history(world: Harness) -> None:
    with gp(world) as client:
        current = client.get("/Condition/b-asthma")
        assert current.status_code == 200, current.text
        assert current.json()["meta"]["versionId"] == "2"
        assert current.headers["last-modified"] == "Sat, 01 Feb 2025 00:00:00 GMT"
        first = client.get("/Condition/b-asthma/_history/1")
        assert first.status_code == 200, first.text
        assert first.json()["clinicalStatus"]["coding"][0]["code"] == "active"
        assert first.headers["etag"] == 'W/"1"'
        second = client.get("/Condition/b-asthma/_history/2").json()
        assert second["clinicalStatus"]["coding"][0]["code"] == "resolved"
        assert client.get("/Condition/b-asthma/_history/7").status_code == 404
        # A node without history still answers the version the exchange gave out.
        diabetes = client.get("/Condition/b-n-diabetes").json()
        version = diabetes["meta"]["versionId"]
        again = client.get(f"/Condition/b-n-diabetes/_history/{version}")
        assert again.status_code == 200 and again.json()["id"] == "b-n-diabetes"


def test_references_in_results_resolve_at_the_exchange(world: Harness) -> None:
    bob = world.person_id(BOB)
    with gp(world) as client:
        condition = client.get("/Condition/b-asthma").json()
        assert condition["encounter"]["reference"] == "Encounter/b-visit"
        encounter = client.get("/Encounter/b-visit")
        assert encounter.status_code == 200, encounter.text
        assert encounter.json()["subject"]["reference"] == f"Patient/{bob}"
        page = client.get("/Condition", params={"patient": bob}).json()
    for entry in page["entry"]:
        if entry["search"]["mode"] == "match":
            resource = entry["resource"]
            assert entry["fullUrl"] == (f"{world.exchange_url}/Condition/{resource['id']}"), entry[
                "fullUrl"
            ]


def test_an_nhs_number_only_a_withheld_record_holds_is_not_shown(world: Harness) -> None:
    eve = world.person_id(EVE)
    with gp(world) as client:
        read = client.get(f"/Patient/{eve}")
        everything = client.get(f"/Patient/{eve}/$everything").json()
    assert read.status_code == 200, read.text
    [ours] = [e["resource"] for e in everything["entry"] if e["resource"]["id"] == eve]
    for person in (read.json(), ours):
        assert EVE not in str(person), person
        assert "e-n" not in str(person) and world.nodes["north"].url not in str(person)
        assert {"system": f"{world.nodes['south'].url}/Patient", "value": "e-s"} in person[
            "identifier"
        ]
