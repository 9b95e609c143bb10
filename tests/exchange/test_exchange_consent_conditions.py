"""Consent conditions on the data itself: ``dataPeriod`` (with partial and missing
dates), ``data.meaning`` (instance, related, dependents, authoredby), how they nest, and
the fail-closed rule for what still cannot be evaluated."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from exchange_support import reference_path
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from healthycity.exchange.access.consent import (
    Candidate,
    ConsentDirective,
    ConsentFormatError,
    ConsentSession,
    EvaluationContext,
    Provision,
    Requester,
    Verdict,
    compile_consent,
    release,
)
from healthycity.exchange.access.sensitivity import SensitivityClassifier, clinical_time

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
GP = Requester(organisation="F84001", practitioner="dr-a", purpose="TREAT")
SCT = "http://snomed.info/sct"
GMC = "https://fhir.hl7.org.uk/Id/gmc-number"
SCOPE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}
    ]
}


def consent(provision: dict[str, Any], consent_id: str = "c1") -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": consent_id,
        "status": "active",
        "scope": SCOPE,
        "patient": {"reference": "Patient/p1"},
        "provision": provision,
    }


def directives(*provisions: dict[str, Any]) -> list[ConsentDirective]:
    compiled = [compile_consent(consent(p, f"c{i}")) for i, p in enumerate(provisions)]
    return [d for d in compiled if d is not None]


def ref(target: str) -> dict[str, str]:
    return {"reference": target}


def record() -> list[dict[str, Any]]:
    """One patient's record, dated in every way the engine has to understand."""
    subject = ref("Patient/p1")
    return [
        {"resourceType": "Patient", "id": "p1"},
        {
            "resourceType": "Encounter",
            "id": "enc-2019",
            "subject": subject,
            "period": {"start": "2019-03-01T09:00:00Z", "end": "2019-03-01T10:00:00Z"},
            "participant": [{"individual": ref("Practitioner/dr-x")}],
            "serviceProvider": ref("Organization/org-1"),
        },
        {
            "resourceType": "Encounter",
            "id": "enc-ongoing",
            "subject": subject,
            "period": {"start": "2021-05-01"},
            "participant": [{"individual": ref("Practitioner/dr-y")}],
        },
        {
            "resourceType": "Observation",
            "id": "obs-2019",
            "subject": subject,
            "effectiveDateTime": "2019-03-01T09:30:00Z",
            "encounter": ref("Encounter/enc-2019"),
            "performer": [ref("https://node-a.example/fhir/Practitioner/dr-x/_history/2")],
        },
        {
            "resourceType": "Observation",
            "id": "obs-year",
            "subject": subject,
            "effectiveDateTime": "2020",
            "performer": [{"identifier": {"system": GMC, "value": "7654321"}}],
        },
        {
            "resourceType": "Observation",
            "id": "obs-issued",
            "subject": subject,
            "issued": "2022-01-10T08:00:00Z",
        },
        {
            "resourceType": "Condition",
            "id": "cond-month",
            "subject": subject,
            "onsetDateTime": "2020-06",
            "recorder": ref("Practitioner/dr-y"),
        },
        {"resourceType": "Condition", "id": "cond-undated", "subject": subject},
        {
            "resourceType": "DiagnosticReport",
            "id": "rep",
            "subject": subject,
            "effectiveDateTime": "2019-03-02",
            "result": [ref("Observation/obs-2019")],
            "basedOn": [ref("ServiceRequest/sr1")],
        },
        {
            "resourceType": "ServiceRequest",
            "id": "sr1",
            "subject": subject,
            "authoredOn": "2019-02-28",
            "requester": ref("Practitioner/dr-x"),
        },
        {
            "resourceType": "Immunization",
            "id": "imm",
            "patient": subject,
            "occurrenceDateTime": "2021-10-01",
            "performer": [{"actor": ref("Organization/org-2")}],
        },
        {
            "resourceType": "MedicationRequest",
            "id": "mr",
            "subject": subject,
            "authoredOn": "2018-12-31T23:30:00Z",
            "requester": ref("PractitionerRole/role-1"),
        },
        {
            "resourceType": "DocumentReference",
            "id": "doc",
            "subject": subject,
            "date": "2023-01-01T00:00:00Z",
            "context": {
                "encounter": [ref("Encounter/enc-2019")],
                "period": {"start": "2019-03-01", "end": "2019-03-01"},
            },
        },
        {
            "resourceType": "AllergyIntolerance",
            "id": "allergy",
            "patient": subject,
            "recordedDate": "2017-05-05",
        },
        {
            "resourceType": "Procedure",
            "id": "proc",
            "subject": subject,
            "performedPeriod": {"start": "2019-12-31", "end": "2020-01-02"},
        },
        {
            "resourceType": "CarePlan",
            "id": "plan",
            "subject": subject,
            "period": {"end": "2020-02"},
        },
    ]


