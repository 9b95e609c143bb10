"""FHIR conformance of the exchange's HTTP surface (issue 18, item 5 and the writes).

An independent client relies on the server saying what it cannot do the FHIR way:
406 for a format or FHIR version it does not speak, 415 for a body it cannot read, 400
for malformed JSON, an OperationOutcome for every error (the framework's own 404, 405
and 422 included), a Consent checked against R4's required codes before it is stored,
and an absolute ``Location`` naming the version created.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from exchange_support import NHS, ordinary_record, patient

from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.dev.harness import Harness
from healthycity.exchange.identity.nhsnumber import generate_test_numbers
from healthycity.exchange.settings import ExchangeSettings

(ALICE,) = generate_test_numbers(1, seed=181)
PRIVACY: dict[str, Any] = {
    "resourceType": "Consent",
    "status": "active",
    "scope": {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                "code": "patient-privacy",
            }
        ]
    },
    "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
    "patient": {"identifier": {"system": NHS, "value": ALICE}},
    "provision": {"type": "permit"},
}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    folder: Path = tmp_path_factory.mktemp("conformance-http")
    engine = make_engine(f"sqlite:///{folder / 'exchange.db'}")
    upgrade(engine)
    harness = Harness(
        engine, settings=ExchangeSettings(node_timeout_seconds=2.0, node_health_interval_seconds=0)
    )
    harness.add_node("north").store.add_all(
        [patient("a", ALICE, "Smith", "Alice"), *ordinary_record("a", "a")]
    )
    with harness:
        harness.relate(ALICE, "gp", "F84001")
        yield harness
    engine.dispose()


def _gp(world: Harness) -> httpx.Client:
    return world.client(world.issuer.mint(subject="dr-gp", role="R8000", organisation="F84001"))


def _citizen(world: Harness) -> httpx.Client:
    token = world.issuer.mint(
        subject="citizen-alice",
        role="citizen",
        scope="patient/*.read patient/Consent.read patient/Consent.write",
        patient=ALICE,
    )
    return world.client(token)


def _outcome(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    assert body["issue"] and all(i["severity"] and i["code"] for i in body["issue"])
    return body


@pytest.mark.parametrize(
    ("params", "accept"),
    [
        ({"_format": "xml"}, None),
        ({"_format": "application/fhir+xml"}, None),
        ({}, "application/fhir+xml"),
        ({}, "application/fhir+json; fhirVersion=3.0"),
        ({"_format": "application/fhir+json;fhirVersion=3.0"}, None),
        ({}, "text/turtle"),
    ],
)
def test_formats_and_versions_not_spoken_are_refused_with_406(
    world: Harness, params: dict[str, str], accept: str | None
) -> None:
    alice = world.person_id(ALICE)
    headers = {"Accept": accept} if accept else {}
    with _gp(world) as client:
        for path in (f"/Patient/{alice}", "/metadata", "/Condition"):
            response = client.get(path, params=params | {"patient": alice}, headers=headers)
            body = _outcome(response, 406)
            assert body["issue"][0]["code"] == "not-supported"
            assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("params", "accept"),
    [
        ({"_format": "json"}, None),
        ({"_format": "application/fhir+json"}, None),
        ({}, "application/fhir+json; fhirVersion=4.0"),
        ({}, "application/json"),
        ({}, "text/html,application/xhtml+xml,*/*;q=0.8"),
        ({}, "application/fhir+xml;q=0, application/fhir+json"),
    ],
)
def test_json_in_any_spelling_is_served(
    world: Harness, params: dict[str, str], accept: str | None
) -> None:
    headers = {"Accept": accept} if accept else {}
    with _gp(world) as client:
        response = client.get(f"/Patient/{world.person_id(ALICE)}", params=params, headers=headers)
    assert response.status_code == 200, response.text


def test_a_body_in_another_media_type_is_refused_with_415(world: Harness) -> None:
    import orjson

    with _citizen(world) as client:
        for content_type in (
            "application/fhir+xml",
            "text/plain",
            "application/x-www-form-urlencoded",
        ):
            response = client.post(
                "/Consent", content=orjson.dumps(PRIVACY), headers={"Content-Type": content_type}
            )
            _outcome(response, 415)
        versioned = client.post(
            "/Consent",
            content=orjson.dumps(PRIVACY),
            headers={"Content-Type": "application/fhir+json; fhirVersion=3.0"},
        )
        _outcome(versioned, 415)


def test_malformed_json_is_400(world: Harness) -> None:
    with _citizen(world) as client:
        for body in (b'{"resourceType": "Consent",', b"not json", b"[1, 2"):
            response = client.post(
                "/Consent", content=body, headers={"Content-Type": "application/fhir+json"}
            )
            body_json = _outcome(response, 400)
            assert body_json["issue"][0]["code"] == "structure"
        alice = world.person_id(ALICE)
        not_an_object = client.post(
            f"/Patient/{alice}/$break-glass",
            content=b"[]",
            headers={"Content-Type": "application/fhir+json"},
        )
        _outcome(not_an_object, 400)


def test_every_framework_error_is_an_operation_outcome(world: Harness) -> None:
    with _gp(world) as client:
        _outcome(client.get("/NoSuchType"), 404)
        _outcome(client.get("/Patient/x/y/z"), 404)
        _outcome(client.delete(f"/Patient/{world.person_id(ALICE)}"), 405)
        _outcome(client.put("/metadata", json={}), 405)
        _outcome(client.get("/Patient/" + "x" * 65), 422)
        _outcome(client.get("/Condition", params={"patient": "p" * 81}), 422)


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"status": "bogus"}, "Consent.status"),
        ({"status": None}, "status"),
        ({"scope": None}, "scope"),
        ({"scope": {"coding": [{"code": "shopping"}]}}, "Consent.scope"),
        ({"category": []}, "Consent.category"),
        ({"provision": {"type": "maybe"}}, "provision"),
        ({"provision": {"type": "permit", "provision": [{"type": "sometimes"}]}}, "provision"),
    ],
)
def test_a_consent_breaking_r4_rules_is_refused_and_not_stored(
    world: Harness, change: dict[str, Any], why: str
) -> None:
    body = {k: v for k, v in (PRIVACY | change).items() if v is not None}
    alice = world.person_id(ALICE)
    with _citizen(world) as client:
        before = client.get("/Consent", params={"patient": alice}).json()["total"]
        response = client.post("/Consent", json=body)
        assert response.status_code in (400, 422), response.text
        assert why in _outcome(response, response.status_code)["issue"][0]["diagnostics"]
        assert client.get("/Consent", params={"patient": alice}).json()["total"] == before


def test_create_answers_an_absolute_versioned_location_that_reads_back(world: Harness) -> None:
    with _citizen(world) as client:
        created = client.post("/Consent", json=PRIVACY)
        assert created.status_code == 201, created.text
        stored = created.json()
        location = created.headers["location"]
        assert location == f"{world.exchange_url}/Consent/{stored['id']}/_history/1"
        assert stored["meta"]["versionId"] == "1" and stored["meta"]["lastUpdated"]
        assert created.headers["etag"] == 'W/"1"'
        version = httpx.get(location, headers=client.headers, timeout=10)
        assert version.status_code == 200 and version.json()["id"] == stored["id"]
        read = client.get(f"/Consent/{stored['id']}")
        assert read.status_code == 200 and read.json()["meta"]["versionId"] == "1"
        unchanged = client.get(f"/Consent/{stored['id']}", headers={"If-None-Match": 'W/"1"'})
        assert unchanged.status_code == 304 and unchanged.content == b""
        withdrawn = client.put(f"/Consent/{stored['id']}", json=stored | {"status": "inactive"})
        assert withdrawn.status_code == 200 and withdrawn.json()["meta"]["versionId"] == "2"
        changed = client.get(f"/Consent/{stored['id']}", headers={"If-None-Match": 'W/"1"'})
        assert changed.status_code == 200 and changed.headers["etag"] == 'W/"2"'
        # Every version is kept: the one the create's Location named still reads back,
        # as it was then (active), beside the current one.
        first = client.get(f"/Consent/{stored['id']}/_history/1")
        assert first.status_code == 200, first.text
        assert first.json()["status"] == "active" and first.json()["meta"]["versionId"] == "1"
        assert first.headers["etag"] == 'W/"1"'
        second = client.get(f"/Consent/{stored['id']}/_history/2").json()
        assert second["status"] == "inactive" and second["meta"]["versionId"] == "2"
        _outcome(client.get(f"/Consent/{stored['id']}/_history/3"), 404)  # not yet made


def test_the_capability_statement_names_a_real_absolute_url(world: Harness) -> None:
    with world.client() as client:
        statement = client.get("/metadata").json()
    url = statement["implementation"]["url"]
    assert url == world.exchange_url and url.startswith("http://127.0.0.1:")
    assert statement["fhirVersion"] == "4.0.1"
