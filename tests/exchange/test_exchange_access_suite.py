"""A generated suite of access attempts against the running exchange.

Every attempt is a combination of job role, relationship, consent, data category (the
query), break-glass state and token fault. An oracle written here, independently of
the exchange's code, says what the policy allows; the suite asserts that nothing the
oracle forbids is ever returned (and that nothing it allows is wrongly withheld), that
no Bundle total betrays a withheld record, and that every attempt is audited.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from exchange_support import ordinary_record, patient, sensitive_record
from sqlalchemy import func, select

from healthycity.core.db import transaction
from healthycity.exchange.audit import chain as audit
from healthycity.exchange.db import make_engine, upgrade
from healthycity.exchange.dev.devkeys import DemoIssuer
from healthycity.exchange.dev.harness import Harness
from healthycity.exchange.identity.nhsnumber import generate_test_numbers
from healthycity.exchange.models import AuditRecord, BreakGlassGrant
from healthycity.exchange.settings import ExchangeSettings

ATTEMPTS = 1000
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ODS = "https://fhir.nhs.uk/Id/ods-organization-code"

RELATIONSHIPS = ("none", "gp", "care-team", "ended-referral")
CONSENTS = ("none", "opt-out", "withhold-hiv", "withhold-from-our-org")
BREAK_GLASS = ("none", "active", "expired")
QUERIES = ("Condition", "Observation", "$everything", "read")
TOKEN_FAULTS = ("valid", "expired", "wrong-audience", "forged", "alg-none", "hs256")

STAFF = {  # requester -> (job role, subject); all work at practice F84001
    "gp": ("R8000", "dr-1"),
    "nurse": ("R8001", "nurse-1"),
    "student": ("R8004", "student-1"),
    "reception": ("R8009", "recep-1"),
    "privacy-officer": ("R0001", "po-1"),
}
REQUESTERS = (*STAFF, "citizen-own", "citizen-other")
ALL_TYPES = {
    "Patient", "Condition", "Encounter", "Observation", "MedicationRequest",
    "AllergyIntolerance", "Immunization", "DocumentReference",
}  # fmt: skip
STUDENT_TYPES = {
    "Patient",
    "AllergyIntolerance",
    "Condition",
    "MedicationRequest",
    "Immunization",
    "Observation",
}
HIV_IDS = {"hiv", "hiv-visit", "viral-load"}


@dataclass(frozen=True)
class Person:
    index: int
    nhs_number: str
    relationship: str
    consent: str
    break_glass: str

    def records(self) -> dict[str, str]:
        """id -> resource type, for everything the two nodes hold about this person."""
        found: dict[str, str] = {f"a{self.index}-p": "Patient", f"b{self.index}-p": "Patient"}
        for r in sensitive_record(f"a{self.index}", f"a{self.index}-p"):
            found[str(r["id"])] = str(r["resourceType"])
        for prefix in (f"a{self.index}", f"b{self.index}"):
            for r in ordinary_record(prefix, f"{prefix}-p"):
                found[str(r["id"])] = str(r["resourceType"])
        return found


def expected(requester: str, person: Person, query: str) -> tuple[int, set[str]]:
    """The oracle: (HTTP status, ids the requester may see) by the written policy."""
    clinical = requester in ("gp", "nurse")
    if requester == "citizen-own":
        basis = "self"
    elif requester == "citizen-other":
        basis = "none"
    elif person.relationship == "gp" or (person.relationship == "care-team" and requester == "gp"):
        basis = "relationship"
    elif person.break_glass == "active" and clinical:
        basis = "break-glass"
    else:
        basis = "none"
    if requester == "citizen-own" or (clinical and basis != "none"):
        types = ALL_TYPES
    elif requester == "student" and basis == "relationship":
        types = STUDENT_TYPES
    elif requester == "reception":
        types = {"Patient"}
    else:
        types = set()
    wanted = {"Condition": {"Condition"}, "Observation": {"Observation"}, "read": {"Patient"}}.get(
        query, ALL_TYPES
    )
    if not types & wanted:
        return 403, set()
    records = person.records()
    visible = {rid for rid, kind in records.items() if kind in types & wanted}
    # An active break-glass grant overrides consent even where a relationship exists:
    # overriding the citizen's withholding in an emergency is what it is for.
    overridden = basis == "self" or (person.break_glass == "active" and clinical)
    if not overridden:
        if person.consent in ("opt-out", "withhold-from-our-org"):
            visible = set()
        elif person.consent == "withhold-hiv":
            visible = {rid for rid in visible if rid.split("-", 1)[-1] not in HIV_IDS}
    if query == "read":
        return (200, {"person"}) if visible else (404, set())
    return 200, visible


def _consent(kind: str) -> dict[str, Any] | None:
    provision: dict[str, Any]
    if kind == "opt-out":
        provision = {"type": "deny"}
    elif kind == "withhold-hiv":
        provision = {
            "type": "permit",
            "provision": [{"type": "deny", "securityLabel": [{"system": ACT, "code": "HIV"}]}],
        }
    elif kind == "withhold-from-our-org":
        actor = {"reference": {"identifier": {"system": ODS, "value": "F84001"}}}
        provision = {"type": "permit", "provision": [{"type": "deny", "actor": [actor]}]}
    else:
        return None
    return {"resourceType": "Consent", "status": "active", "provision": provision}


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Harness, list[Person]]]:
    folder: Path = tmp_path_factory.mktemp("suite")
    engine = make_engine(f"sqlite:///{folder / 'exchange.db'}")
    upgrade(engine)
    harness = Harness(
        engine, settings=ExchangeSettings(node_timeout_seconds=2.0, node_health_interval_seconds=0)
    )
    node_a, node_b = harness.add_node("node-a"), harness.add_node("node-b")
    combos = list(itertools.product(RELATIONSHIPS, CONSENTS, BREAK_GLASS))
    numbers = generate_test_numbers(len(combos), seed=2026)
    people = [Person(i, numbers[i], *combo) for i, combo in enumerate(combos)]
    for p in people:
        node_a.store.add_all(
            [
                patient(f"a{p.index}-p", p.nhs_number, f"Family{p.index}", "Pat"),
                *sensitive_record(f"a{p.index}", f"a{p.index}-p"),
                *ordinary_record(f"a{p.index}", f"a{p.index}-p"),
            ]
        )
        node_b.store.add_all(
            [
                patient(f"b{p.index}-p", p.nhs_number, f"Family{p.index}", "Pat"),
                *ordinary_record(f"b{p.index}", f"b{p.index}-p"),
            ]
        )
    now = datetime.now(UTC)
    with harness:
        for p in people:
            if p.relationship == "gp":
                harness.relate(p.nhs_number, "gp", "F84001")
            elif p.relationship == "care-team":
                harness.relate(p.nhs_number, "care-team", "RAL01", practitioner="dr-1")
            elif p.relationship == "ended-referral":
                harness.relate(
                    p.nhs_number,
                    "referral",
                    "F84001",
                    starts=now - timedelta(days=90),
                    ends=now - timedelta(days=1),
                )
            consent = _consent(p.consent)
            if consent is not None:
                harness.consent(p.nhs_number, consent)
            if p.break_glass != "none":
                expires = (
                    now + timedelta(hours=1)
                    if p.break_glass == "active"
                    else now - timedelta(minutes=1)
                )
                person_id = harness.person_id(p.nhs_number)
                with transaction(engine) as session:
                    for role, subject in STAFF.values():
                        # Grants exist for every role; the exchange must ignore them for
                        # roles the policy does not let break glass.
                        session.add(
                            BreakGlassGrant(
                                id=str(uuid.uuid4()),
                                subject=subject,
                                role=role,
                                organisation="F84001",
                                person_id=person_id,
                                reason="generated suite emergency",
                                started_at=now - timedelta(hours=2),
                                expires_at=expires,
                            )
                        )
        yield harness, people
    engine.dispose()


def _bad_token(fault: str, issuer: DemoIssuer, claims: dict[str, Any]) -> str:
    if fault == "expired":
        return issuer.mint(**claims, lifetime=-300)
    if fault == "wrong-audience":
        return issuer.mint(**claims, aud="https://another-service.invalid")
    if fault == "forged":
        return DemoIssuer(kid=issuer.kid).mint(**claims)
    good = jwt.decode(issuer.mint(**claims), options={"verify_signature": False})
    if fault == "alg-none":
        return jwt.encode(good, None, algorithm="none")  # type: ignore[arg-type]
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = json.dumps({"alg": "HS256", "kid": issuer.kid}).encode()
    signing = f"{b64(header)}.{b64(json.dumps(good).encode())}"
    key = json.dumps(issuer.jwks()).encode()
    return f"{signing}.{b64(hmac.new(key, signing.encode(), hashlib.sha256).digest())}"


def _claims(requester: str, person: Person, people: list[Person]) -> dict[str, Any]:
    if requester in STAFF:
        role, subject = STAFF[requester]
        return {"subject": subject, "role": role, "organisation": "F84001", "scope": "user/*.read"}
    own = (
        person.nhs_number
        if requester == "citizen-own"
        else people[(person.index + 1) % len(people)].nhs_number
    )
    return {
        "subject": f"citizen-{own}",
        "role": "citizen",
        "scope": "patient/*.read",
        "patient": own,
    }


def test_generated_access_attempts(suite: tuple[Harness, list[Person]]) -> None:
    harness, people = suite
    rng = random.Random(6)
    space = list(itertools.product(REQUESTERS, people, QUERIES))
    attempts = [
        (*rng.choice(space), rng.choices(TOKEN_FAULTS, weights=(85, 3, 3, 3, 3, 3))[0])
        for _ in range(ATTEMPTS)
    ]
    with transaction(harness.engine) as session:
        rows_before = session.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
    tokens: dict[tuple[str, str], str] = {}
    forbidden: list[str] = []
    wrongly_withheld: list[str] = []
    seen_status: dict[int, int] = {}
    started = time.perf_counter()
    with harness.client() as client:
        for requester, person, query, fault in attempts:
            claims = _claims(requester, person, people)
            key = (fault, repr(sorted(claims.items())))
            if key not in tokens:
                tokens[key] = (
                    harness.issuer.mint(**claims)
                    if fault == "valid"
                    else _bad_token(fault, harness.issuer, claims)
                )
            person_id = harness.person_id(person.nhs_number)
            path = {
                "Condition": f"/Condition?patient={person_id}",
                "Observation": f"/Observation?patient={person_id}",
                "$everything": f"/Patient/{person_id}/$everything",
                "read": f"/Patient/{person_id}",
            }[query]
            response = client.get(path, headers={"Authorization": f"Bearer {tokens[key]}"})
            seen_status[response.status_code] = seen_status.get(response.status_code, 0) + 1
            label = f"{requester} {person} {query} {fault} -> {response.status_code}"
            if fault != "valid":
                if response.status_code != 401:
                    forbidden.append(label)
                continue
            status, allowed = expected(requester, person, query)
            body = response.json()
            if query == "read":
                got = (
                    {"person"}
                    if response.status_code == 200 and body.get("id") == person_id
                    else set()
                )
            elif body.get("resourceType") == "Bundle":
                got = {e["resource"]["id"] for e in body["entry"] if e["search"]["mode"] == "match"}
                if body["total"] != len(got):
                    forbidden.append(f"{label}: total {body['total']} != {len(got)} entries")
            else:
                got = set()
            if got - allowed:
                forbidden.append(f"{label}: disclosed {sorted(got - allowed)}")
            if response.status_code != status or allowed - got:
                wrongly_withheld.append(f"{label}: expected {status} {sorted(allowed - got)}")
    elapsed = time.perf_counter() - started
    assert not forbidden, forbidden[:10]
    assert not wrongly_withheld, wrongly_withheld[:10]
    # Every attempt, allowed or refused, left exactly one audit record.
    with transaction(harness.engine) as session:
        rows_after = session.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
        report = audit.verify(session)
    assert rows_after - rows_before == len(attempts)
    assert report.ok, report.problems
    assert {200, 401, 403, 404} <= seen_status.keys(), seen_status
    print(f"\n{len(attempts)} attempts in {elapsed:.1f} s; statuses {seen_status}")
