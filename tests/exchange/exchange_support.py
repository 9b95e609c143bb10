"""Helpers shared by the exchange's tests (imported by name; not a conftest, so the
name cannot collide with other folders' conftest modules)."""

from __future__ import annotations

from pathlib import Path

import pytest

# The checkout's parent holds ``shared/`` (read-only reference material, never copied).
SHARED = Path(__file__).resolve().parents[3] / "shared"
REFERENCE = SHARED / "reference" / "exchange"


def reference_path(*parts: str) -> Path:
    """A file or folder under the shared reference data; skips the test when absent."""
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not present: {path}")
    return path


SCT = "http://snomed.info/sct"
LOINC = "http://loinc.org"
NHS = "https://fhir.nhs.uk/Id/nhs-number"


def patient(
    local_id: str,
    nhs_number: str | None,
    family: str,
    given: str,
    birth_date: str = "1980-04-01",
    postcode: str = "E1 6AN",
    gender: str = "female",
) -> dict[str, object]:
    """A node-local Patient (NHS number optional, as local systems often lack one)."""
    resource: dict[str, object] = {
        "resourceType": "Patient",
        "id": local_id,
        "name": [{"use": "official", "family": family, "given": [given]}],
        "gender": gender,
        "birthDate": birth_date,
        "address": [
            {"use": "home", "line": ["1 High Street"], "city": "London", "postalCode": postcode}
        ],
        "telecom": [{"system": "phone", "value": "020 7946 0000"}],
    }
    if nhs_number:
        resource["identifier"] = [{"system": NHS, "value": nhs_number}]
    return resource


def coded(system: str, code: str) -> dict[str, object]:
    return {"coding": [{"system": system, "code": code}]}


def sensitive_record(prefix: str, patient_id: str) -> list[dict[str, object]]:
    """An HIV diagnosis, the encounter for it and a test taken in that encounter."""
    subject = {"reference": f"Patient/{patient_id}"}
    return [
        {
            "resourceType": "Condition",
            "id": f"{prefix}-hiv",
            "subject": subject,
            "code": coded(SCT, "86406008"),
        },
        {
            "resourceType": "Encounter",
            "id": f"{prefix}-hiv-visit",
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "subject": subject,
            "reasonReference": [{"reference": f"Condition/{prefix}-hiv"}],
        },
        {
            "resourceType": "Observation",
            "id": f"{prefix}-viral-load",
            "status": "final",
            "code": coded(LOINC, "20447-9"),
            "subject": subject,
            "encounter": {"reference": f"Encounter/{prefix}-hiv-visit"},
        },
    ]


def ordinary_record(prefix: str, patient_id: str) -> list[dict[str, object]]:
    """A diabetes diagnosis, a blood pressure, a prescription, an allergy, a vaccine."""
    subject = {"reference": f"Patient/{patient_id}"}
    return [
        {
            "resourceType": "Condition",
            "id": f"{prefix}-diabetes",
            "subject": subject,
            "code": coded(SCT, "44054006"),
        },
        {
            "resourceType": "Observation",
            "id": f"{prefix}-bp",
            "status": "final",
            "code": coded(LOINC, "85354-9"),
            "subject": subject,
        },
        {
            "resourceType": "MedicationRequest",
            "id": f"{prefix}-metformin",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": coded(
                "http://www.nlm.nih.gov/research/umls/rxnorm", "860975"
            ),
            "subject": subject,
        },
        {
            "resourceType": "AllergyIntolerance",
            "id": f"{prefix}-penicillin",
            "patient": subject,
            "code": coded(SCT, "91936005"),
        },
        {
            "resourceType": "Immunization",
            "id": f"{prefix}-flu",
            "status": "completed",
            "vaccineCode": coded("http://hl7.org/fhir/sid/cvx", "140"),
            "patient": subject,
            "occurrenceDateTime": "2025-10-01",
        },
    ]