ALL = {r["id"] for r in record()}


def run(
    rules: list[ConsentDirective],
    resources: list[dict[str, Any]] | None = None,
    mode: str = "normal",
    origin: str = "node-a",
) -> tuple[set[str], ConsentSession, Any]:
    session = ConsentSession(rules, GP, now=NOW, mode=mode)  # type: ignore[arg-type]
    candidates = [Candidate(r, origin) for r in (record() if resources is None else resources)]
    result = release(session, candidates)
    return {r["id"] for r, _ in result.resources}, session, result.outcome


def period(start: str | None = None, end: str | None = None) -> dict[str, str]:
    found = {"start": start, "end": end}
    return {k: v for k, v in found.items() if v is not None}


# --- clinical time ----------------------------------------------------------------------


def test_clinical_time_comes_from_the_element_each_type_uses() -> None:
    by_id = {r["id"]: clinical_time(r) for r in record()}
    assert by_id["p1"] is None and by_id["cond-undated"] is None
    doc = by_id["doc"]  # context.period wins over the date the reference was made
    assert doc is not None and doc.end_hi < datetime(2019, 3, 2, tzinfo=UTC).timestamp()
    issued = by_id["obs-issued"]  # Observation falls back to issued
    assert issued is not None
    assert issued.start_lo == datetime(2022, 1, 10, 8, tzinfo=UTC).timestamp()
    allergy = by_id["allergy"]  # no onset: recordedDate
    assert allergy is not None and allergy.start_lo == datetime(2017, 5, 5, tzinfo=UTC).timestamp()
    ongoing = by_id["enc-ongoing"]
    assert ongoing is not None and ongoing.end_lo == math.inf
    open_start = by_id["plan"]
    assert open_start is not None and open_start.start_lo == -math.inf


