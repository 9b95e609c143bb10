"""The consent engine: share by default, opt-out, sensitive categories, named
organisations, break-glass, and the release choke point."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from exchange_support import reference_path

from healthycity.exchange.access.consent import (
    Candidate,
    ConsentDirective,
    ConsentFormatError,
    ConsentSession,
    Requester,
    Verdict,
    compile_consent,
    release,
)

ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
GP = Requester(organisation="F84001", practitioner="dr-a", purpose="TREAT")
HOSPITAL = Requester(organisation="RAL01", practitioner="dr-b", purpose="TREAT")
SCOPE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
    ]
}


def consent(
    provision: dict[str, Any], *, rule: str = "OPTIN", status: str = "active"
) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": "c1",
        "status": status,
        "scope": SCOPE,
        "policyRule": {"coding": [{"system": ACT, "code": rule}]},
        "patient": {"reference": "Patient/p1"},
        "provision": provision,
    }


def directives(*resources: dict[str, Any]) -> list[ConsentDirective]:
    compiled = [compile_consent(r) for r in resources]
    return [d for d in compiled if d is not None]


def record() -> list[Candidate]:
    """A small record: an HIV diagnosis, the encounter for it, a test in that encounter,
    a report of that test, a depression diagnosis, a blood pressure, and the patient."""
    sct = "http://snomed.info/sct"
    resources = [
        {"resourceType": "Patient", "id": "p1", "name": [{"family": "Smith"}]},
        {
            "resourceType": "Condition",
            "id": "hiv",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": sct, "code": "86406008"}]},
        },
        {
            "resourceType": "Encounter",
            "id": "e1",
            "subject": {"reference": "Patient/p1"},
            "reasonReference": [{"reference": "Condition/hiv"}],
        },
        {
            "resourceType": "Observation",
            "id": "o-vl",
            "subject": {"reference": "Patient/p1"},
            "encounter": {"reference": "Encounter/e1"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
        },
        {
            "resourceType": "DiagnosticReport",
            "id": "dr1",
            "subject": {"reference": "Patient/p1"},
            "result": [{"reference": "Observation/o-vl"}],
        },
        {
            "resourceType": "Condition",
            "id": "dep",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "F32.1"}]},
        },
        {
            "resourceType": "Observation",
            "id": "bp",
            "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        },
        {
            "resourceType": "List",
            "id": "problems",
            "subject": {"reference": "Patient/p1"},
            "entry": [
                {"item": {"reference": "Condition/hiv"}},
                {"item": {"reference": "Condition/dep"}},
            ],
        },
    ]
    return [Candidate(r, "node-a") for r in resources]


def shown_ids(who: Requester, rules: list[ConsentDirective], mode: str = "normal") -> set[str]:
    session = ConsentSession(rules, who, now=NOW, mode=mode)  # type: ignore[arg-type]
    return {r["id"] for r, _ in release(session, record()).resources}


ALL = {"p1", "hiv", "e1", "o-vl", "dr1", "dep", "bp", "problems"}


def test_no_consent_shares_everything() -> None:
    assert shown_ids(GP, []) == ALL


def test_opt_out_rejects_the_whole_record_and_counts_it() -> None:
    rules = directives(consent({}, rule="OPTOUT"))
    session = ConsentSession(rules, GP, now=NOW)
    result = release(session, record())
    assert result.resources == []
    assert result.outcome.verdict is Verdict.REJECT
    assert result.outcome.withheld == len(ALL)


def test_break_glass_overrides_opt_out_and_says_what_it_exposed() -> None:
    rules = directives(consent({"type": "deny"}))
    session = ConsentSession(rules, GP, now=NOW, mode="break-glass")
    result = release(session, record())
    assert {r["id"] for r, _ in result.resources} == ALL
    assert result.outcome.verdict is Verdict.AUTHORIZED
    assert result.outcome.overridden == len(ALL)


def test_withholding_a_category_follows_clinical_links() -> None:
    rules = directives(
        consent(
            {
                "type": "permit",
                "provision": [{"type": "deny", "securityLabel": [{"system": ACT, "code": "HIV"}]}],
            }
        )
    )
    # The encounter for the HIV diagnosis, the test taken in it and the report of that
    # test all betray the diagnosis, so they go too.
    assert shown_ids(GP, rules) == {"p1", "dep", "bp", "problems"}


def test_references_to_withheld_records_are_removed() -> None:
    rules = directives(
        consent({"provision": [{"securityLabel": [{"system": ACT, "code": "HIV"}]}]})
    )
    session = ConsentSession(rules, GP, now=NOW)
    result = release(session, record())
    problems = next(r for r, _ in result.resources if r["id"] == "problems")
    assert problems["entry"] == [{"item": {"reference": "Condition/dep"}}]
    assert result.outcome.redacted == 1
    assert "Condition/hiv" not in json.dumps([r for r, _ in result.resources])


def test_withholding_mental_health_by_icd10_prefix() -> None:
    rules = directives(
        consent({"provision": [{"securityLabel": [{"system": ACT, "code": "PSY"}]}]})
    )
    assert shown_ids(GP, rules) == ALL - {"dep"}


def test_withholding_by_code() -> None:
    rules = directives(
        consent(
            {
                "provision": [
                    {"code": [{"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}]}
                ]
            }
        )
    )
    assert shown_ids(GP, rules) == ALL - {"bp"}


def test_withholding_from_a_named_organisation_only() -> None:
    rules = directives(
        consent(
            {
                "provision": [
                    {"type": "deny", "actor": [{"reference": {"reference": "Organization/RAL01"}}]}
                ]
            }
        )
    )
    assert shown_ids(HOSPITAL, rules) == set()
    assert shown_ids(GP, rules) == ALL
    session = ConsentSession(rules, HOSPITAL, now=NOW)
    assert session.start() is Verdict.REJECT


def test_withholding_a_category_from_one_organisation() -> None:
    rules = directives(
        consent(
            {
                "provision": [
                    {
                        "actor": [
                            {
                                "reference": {
                                    "identifier": {
                                        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                                        "value": "RAL01",
                                    }
                                }
                            }
                        ],
                        "securityLabel": [{"system": ACT, "code": "PSY"}],
                    }
                ]
            }
        )
    )
    assert shown_ids(HOSPITAL, rules) == ALL - {"dep"}
    assert shown_ids(GP, rules) == ALL


def test_any_deny_wins_across_consents() -> None:
    hiv = consent({"provision": [{"securityLabel": [{"system": ACT, "code": "HIV"}]}]})
    psy = consent({"provision": [{"securityLabel": [{"system": ACT, "code": "PSY"}]}]})
    assert shown_ids(GP, directives(hiv, psy)) == {"p1", "bp", "problems"}


def test_opt_out_with_an_exception_for_a_type_filters_per_resource() -> None:
    rules = directives(
        consent(
            {
                "provision": [
                    {"class": [{"system": "http://hl7.org/fhir/resource-types", "code": "Patient"}]}
                ]
            },
            rule="OPTOUT",
        )
    )
    session = ConsentSession(rules, GP, now=NOW)
    assert session.start() is Verdict.PROCEED
    assert shown_ids(GP, rules) == {"p1"}


def test_an_exception_the_engine_cannot_evaluate_never_widens_sharing() -> None:
    rules = directives(
        consent(
            {
                "type": "deny",
                "provision": [{"type": "permit", "dataPeriod": {"start": "2020-01-01"}}],
            }
        )
    )
    assert shown_ids(GP, rules) == set()


def test_inactive_expired_and_non_privacy_consents_do_not_restrict() -> None:
    inactive = consent({"type": "deny"}, status="inactive")
    expired = consent({"type": "deny", "period": {"start": "2015-01-01", "end": "2015-02-01"}})
    treatment = consent({"type": "deny"}) | {"scope": {"coding": [{"code": "treatment"}]}}
    assert shown_ids(GP, directives(inactive, expired, treatment)) == ALL


def test_purpose_limited_denial() -> None:
    rules = directives(
        consent(
            {
                "type": "deny",
                "purpose": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                        "code": "HRESCH",
                    }
                ],
            }
        )
    )
    assert shown_ids(GP, rules) == ALL
    researcher = Requester(organisation="X", practitioner="r", purpose="HRESCH")
    assert shown_ids(researcher, rules) == set()


def test_a_denial_for_other_actions_does_not_stop_reading() -> None:
    action = {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/consentaction", "code": "correct"}
        ]
    }
    rules = directives(consent({"type": "deny", "action": [action]}))
    assert shown_ids(GP, rules) == ALL


def test_self_access_is_not_restricted_by_consent() -> None:
    rules = directives(consent({"type": "deny"}))
    assert shown_ids(GP, rules, mode="self") == ALL


def test_malformed_consents_are_refused() -> None:
    with pytest.raises(ConsentFormatError):
        compile_consent({"resourceType": "Patient"})
    with pytest.raises(ConsentFormatError):
        compile_consent(consent({"type": "maybe"}))


def test_restricted_patient_is_redacted_like_pds() -> None:
    patient = json.loads(
        reference_path("test_cases", "pds_sandbox", "sandbox_mocks", "Patient.json").read_text()
    )
    patient.setdefault("meta", {})["security"] = [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
    ]
    assert "address" in patient
    session = ConsentSession([], GP, now=NOW)
    shown = release(session, [Candidate(patient, "pds")]).resources[0][0]
    assert not {"address", "telecom", "contact", "generalPractitioner"} & shown.keys()
    assert shown["name"] == patient["name"]
    emergency = ConsentSession([], GP, now=NOW, mode="break-glass")
    assert "address" in release(emergency, [Candidate(patient, "pds")]).resources[0][0]


def test_every_hl7_consent_example_compiles_and_a_custodian_opt_out_applies() -> None:
    folder = reference_path("fhir_examples", "hl7_r4_examples")
    files = sorted(folder.glob("Consent-*.json"))
    assert len(files) == 12
    for path in files:
        compile_consent(json.loads(path.read_text()))
    opt_out = compile_consent(json.loads((folder / "Consent-consent-example-Out.json").read_text()))
    assert opt_out is not None
    f001 = Requester(organisation="f001", practitioner=None)
    assert ConsentSession([opt_out], f001, now=NOW).start() is Verdict.REJECT
    assert ConsentSession([opt_out], GP, now=NOW).start() is Verdict.PROCEED
