"""R4B model validation of incoming resources, with the verdict cached per version."""

from __future__ import annotations

import csv
import json

from exchange_support import reference_path

from healthycity.exchange.federation.validation import ResourceValidator


def test_synthea_resources_are_valid() -> None:
    validator = ResourceValidator()
    folder = reference_path("synthea", "bundles")
    checked = 0
    for path in sorted(folder.glob("[A-Z]*_*.json"))[:2]:
        for entry in json.loads(path.read_text())["entry"]:
            verdict = validator.check(entry["resource"])
            assert verdict.ok, verdict.problem
            checked += 1
    assert checked > 400


def test_invalid_resources_are_reported_without_their_values() -> None:
    validator = ResourceValidator()
    bad_date = validator.check({"resourceType": "Patient", "id": "x", "birthDate": "31/02/1970"})
    assert not bad_date.ok and bad_date.problem is not None
    assert "birthDate" in bad_date.problem and "31/02/1970" not in bad_date.problem
    assert not validator.check({"resourceType": "Spaceship", "id": "x"}).ok
    assert not validator.check({"id": "x"}).ok
    assert not validator.check({"resourceType": "Observation", "id": "x", "status": "final"}).ok
    assert not validator.check({"resourceType": "Patient", "name": "not a list of HumanName"}).ok


def test_each_version_is_validated_once() -> None:
    validator = ResourceValidator()
    patient = {"resourceType": "Patient", "id": "p", "meta": {"versionId": "1"}, "gender": "female"}
    for _ in range(5):
        assert validator.check(patient).ok
    assert (validator.misses, validator.hits) == (1, 4)
    changed = patient | {"meta": {"versionId": "2"}, "birthDate": "not-a-date"}
    assert not validator.check(changed).ok
    assert validator.misses == 2
    # The same version altered in place is new content: it is validated again.
    tampered = patient | {"birthDate": "nope"}
    assert not validator.check(tampered).ok


def test_cache_is_bounded() -> None:
    validator = ResourceValidator(cache_size=50)
    for n in range(200):
        validator.check({"resourceType": "Patient", "id": f"p{n}"})
    assert len(validator._verdicts) <= 50


def test_hl7_validator_cases_expected_to_pass_are_not_rejected() -> None:
    folder = reference_path("test_cases", "fhir_validator_r4")
    validator = ResourceValidator()
    rows = list(csv.DictReader((folder / "expected_error_counts.csv").open()))
    good = [r for r in rows if r["error_or_fatal_issues"] == "0"]
    assert len(good) == 19
    for row in good:
        resource = json.loads((folder / "inputs" / row["input_file"]).read_text())
        verdict = validator.check(resource)
        assert verdict.ok, (row["name"], verdict.problem)