def test_a_partial_date_spans_its_whole_year_or_month() -> None:
    year = clinical_time({"resourceType": "Observation", "effectiveDateTime": "2020"})
    month = clinical_time({"resourceType": "Condition", "onsetDateTime": "2020-02"})
    assert year is not None and month is not None
    assert year.start_lo == datetime(2020, 1, 1, tzinfo=UTC).timestamp()
    assert year.end_hi > datetime(2020, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
    assert month.end_hi < datetime(2020, 3, 1, tzinfo=UTC).timestamp()
    assert month.end_hi > datetime(2020, 2, 29, 23, 59, tzinfo=UTC).timestamp()  # leap year


def test_an_unreadable_or_non_date_onset_falls_back_then_counts_as_unknown() -> None:
    aged = {"resourceType": "Condition", "onsetAge": {"value": 40}, "recordedDate": "2020-01-05"}
    found = clinical_time(aged)
    assert found is not None and found.start_lo == datetime(2020, 1, 5, tzinfo=UTC).timestamp()
    assert clinical_time({"resourceType": "Condition", "onsetDateTime": "soon"}) is None


# --- dataPeriod -------------------------------------------------------------------------


def test_deny_data_period_withholds_what_overlaps_it_and_what_has_no_date() -> None:
    rules = directives(
        {"type": "permit", "provision": [{"type": "deny", "dataPeriod": period("2019", "2019")}]}
    )
    shown, _, outcome = run(rules)
    overlapping = {"enc-2019", "obs-2019", "rep", "sr1", "doc", "proc", "plan"}
    undated = {"p1", "cond-undated"}
    assert shown == ALL - overlapping - undated
    # 2018-12-31T23:30Z is outside; the year 2020 and 2020-06 are outside too.
    assert {"mr", "obs-year", "cond-month"} <= shown
    # The care plan ended in February 2020 and began at an unknown time: it may reach
    # back into 2019, so it is withheld like the undated records, as undetermined.
    assert outcome.reasons["deny data period 2019 to 2019"] == len(overlapping) - 1
    assert outcome.reasons["deny data period 2019 to 2019 (undetermined, withheld)"] == 3


def test_a_partial_date_that_might_overlap_is_withheld_by_a_deny() -> None:
    rules = directives({"provision": [{"type": "deny", "dataPeriod": period("2020-06-20")}]})
    shown, _, _ = run(rules)
    assert "cond-month" not in shown  # June 2020 could be after the 20th
    assert "obs-year" not in shown  # so could 2020
    rules = directives({"provision": [{"type": "deny", "dataPeriod": period("2020-07-01")}]})
    shown, _, _ = run(rules)
    assert "cond-month" in shown and "obs-year" not in shown
    assert {"imm", "enc-ongoing", "obs-issued"}.isdisjoint(shown)


def test_a_permit_exception_needs_the_date_to_be_certainly_inside() -> None:
    rules = directives(
        {"type": "deny", "provision": [{"type": "permit", "dataPeriod": period("2020", "2020")}]}
    )
    shown, session, _ = run(rules)
    assert session.outcome.verdict is Verdict.PROCEED
    # A period straddling the year boundary overlaps it; an open-started period ending in
    # February 2020 certainly reaches into it; undated records stay withheld.
    assert shown == {"obs-year", "cond-month", "proc", "plan"}
    narrow = directives(
        {
            "type": "deny",
            "provision": [{"type": "permit", "dataPeriod": period("2020-01-01", "2020-06-15")}],
        }
    )
    shown, _, outcome = run(narrow)
    assert shown == {"proc", "plan"}  # June 2020 and 2020 might fall after the 15th
    # Those two and the undated records could not be shown to be inside.
    assert outcome.reasons["deny all (undetermined, withheld)"] == 4


def test_an_ongoing_period_overlaps_everything_after_its_start() -> None:
    rules = directives(
        {"type": "deny", "provision": [{"type": "permit", "dataPeriod": period("2025-01-01")}]}
    )
    shown, _, _ = run(rules)
    assert shown == {"enc-ongoing"}


def test_a_deny_nested_in_an_undeterminable_permit_still_withholds() -> None:
    hiv = {
        "resourceType": "Condition",
        "id": "hiv",
        "code": {"coding": [{"system": SCT, "code": "86406008"}]},
    }
    rules = directives(
        {
            "type": "permit",
            "dataPeriod": period("2020", "2020"),
            "provision": [
                {
                    "type": "deny",
                    "securityLabel": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                            "code": "HIV",
                        }
                    ],
                }
            ],
        }
    )
    shown, _, outcome = run(rules, record() + [hiv])
    # Undated, so possibly within the permitted period whose exception withholds HIV.
    assert "hiv" not in shown
    assert outcome.reasons["deny category HIV (undetermined, withheld)"] == 1
    assert shown == ALL  # other undated records: the Consent is silent about them


def test_break_glass_overrides_a_data_period_and_counts_the_undated() -> None:
    rules = directives({"type": "deny", "dataPeriod": period("2019", "2019")})
    normal, _, withheld = run(rules)
    shown, _, outcome = run(rules, mode="break-glass")
    assert shown == ALL
    assert outcome.overridden == withheld.withheld == len(ALL - normal) == 9


def test_unreadable_consent_dates_are_refused() -> None:
    with pytest.raises(ConsentFormatError):
        compile_consent(consent({"type": "deny", "dataPeriod": {"start": "last year"}}))
    with pytest.raises(ConsentFormatError):
        compile_consent(consent({"type": "deny", "period": {"end": "2020-13"}}))
    with pytest.raises(ConsentFormatError):
        compile_consent(consent({"type": "deny", "dataPeriod": "2020"}))


# --- data.meaning -----------------------------------------------------------------------


def test_instance_is_exactly_the_named_record() -> None:
    rules = directives(
        {
            "provision": [
                {"data": [{"meaning": "instance", "reference": ref("Observation/obs-2019")}]}
            ]
        }
    )
    shown, _, outcome = run(rules)
    assert shown == ALL - {"obs-2019"}
    assert outcome.reasons == {"deny record": 1}


def test_dependents_reach_records_that_point_at_the_named_one() -> None:
    rules = directives(
        {
            "provision": [
                {"data": [{"meaning": "dependents", "reference": ref("Encounter/enc-2019")}]}
            ]
        }
    )
    shown, _, _ = run(rules)
    # The observation made in it and the document about it; the report of that
    # observation points only at the observation, so one step is as far as it goes.
    assert shown == ALL - {"enc-2019", "obs-2019", "doc"}


def test_related_reaches_what_the_named_record_points_at_when_it_is_present() -> None:
    rules = directives(
        {
            "provision": [
                {"data": [{"meaning": "related", "reference": ref("DiagnosticReport/rep")}]}
            ]
        }
    )
    shown, _, outcome = run(rules)
    assert shown == ALL - {"rep", "obs-2019", "sr1"}
    assert outcome.reasons == {"deny record and what it refers to": 3}
    # The same record held by another node is another record.
    elsewhere = [Candidate(r, "node-b") for r in record() if r["id"] == "obs-2019"]
    session = ConsentSession(rules, GP, now=NOW)
    mixed = release(session, [Candidate(r, "node-a") for r in record()] + elsewhere)
    assert [o for r, o in mixed.resources if r["id"] == "obs-2019"] == ["node-b"]


def test_related_without_the_named_record_in_the_response_fails_closed() -> None:
    deny = directives(
        {
            "provision": [
                {"data": [{"meaning": "related", "reference": ref("DiagnosticReport/rep")}]}
            ]
        }
    )
    without = [r for r in record() if r["id"] != "rep"]
    shown, _, outcome = run(deny, without)
    assert shown == set()
    assert outcome.reasons == {
        "deny record and what it refers to (undetermined, withheld)": len(without)
    }
    permit = directives(
        {
            "type": "deny",
            "provision": [
                {
                    "type": "permit",
                    "data": [{"meaning": "related", "reference": ref("DiagnosticReport/rep")}],
                }
            ],
        }
    )
    assert run(permit)[0] == {"rep", "obs-2019", "sr1"}
    assert run(permit, without)[0] == set()


def test_related_is_decided_by_the_named_record_even_when_it_is_withheld() -> None:
    rules = directives(
        {
            "provision": [
                {"data": [{"meaning": "related", "reference": ref("DiagnosticReport/rep")}]},
                {"class": [{"code": "DiagnosticReport"}]},
            ]
        }
    )
    assert run(rules)[0] == ALL - {"rep", "obs-2019", "sr1"}


def test_authoredby_matches_practitioners_roles_and_organisations() -> None:
    def withheld_by(reference: dict[str, Any]) -> set[str]:
        rules = directives(
            {"provision": [{"data": [{"meaning": "authoredby", "reference": reference}]}]}
        )
        return ALL - run(rules)[0]

    # A versioned absolute reference still names Practitioner/dr-x.
    assert withheld_by(ref("Practitioner/dr-x")) == {"enc-2019", "obs-2019", "sr1"}
    assert withheld_by(ref("Practitioner/dr-y")) == {"enc-ongoing", "cond-month"}
    assert withheld_by(ref("Organization/org-1")) == {"enc-2019"}
    assert withheld_by(ref("Organization/org-2")) == {"imm"}
    assert withheld_by(ref("PractitionerRole/role-1")) == {"mr"}
    gmc = {"type": "Practitioner", "identifier": {"system": GMC, "value": "7654321"}}
    assert withheld_by(gmc) == {"obs-year"}
    other_system = {"identifier": {"system": "urn:other", "value": "7654321"}}
    assert withheld_by(other_system) == set()


def test_a_permit_exception_for_one_author_inside_a_deny() -> None:
    rules = directives(
        {
            "type": "deny",
            "provision": [
                {
                    "type": "permit",
                    "data": [{"meaning": "authoredby", "reference": ref("Practitioner/dr-x")}],
                    "dataPeriod": period("2019-03-01", "2019-03-01"),
                }
            ],
        }
    )
    # sr1 is dr-x's too, but from February.
    assert run(rules)[0] == {"enc-2019", "obs-2019"}


def test_several_data_items_are_alternatives() -> None:
    rules = directives(
        {
            "provision": [
                {
                    "data": [
                        {"meaning": "instance", "reference": ref("Immunization/imm")},
                        {"meaning": "authoredby", "reference": ref("Practitioner/dr-y")},
                    ]
                }
            ]
        }
    )
    assert run(rules)[0] == ALL - {"imm", "enc-ongoing", "cond-month"}


# --- still unsupported: fail closed -----------------------------------------------------


@pytest.mark.parametrize(
    "entry",
    [
        {"meaning": "instance", "reference": {"identifier": {"system": "urn:x", "value": "1"}}},
        {"meaning": "whatever", "reference": ref("Observation/obs-2019")},
        {"meaning": "authoredby", "reference": {"display": "Dr Nobody"}},
    ],
)
def test_a_data_entry_the_engine_cannot_evaluate_never_widens_sharing(
    entry: dict[str, Any],
) -> None:
    deny = directives({"provision": [{"data": [entry]}]})
    shown, _, outcome = run(deny)
    assert shown == set()
    assert set(outcome.reasons) == {"deny unevaluable data (undetermined, withheld)"}
    # Alongside an evaluable item, the unevaluable one still widens the deny to all.
    mixed = directives(
        {
            "provision": [
                {"data": [{"meaning": "instance", "reference": ref("Immunization/imm")}, entry]}
            ]
        }
    )
    assert run(mixed)[0] == set()
    permit = directives({"type": "deny", "provision": [{"type": "permit", "data": [entry]}]})
    session = ConsentSession(permit, GP, now=NOW)
    assert session.start() is Verdict.REJECT
    assert run(permit)[0] == set()


# --- the HL7 examples -------------------------------------------------------------------


def _example(name: str) -> dict[str, Any]:
    folder = reference_path("fhir_examples", "hl7_r4_examples")
    loaded: dict[str, Any] = json.loads((folder / name).read_text())
    return loaded


def _tree(node: Provision) -> list[Provision]:
    return [node, *(p for child in node.children for p in _tree(child))]


def test_every_hl7_consent_example_compiles_with_nothing_left_unsupported() -> None:
    folder = reference_path("fhir_examples", "hl7_r4_examples")
    with_data, with_period = [], []
    for path in sorted(folder.glob("Consent-*.json")):
        resource = json.loads(path.read_text())
        directive = compile_consent(resource)
        assert directive is not None, path.name
        provisions = _tree(directive.root)
        assert not any(p.unsupported for p in provisions), path.name
        if any(p.data for p in provisions):
            with_data.append(path.name)
        if any(p.data_period is not None for p in provisions):
            with_period.append(path.name)
    assert with_data == ["Consent-consent-example-notThis.json"]
    assert with_period == []


def test_the_not_this_example_applies_to_the_task_and_what_it_points_at() -> None:
    task = _example("Task-example3.json")
    order = _example("MedicationRequest-medrx002.json")
    statement = _example("MedicationStatement-example001.json")  # derivedFrom the order
    bmi = _example("Observation-bmi.json")
    resources = [task, order, statement, bmi]
    as_written = compile_consent(_example("Consent-consent-example-notThis.json"))
    assert as_written is not None
    root = as_written.root
    assert root.effect == "permit"  # OPTIN and no type: a permit, so nothing is withheld
    assert root.describe() == "permit record and what it refers to"
    assert run([as_written], resources, origin="hl7")[0] == {r["id"] for r in resources}

    classifier = SensitivityClassifier.default()
    facts = dict(
        zip(
            ("task", "order", "statement", "bmi"),
            classifier.facts_for_all(resources, ["hl7"] * 4),
            strict=True,
        )
    )
    context = EvaluationContext(
        "hl7", {"Task/example3": frozenset({("hl7", t) for t in facts["task"].links})}
    )
    assert root.matches_data(facts["task"], "Task/example3", context) is True
    assert root.matches_data(facts["order"], "MedicationRequest/medrx002", context) is True
    assert root.matches_data(facts["statement"], "MedicationStatement/example001", context) is False
    assert root.matches_data(facts["bmi"], "Observation/bmi", context) is False

    # What the narrative means ("withhold this order"), with the provision made a deny:
    # the task and the prescription it is about go; a statement derived from that
    # prescription points at it but is not pointed at, so "related" does not reach it.
    flipped = _example("Consent-consent-example-notThis.json")
    flipped["provision"] = {"type": "deny", **flipped["provision"]}
    denied = compile_consent(flipped)
    assert denied is not None
    assert run([denied], resources, origin="hl7")[0] == {"example001", "bmi"}
    # Without the task in the response, what it points at cannot be known.
    assert run([denied], [order, statement, bmi], origin="hl7")[0] == set()


# --- properties -------------------------------------------------------------------------

_IDS = [f"r{i}" for i in range(6)]
_TYPES = ["Observation", "Encounter", "Condition"]
_DATES = [None, "2019", "2020-06", "2020-06-15", "2020-06-15T10:00:00Z", "2021-02-01"]
_PERIODS = [None, period("2020"), period("2020-06-01", "2020-06-30"), period(None, "2019-12")]
_AUTHORS = [None, "Practitioner/a", "Practitioner/b", "Organization/o"]


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    """A few resources with random dates (partial, period, missing), authors and
    links to one another. No sensitive codes: category inheritance along links depends
    on what is returned by design and is tested elsewhere."""
    found = []
    for index, rid in enumerate(_IDS):
        kind = _TYPES[index % 3]
        resource: dict[str, Any] = {"resourceType": kind, "id": rid}
        when = draw(st.sampled_from(_DATES))
        span = draw(st.sampled_from(_PERIODS))
        author = draw(st.sampled_from(_AUTHORS))
        if kind == "Observation":
            if when:
                resource["effectiveDateTime"] = when
            if author:
                resource["performer"] = [ref(author)]
        elif kind == "Encounter":
            if span:
                resource["period"] = span
            if author:
                resource["participant"] = [{"individual": ref(author)}]
        else:
            if when:
                resource["onsetDateTime"] = when
            if author:
                resource["recorder"] = ref(author)
        targets = draw(st.lists(st.sampled_from(_IDS), max_size=2, unique=True))
        if targets:
            resource["partOf"] = [ref(f"{_TYPES[_IDS.index(t) % 3]}/{t}") for t in targets]
        found.append(resource)
    return found


def _data_item() -> st.SearchStrategy[dict[str, Any]]:
    records_ = st.sampled_from([f"{_TYPES[i % 3]}/{rid}" for i, rid in enumerate(_IDS)])
    return st.one_of(
        st.builds(
            lambda meaning, target: {"meaning": meaning, "reference": ref(target)},
            st.sampled_from(["instance", "related", "dependents"]),
            records_,
        ),
        st.builds(
            lambda target: {"meaning": "authoredby", "reference": ref(target)},
            st.sampled_from(_AUTHORS[1:]),
        ),
    )


def _provision(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    conditions = st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["permit", "deny"]),
            "dataPeriod": st.sampled_from([p for p in _PERIODS if p]),
            "data": st.lists(_data_item(), min_size=1, max_size=2),
            "class": st.sampled_from(_TYPES).map(lambda t: [{"code": t}]),
        },
    )
    if depth == 0:
        return conditions
    return st.builds(
        lambda base, children: base | ({"provision": children} if children else {}),
        conditions,
        st.lists(_provision(depth - 1), max_size=2),
    )


def _released(
    rules: list[ConsentDirective], resources: list[dict[str, Any]], mode: str = "normal"
) -> set[str]:
    return run(rules, resources, mode=mode)[0]


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(records(), _provision(2), _provision(1))
def test_adding_a_deny_never_releases_more(
    resources: list[dict[str, Any]], existing: dict[str, Any], extra: dict[str, Any]
) -> None:
    base = directives(existing)
    before = _released(base, resources)
    # Another Consent that denies, however it is conditioned.
    assert _released(base + directives(extra | {"type": "deny"}), resources) <= before
    # A deny leaf added to the existing Consent's root.
    leaf = {k: v for k, v in extra.items() if k != "provision"} | {"type": "deny"}
    grown = existing | {"provision": [*existing.get("provision", []), leaf]}
    assert _released(directives(grown), resources) <= before


@PROPERTY
@given(records(), _provision(2))
def test_break_glass_releases_all_and_counts_what_consent_would_withhold(
    resources: list[dict[str, Any]], provision: dict[str, Any]
) -> None:
    rules = directives(provision)
    normal, _, outcome = run(rules, resources)
    shown, _, emergency = run(rules, resources, mode="break-glass")
    assert shown == {r["id"] for r in resources}
    assert emergency.overridden == outcome.withheld == len(shown - normal)


@PROPERTY
@given(records(), _provision(2), st.sets(st.sampled_from(_IDS)))
def test_a_smaller_response_never_releases_what_the_full_one_withholds(
    resources: list[dict[str, Any]], provision: dict[str, Any], dropped: set[str]
) -> None:
    """Whether a record is released must not hinge on another one being absent."""
    rules = directives(provision)
    full = _released(rules, resources)
    subset = [r for r in resources if r["id"] not in dropped]
    assert _released(rules, subset) <= full


@PROPERTY
@given(records(), st.sampled_from([p for p in _PERIODS if p]))
def test_an_undated_record_is_never_released_by_a_dated_permit_inside_a_deny(
    resources: list[dict[str, Any]], window: dict[str, str]
) -> None:
    rules = directives({"type": "deny", "provision": [{"type": "permit", "dataPeriod": window}]})
    released = _released(rules, resources)
    for resource in resources:
        if resource["id"] in released:
            assert clinical_time(resource) is not None


@PROPERTY
@given(
    records(),
    st.sampled_from(["permit", "deny"]),
    st.sampled_from([f"{_TYPES[i % 3]}/{rid}" for i, rid in enumerate(_IDS)]),
    st.sets(st.sampled_from(_IDS)),
)
def test_a_related_condition_never_releases_more_when_its_record_is_missing(
    resources: list[dict[str, Any]], effect: str, named: str, dropped: set[str]
) -> None:
    """The case the general property above rarely draws: the named record dropped."""
    inner = "deny" if effect == "permit" else "permit"
    rules = directives(
        {
            "type": effect,
            "provision": [
                {"type": inner, "data": [{"meaning": "related", "reference": ref(named)}]}
            ],
        }
    )
    full = _released(rules, resources)
    dropped = dropped | {named.split("/")[1]}
    subset = [r for r in resources if r["id"] not in dropped]
    assert _released(rules, subset) <= full
