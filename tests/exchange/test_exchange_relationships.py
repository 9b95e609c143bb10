"""Legitimate relationships derived from the nodes' records (relationships.py).

The rules one by one (GP registration, care teams, episodes of care, referrals,
encounters), how references are followed, syncing into the table on both engines, a
refresh over real HTTP that turns a refused clinician into an allowed one and back, the
command line, and real Synthea and PDS sandbox records.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from exchange_support import ordinary_record, patient, reference_path
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from healthycity.core.db import transaction
from healthycity.exchange.access.grounds import as_utc
from healthycity.exchange.access.policy import RelationshipFact, legitimate_relationship
from healthycity.exchange.access.relationships import (
    ODS_ORGANISATION_SYSTEM as ODS,
)
from healthycity.exchange.access.relationships import (
    SDS_USER_SYSTEM as SDS,
)
from healthycity.exchange.access.relationships import (
    UNKNOWN_START,
    DerivationRules,
    DerivedRelationship,
    derive,
    references_to_fetch,
    sync_person_node,
)
from healthycity.exchange.access.relationships import refresher as relationships
from healthycity.exchange.db import MIGRATIONS_DIR, make_engine, upgrade
from healthycity.exchange.dev.devkeys import DemoIssuer
from healthycity.exchange.dev.harness import Harness
from healthycity.exchange.dev.testserver import bundle_resources
from healthycity.exchange.federation.fanout import federator_for
from healthycity.exchange.identity.nhsnumber import generate_test_numbers
from healthycity.exchange.models import Node, Person, PersonLink, Relationship
from healthycity.exchange.settings import ExchangeSettings

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
GMC = "https://fhir.hl7.org.uk/Id/gmc-number"
SUBJECT = {"reference": "Patient/p1"}


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def _ods(code: str) -> dict[str, Any]:
    return {"type": "Organization", "identifier": {"system": ODS, "value": code}}


def _organisation(rid: str, *identifiers: tuple[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Organization",
        "id": rid,
        "identifier": [{"system": s, "value": v} for s, v in identifiers],
    }


def _practitioner(rid: str, *identifiers: tuple[str, str]) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "id": rid,
        "identifier": [{"system": s, "value": v} for s, v in identifiers],
    }


def _encounter(
    rid: str,
    status: str,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    provider: Mapping[str, Any] | None = None,
    individuals: Sequence[Mapping[str, Any]] = (),
    subject: Mapping[str, Any] = SUBJECT,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": rid,
        "status": status,
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": dict(subject),
    }
    period = {k: _iso(v) for k, v in (("start", start), ("end", end)) if v is not None}
    if period:
        resource["period"] = period
    if provider is not None:
        resource["serviceProvider"] = dict(provider)
    if individuals:
        resource["participant"] = [{"individual": dict(i)} for i in individuals]
    return resource


def _care_team(
    rid: str,
    status: str | None,
    members: Sequence[Mapping[str, Any]] = (),
    *,
    period: Mapping[str, str] | None = None,
    managing: Sequence[Mapping[str, Any]] = (),
    subject: Mapping[str, Any] = SUBJECT,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "CareTeam",
        "id": rid,
        "subject": dict(subject),
        "participant": [{"member": dict(m)} for m in members],
    }
    if status is not None:
        resource["status"] = status
    if period is not None:
        resource["period"] = dict(period)
    if managing:
        resource["managingOrganization"] = [dict(m) for m in managing]
    return resource


def _referral(
    rid: str,
    status: str,
    intent: str,
    performers: Sequence[Mapping[str, Any]],
    *,
    authored: datetime | None = None,
    occurrence: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": rid,
        "status": status,
        "intent": intent,
        "subject": dict(SUBJECT),
        "performer": [dict(p) for p in performers],
    }
    if authored is not None:
        resource["authoredOn"] = _iso(authored)
    if occurrence is not None:
        resource["occurrencePeriod"] = dict(occurrence)
    return resource


def _rows(derived: relationships.Derivation) -> set[tuple[str, str | None, str | None]]:
    return {(r.kind, r.organisation, r.practitioner) for r in derived.relationships}


# --- GP registration --------------------------------------------------------------------


def test_gp_registration_from_a_pds_style_reference_honours_its_period() -> None:
    current = patient("p1", None, "Smith", "Alice") | {
        "generalPractitioner": [
            {
                "type": "Organization",
                "identifier": {"system": ODS, "value": "F84001", "period": {"start": "2020-01-01"}},
            },
            {
                "type": "Organization",
                "identifier": {
                    "system": ODS,
                    "value": "Y12345",
                    "period": {"start": "2010-01-01", "end": "2019-12-31"},
                },
            },
        ]
    }
    derived = derive([current], NOW)
    assert [r.key for r in derived.relationships] == [
        ("gp", "F84001", None, datetime(2020, 1, 1, tzinfo=UTC), None)
    ]
    assert ("Patient/p1", "ended before now") in derived.ignored


def test_a_registration_that_ends_today_lasts_until_the_end_of_the_day() -> None:
    record = patient("p1", None, "Smith", "Alice") | {
        "generalPractitioner": [
            {
                "type": "Organization",
                "identifier": {"system": ODS, "value": "F84001", "period": {"end": "2026-06-01"}},
            }
        ]
    }
    (only,) = derive([record], NOW).relationships
    assert only.starts_at == UNKNOWN_START
    assert only.ends_at == datetime(2026, 6, 1, 23, 59, 59, 999999, tzinfo=UTC)
    assert derive([record], NOW + timedelta(days=1)).relationships == []


def test_gp_organisation_found_by_reference_contained_or_identifier_only() -> None:
    by_reference = patient("p1", None, "Smith", "Alice") | {
        "generalPractitioner": [{"reference": "Organization/practice"}]
    }
    practice = _organisation("practice", ("https://example.org/local", "P1"), (ODS, "f84001"))
    assert _rows(derive([by_reference, practice], NOW)) == {("gp", "F84001", None)}

    contained = patient("p2", None, "Jones", "Bob") | {
        "contained": [_organisation("gp", (ODS, "F84002"))],
        "generalPractitioner": [{"reference": "#gp"}],
    }
    assert _rows(derive([contained], NOW)) == {("gp", "F84002", None)}

    absolute = patient("p3", None, "Brown", "Cat") | {
        "generalPractitioner": [
            {"reference": "https://node.example/fhir/Organization/practice/_history/3"}
        ]
    }
    assert _rows(derive([absolute, practice], NOW)) == {("gp", "F84001", None)}

    # Pointing at an Organization the node did not send, with no identifier: unusable.
    dangling = patient("p4", None, "Green", "Dan") | {
        "generalPractitioner": [{"reference": "Organization/elsewhere"}]
    }
    derived = derive([dangling], NOW)
    assert derived.relationships == []
    assert [u.party for u in derived.unusable] == [
        "Organization 'Organization/elsewhere' with no identifier"
    ]


def test_a_practice_known_only_by_a_local_code_is_reported_not_stored() -> None:
    record = patient("p1", None, "Smith", "Alice") | {
        "generalPractitioner": [{"reference": "Organization/local"}]
    }
    derived = derive([record, _organisation("local", ("https://pas.example/org", "GP-7"))], NOW)
    assert derived.relationships == []
    (unusable,) = derived.unusable
    assert unusable.kind == "gp" and unusable.evidence == "Patient/p1"
    assert "https://pas.example/org|GP-7" in unusable.party


def test_gp_from_the_pds_sandbox_record() -> None:
    path = reference_path(
        "test_cases", "pds_sandbox", "stubs", "patientResponses", "patient_9693632109.json"
    )
    record = orjson.loads(path.read_bytes())
    (only,) = derive([record], NOW).relationships
    assert (only.kind, only.organisation, only.practitioner) == ("gp", "A20047", None)
    assert only.starts_at == datetime(2005, 3, 5, tzinfo=UTC) and only.ends_at is None


# --- care teams and episodes of care ----------------------------------------------------


def test_active_care_team_members_and_managing_organisation() -> None:
    team = _care_team(
        "ct1",
        "active",
        [
            {"reference": "Practitioner/nurse"},
            {"reference": "Organization/hospice"},
            {"reference": "Practitioner/locum"},  # GMC number only: no token subject
            {"reference": "Patient/p1"},  # the patient is not a grounds holder
        ],
        period={"start": "2026-01-01"},
        managing=[_ods("RAL01")],
    )
    resources = [
        team,
        _practitioner("nurse", (SDS, "555000111222"), (GMC, "7000001")),
        _organisation("hospice", (ODS, "RXH01")),
        _practitioner("locum", (GMC, "7000002")),
    ]
    derived = derive(resources, NOW)
    assert _rows(derived) == {
        ("care-team", None, "555000111222"),
        ("care-team", "RXH01", None),
        ("care-team", "RAL01", None),
    }
    assert all(r.starts_at == datetime(2026, 1, 1, tzinfo=UTC) for r in derived.relationships)
    assert [u.party for u in derived.unusable] == [f"Practitioner identified as {GMC}|7000002"]


def test_care_team_status_and_periods_decide() -> None:
    member = [_ods("RXH01")]
    for status in ("inactive", "suspended", "entered-in-error", None):
        assert derive([_care_team("t", status, member)], NOW).relationships == [], status
    assert _rows(derive([_care_team("t", "proposed", member)], NOW)) == {
        ("care-team", "RXH01", None)
    }
    ended = _care_team("t", "active", member, period={"start": "2025-01-01", "end": "2026-05-31"})
    assert derive([ended], NOW).relationships == []
    # A member whose own participation ended has left the team; the others have not.
    team = _care_team("t", "active", [_ods("RXH01"), _ods("RAL01")])
    team["participant"][0]["period"] = {"start": "2025-01-01", "end": "2026-02-01"}
    team["participant"][1]["period"] = {"start": "2026-03-01", "end": "2026-09-30"}
    (left,) = derive([team], NOW).relationships
    assert left.organisation == "RAL01"
    assert left.starts_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert left.ends_at == datetime(2026, 9, 30, 23, 59, 59, 999999, tzinfo=UTC)


def test_practitioner_role_gives_the_practitioner_and_their_organisation() -> None:
    role = {
        "resourceType": "PractitionerRole",
        "id": "role",
        "practitioner": {"reference": "Practitioner/dr"},
        "organization": {"identifier": {"system": ODS, "value": "RAL01"}},
    }
    team = _care_team("t", "active", [{"reference": "PractitionerRole/role"}])
    derived = derive([team, role, _practitioner("dr", (SDS, "dr-sub"))], NOW)
    assert _rows(derived) == {("care-team", None, "dr-sub"), ("care-team", "RAL01", None)}


def test_open_episode_of_care_is_a_care_team() -> None:
    episode = {
        "resourceType": "EpisodeOfCare",
        "id": "eoc",
        "status": "active",
        "patient": dict(SUBJECT),
        "managingOrganization": {"reference": "Organization/mh"},
        "careManager": {"identifier": {"system": SDS, "value": "care-coordinator"}},
        "period": {"start": "2026-02-01"},
    }
    derived = derive([episode, _organisation("mh", (ODS, "RV3"))], NOW)
    assert _rows(derived) == {("care-team", "RV3", None), ("care-team", None, "care-coordinator")}
    for status in ("finished", "cancelled", "entered-in-error"):
        assert derive([episode | {"status": status}], NOW).relationships == [], status


# --- referrals --------------------------------------------------------------------------


def test_open_referrals_give_their_performers_a_relationship() -> None:
    authored = NOW - timedelta(days=20)
    active = _referral("r1", "active", "order", [_ods("RRV01")], authored=authored)
    (only,) = derive([active], NOW).relationships
    assert only.key == ("referral", "RRV01", None, authored, None)
    on_hold = _referral("r2", "on-hold", "original-order", [_ods("RRV01")], authored=authored)
    assert _rows(derive([on_hold], NOW)) == {("referral", "RRV01", None)}
    plan = _referral("r3", "active", "plan", [{"reference": "Practitioner/dr"}])
    derived = derive([plan, _practitioner("dr", (SDS, "dr-sub"))], NOW)
    assert _rows(derived) == {("referral", None, "dr-sub")}


def test_closed_unsent_or_expired_referrals_give_nothing() -> None:
    performer = [_ods("RRV01")]
    for status in ("draft", "completed", "revoked", "entered-in-error", "unknown"):
        assert derive([_referral("r", status, "order", performer)], NOW).relationships == []
    for intent in ("proposal", "directive", "option"):
        assert derive([_referral("r", "active", intent, performer)], NOW).relationships == []
    expired = _referral(
        "r", "active", "order", performer, occurrence={"start": "2026-01-01", "end": "2026-03-01"}
    )
    assert derive([expired], NOW).relationships == []
    pending = _referral(
        "r", "active", "order", performer, occurrence={"start": "2026-07-01", "end": "2026-08-01"}
    )
    (future,) = derive([pending], NOW).relationships
    # Authored date absent: it holds from the start of the occurrence period.
    assert future.starts_at == datetime(2026, 7, 1, tzinfo=UTC)


# --- encounters -------------------------------------------------------------------------


def test_encounters_under_way_or_recently_finished() -> None:
    provider = _ods("RAL01")
    in_progress = _encounter("e1", "in-progress", start=NOW - timedelta(hours=3), provider=provider)
    (current,) = derive([in_progress], NOW).relationships
    assert current.starts_at == NOW - timedelta(hours=3) and current.ends_at is None

    finished = NOW - timedelta(days=30)
    recent = _encounter("e2", "finished", start=finished - timedelta(hours=1), end=finished)
    recent["serviceProvider"] = dict(provider)
    (follow_up,) = derive([recent], NOW).relationships
    assert follow_up.ends_at == finished + timedelta(days=90)

    old = NOW - timedelta(days=100)
    stale = _encounter("e3", "finished", start=old, end=old, provider=provider)
    assert derive([stale], NOW).relationships == []
    wider = DerivationRules(encounter_days=120)
    assert _rows(derive([stale], NOW, wider)) == {("encounter", "RAL01", None)}


def test_encounter_statuses_that_give_nothing_and_planned_ones_that_do() -> None:
    provider = _ods("RAL01")
    for status in ("cancelled", "entered-in-error", "unknown"):
        assert derive([_encounter("e", status, provider=provider)], NOW).relationships == []
    undated = derive([_encounter("e", "finished", provider=provider)], NOW)
    assert undated.relationships == []
    assert undated.ignored == [("Encounter/e", "finished, but its period does not say when")]
    planned = _encounter("e", "planned", start=NOW + timedelta(days=7), provider=provider)
    (prepare,) = derive([planned], NOW).relationships
    assert prepare.starts_at == UNKNOWN_START  # the service prepares before the visit


def test_encounter_participants_by_conditional_reference() -> None:
    encounter = _encounter(
        "e",
        "arrived",
        start=NOW - timedelta(minutes=30),
        provider={"reference": f"Organization?identifier={ODS}|RAL01"},
        individuals=[
            {"reference": f"Practitioner?identifier={SDS}|dr-ae"},
            {"reference": "Practitioner?identifier=http://hl7.org/fhir/sid/us-npi|99999"},
        ],
    )
    derived = derive([encounter], NOW)
    assert _rows(derived) == {("encounter", "RAL01", None), ("encounter", None, "dr-ae")}
    assert [u.party for u in derived.unusable] == [
        "Practitioner identified as http://hl7.org/fhir/sid/us-npi|99999"
    ]
    # The same NPI becomes usable when the deployment says NPIs are token subjects.
    npi = DerivationRules(practitioner_systems=frozenset({"http://hl7.org/fhir/sid/us-npi"}))
    assert ("encounter", None, "99999") in _rows(derive([encounter], NOW, npi))


def test_visits_to_the_same_provider_coalesce_into_one_relationship() -> None:
    provider = _ods("RAL01")
    visits = [
        _encounter(f"e{n}", "finished", start=NOW - timedelta(days=d), end=NOW - timedelta(days=d))
        | {"serviceProvider": provider}
        for n, d in enumerate((60, 40, 10))
    ]
    (merged,) = derive(visits, NOW).relationships
    assert merged.starts_at == NOW - timedelta(days=60)
    assert merged.ends_at == NOW - timedelta(days=10) + timedelta(days=90)
    assert sorted(merged.evidence) == ["Encounter/e0", "Encounter/e1", "Encounter/e2"]
    # A visit after an earlier relationship ran out starts a new one.
    far = DerivationRules(encounter_days=5)
    spread = derive(visits, NOW - timedelta(days=39), far).relationships
    assert [(r.starts_at, r.ends_at) for r in spread] == [
        (NOW - timedelta(days=40), NOW - timedelta(days=35)),
        (NOW - timedelta(days=10), NOW - timedelta(days=5)),
    ]


def test_unreadable_dates_never_grant_anything() -> None:
    broken = _encounter("e", "finished", provider=_ods("RAL01"))
    broken["period"] = {"start": "yesterday", "end": "today"}
    derived = derive([broken], NOW)
    assert derived.relationships == [] and derived.ignored == [("Encounter/e", "unreadable period")]
    team = _care_team("t", "active", [_ods("RAL01")], period={"end": 20260101})  # type: ignore[dict-item]
    assert derive([team], NOW).relationships == []
    impossible = patient("p1", None, "Smith", "Alice") | {
        "generalPractitioner": [
            {
                "type": "Organization",
                "identifier": {"system": ODS, "value": "F1", "period": {"start": "2021-02-30"}},
            }
        ]
    }
    derived = derive([impossible], NOW)
    assert derived.relationships == []
    assert derived.ignored == [("Patient/p1", "unreadable GP registration period")]


def test_references_to_fetch_lists_only_missing_parties() -> None:
    resources = [
        _encounter(
            "e",
            "finished",
            start=NOW,
            end=NOW,
            provider={"reference": "Organization/org-1"},
            individuals=[
                {"reference": "Practitioner/dr-1"},
                {"reference": "Practitioner?identifier=x|y"},
            ],
        ),
        _care_team("t", "active", [{"reference": "PractitionerRole/role-1"}]),
        _organisation("org-1", (ODS, "RAL01")),
    ]
    assert references_to_fetch(resources) == {
        ("Practitioner", "dr-1"),
        ("PractitionerRole", "role-1"),
    }


def test_a_practitioner_only_relationship_covers_that_practitioner_alone() -> None:
    issuer = DemoIssuer()
    from healthycity.exchange.access.policy import StaticKeys, TokenVerifier

    verifier = TokenVerifier(
        StaticKeys(issuer.jwks()), issuer=issuer.issuer, audience=issuer.audience
    )
    dr_a = verifier.verify(issuer.mint(subject="dr-a", role="R8000", organisation="RAL01"))
    dr_b = verifier.verify(issuer.mint(subject="dr-b", role="R8000", organisation="RAL01"))
    past = NOW - timedelta(days=1)
    facts = [RelationshipFact("encounter", None, "dr-a", past, None)]
    assert legitimate_relationship(dr_a, facts, NOW) == "encounter"
    assert legitimate_relationship(dr_b, facts, NOW) is None


# --- storing ----------------------------------------------------------------------------


def _person(session: Any) -> str:
    person = Person(id=str(uuid.uuid4()), created_at=NOW, restricted=False)
    session.add(person)
    session.flush()
    return person.id


def _version(engine: Engine, person_id: str) -> int:
    with transaction(engine) as session:
        return session.execute(
            select(Person.grounds_version).where(Person.id == person_id)
        ).scalar_one()


def _stored(engine: Engine, person_id: str) -> set[tuple[Any, ...]]:
    with transaction(engine) as session:
        rows = session.execute(
            select(Relationship).where(Relationship.person_id == person_id)
        ).scalars()
        return {
            (
                r.source,
                r.kind,
                r.organisation,
                r.practitioner,
                as_utc(r.starts_at),
                as_utc(r.ends_at) if r.ends_at else None,
            )
            for r in rows
        }


def test_sync_is_idempotent_and_leaves_manual_and_other_nodes_alone(engine: Engine) -> None:
    started = datetime(2026, 1, 1, 8, 30, 15, 123456, tzinfo=UTC)
    with transaction(engine) as session:
        person_id = _person(session)
        session.add(
            Relationship(person_id=person_id, kind="gp", organisation="F84001", starts_at=started)
        )
    derived = [
        DerivedRelationship("care-team", "RAL01", None, started, None),
        DerivedRelationship("encounter", None, "dr-a", UNKNOWN_START, started + timedelta(days=90)),
    ]
    with transaction(engine) as session:
        first = sync_person_node(session, person_id, "north", derived)
        other = sync_person_node(
            session, person_id, "south", [DerivedRelationship("gp", "Y12345", None, started, None)]
        )
    assert (first.added, first.removed, first.kept) == (2, 0, 0)
    assert (other.added, other.removed, other.kept) == (1, 0, 0)
    before = _stored(engine, person_id)
    assert ("manual", "gp", "F84001", None, started, None) in before
    version = _version(engine, person_id)

    with transaction(engine) as session:
        again = sync_person_node(session, person_id, "north", derived)
    assert (again.added, again.removed, again.kept) == (0, 0, 2)
    assert _stored(engine, person_id) == before
    assert _version(engine, person_id) == version  # nothing written, nothing moved

    with transaction(engine) as session:
        changed = sync_person_node(session, person_id, "north", derived[:1])
        emptied = sync_person_node(session, person_id, "south", [])
    assert (changed.added, changed.removed, changed.kept) == (0, 1, 1)
    assert (emptied.added, emptied.removed, emptied.kept) == (0, 1, 0)
    assert _stored(engine, person_id) == {
        ("manual", "gp", "F84001", None, started, None),
        ("node:north", "care-team", "RAL01", None, started, None),
    }
    assert _version(engine, person_id) > version  # the triggers saw the change


def test_rows_from_a_node_no_longer_holding_the_person_are_forgotten(engine: Engine) -> None:
    with transaction(engine) as session:
        person_id = _person(session)
        node = Node(name="north", base_url="http://127.0.0.1:1", sub_region="", status="up")
        session.add(node)
        session.flush()
        session.add(
            PersonLink(
                person_id=person_id,
                node_id=node.id,
                local_id="n1",
                method="manual",
                demographics={},
                linked_at=NOW,
                linked_by="test",
            )
        )
        fact = [DerivedRelationship("gp", "F84001", None, UNKNOWN_START, None)]
        sync_person_node(session, person_id, "north", fact)
        sync_person_node(session, person_id, "gone", fact)
        session.add(Relationship(person_id=person_id, kind="gp", organisation="Y1", starts_at=NOW))
    with transaction(engine) as session:
        assert relationships.forget_unlinked_nodes(session, person_id) == 1
    assert {row[0] for row in _stored(engine, person_id)} == {"node:north", "manual"}


def _alembic(engine: Engine, action: str, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_migration_0003_keeps_the_grounds_triggers_both_ways(engine: Engine) -> None:
    with transaction(engine) as session:
        person_id = _person(session)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO exchange_relationship (person_id, kind, organisation, starts_at) "
                "VALUES (:p, 'gp', 'F84001', :t)"
            ),
            {"p": person_id, "t": NOW},
        )
        source = connection.execute(text("SELECT source FROM exchange_relationship")).scalar()
    assert source == "manual"  # the server default, for writers that do not say
    moved = _version(engine, person_id)
    assert moved == 1
    _alembic(engine, "downgrade", "0002")
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM exchange_relationship"))
    assert _version(engine, person_id) == moved + 1  # triggers still there after the rebuild
    _alembic(engine, "upgrade", "head")
    with transaction(engine) as session:
        session.add(Relationship(person_id=person_id, kind="gp", organisation="F1", starts_at=NOW))
    assert _version(engine, person_id) == moved + 2


# --- over real HTTP ---------------------------------------------------------------------

ALICE, BOB = generate_test_numbers(2, seed=41)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    engine = make_engine(f"sqlite:///{tmp_path / 'exchange.db'}")
    upgrade(engine)
    world = Harness(
        engine, settings=ExchangeSettings(node_timeout_seconds=1.0, node_health_interval_seconds=0)
    )
    north = world.add_node("north")
    north.store.add_all(
        [patient("n-alice", ALICE, "Smith", "Alice"), *ordinary_record("n", "n-alice")]
    )
    south = world.add_node("south")
    south.store.add_all(
        [patient("s-alice", ALICE, "Smith", "Alice"), *ordinary_record("s", "s-alice")]
    )
    with world:
        yield world
    engine.dispose()


def _refresh(world: Harness, **kwargs: Any) -> relationships.RefreshReport:
    async def run() -> relationships.RefreshReport:
        federator = federator_for(world.settings)
        try:
            return await relationships.refresh(world.engine, federator, world.settings, **kwargs)
        finally:
            await federator.aclose()

    return asyncio.run(run())


def _everything(world: Harness, token: str, person_id: str) -> tuple[int, dict[str, Any]]:
    with world.client(token) as client:
        response = client.get(f"/Patient/{person_id}/$everything")
    return response.status_code, response.json()


def test_a_refresh_turns_node_records_into_access_and_back(harness: Harness) -> None:
    person_id = harness.person_id(ALICE)
    clinician = harness.issuer.mint(subject="dr-ral", role="R8000", organisation="RAL01")
    harness.relate(ALICE, "gp", "F84001")  # someone else's, entered by hand
    status, _ = _everything(harness, clinician, person_id)
    assert status == 403

    now = datetime.now(UTC)
    north, south = harness.nodes["north"].store, harness.nodes["south"].store
    north.add(_organisation("org-ral", (ODS, "RAL01")))  # fetched by the refresh, not searched
    north.add(
        _care_team(
            "ct-alice",
            "active",
            [{"reference": "Organization/org-ral"}],
            subject={"reference": "Patient/n-alice"},
        )
    )
    south.add(
        _encounter(
            "enc-alice",
            "finished",
            start=now - timedelta(days=10, hours=2),
            end=now - timedelta(days=10),
            provider={"reference": f"Organization?identifier={ODS}|RAL01"},
            subject={"reference": "Patient/s-alice"},
        )
    )
    report = _refresh(harness)
    assert report.persons == 1 and report.failures == []
    assert (report.counts.added, report.counts.removed) == (2, 0)
    assert {(row[0], row[1], row[2]) for row in _stored(harness.engine, person_id)} == {
        ("manual", "gp", "F84001"),
        ("node:north", "care-team", "RAL01"),
        ("node:south", "encounter", "RAL01"),
    }
    status, bundle = _everything(harness, clinician, person_id)
    assert status == 200, bundle
    returned = {e["resource"]["id"] for e in bundle["entry"] if "resource" in e}
    assert {"n-diabetes", "s-diabetes", "ct-alice", "enc-alice"} <= returned

    again = _refresh(harness, person_ids=[person_id])
    assert (again.counts.added, again.counts.removed, again.counts.kept) == (0, 0, 2)

    north.get("CareTeam", "ct-alice")["status"] = "inactive"  # type: ignore[index]
    long_ago = now - timedelta(days=120)
    south.get("Encounter", "enc-alice")["period"] = {  # type: ignore[index]
        "start": _iso(long_ago - timedelta(hours=2)),
        "end": _iso(long_ago),
    }
    ended = _refresh(harness)
    assert (ended.counts.added, ended.counts.removed) == (0, 2)
    status, _ = _everything(harness, clinician, person_id)
    assert status == 403
    assert {row[0] for row in _stored(harness.engine, person_id)} == {"manual"}


def test_a_failing_node_keeps_its_rows(harness: Harness) -> None:
    person_id = harness.person_id(ALICE)
    harness.nodes["north"].store.add(
        _care_team("ct", "active", [_ods("RAL01")], subject={"reference": "Patient/n-alice"})
    )
    assert _refresh(harness).counts.added == 1
    kept = _stored(harness.engine, person_id)
    harness.nodes["north"].store.get("CareTeam", "ct")["status"] = "inactive"  # type: ignore[index]
    for mode in ("error", "malformed", "invalid"):
        harness.nodes["north"].faults.mode = mode
        report = _refresh(harness)
        assert [f.node for f in report.failures] == ["north"], mode
        assert report.counts.removed == 0
        assert _stored(harness.engine, person_id) == kept
    harness.nodes["north"].faults.mode = "ok"
    assert _refresh(harness).counts.removed == 1


def test_the_refresh_command(harness: Harness) -> None:
    from healthycity.exchange.cli import app

    url = str(harness.engine.url)
    harness.nodes["south"].store.add(
        patient("s-bob", BOB, "Jones", "Bob", gender="male")
        | {"generalPractitioner": [_ods("F84001")]}
    )
    harness.nodes["north"].store.add(patient("n-bob", BOB, "Jones", "Bob", gender="male"))
    # Bob arrived after indexing: index him now, as a re-index would.
    from healthycity.exchange.identity import index as identity

    with transaction(harness.engine) as session:
        for name, local in (("south", "s-bob"), ("north", "n-bob")):
            node = session.execute(select(Node).where(Node.name == name)).scalar_one()
            record = harness.nodes[name].store.get("Patient", local)
            assert record is not None
            identity.index_patient(session, node, record)
    runner = CliRunner()
    first = runner.invoke(app, ["--exchange-database", url, "relationships", "refresh"])
    assert first.exit_code == 0, first.output
    assert "persons refreshed: 2" in first.output
    assert "relationships: 1 added, 0 removed, 0 kept" in first.output
    assert "node failures: 0" in first.output
    bob = harness.person_id(BOB)
    second = runner.invoke(
        app, ["--exchange-database", url, "relationships", "refresh", "--person", bob]
    )
    assert second.exit_code == 0, second.output
    assert "persons refreshed: 1" in second.output
    assert "relationships: 0 added, 0 removed, 1 kept" in second.output

    harness.nodes["north"].faults.mode = "error"
    failed = runner.invoke(app, ["--exchange-database", url, "relationships", "refresh"])
    assert failed.exit_code == 1
    assert "node failures: 2 (nodes: north)" in failed.output
    assert "node north failed for person" in failed.output
    unknown = runner.invoke(
        app, ["--exchange-database", url, "relationships", "refresh", "--person", "nobody"]
    )
    assert unknown.exit_code == 2 and "no such person: nobody" in unknown.output


# --- real records -----------------------------------------------------------------------


def _synthea_bundles() -> tuple[list[list[dict[str, Any]]], list[dict[str, Any]]]:
    folder = reference_path("synthea", "bundles")
    people: list[list[dict[str, Any]]] = []
    shared: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.json")):
        resources = bundle_resources(orjson.loads(path.read_bytes()))
        if path.name.startswith(("hospitalInformation", "practitionerInformation")):
            shared += resources
        else:
            people.append(resources)
    return people, shared


def _recent_providers(resources: Sequence[Mapping[str, Any]], now: datetime, days: int) -> set[str]:
    """An independent reading: the serviceProvider identifier values of encounters that
    finished within ``days`` before ``now`` (Synthea writes only finished ones)."""
    found: set[str] = set()
    for r in resources:
        if r["resourceType"] != "Encounter":
            continue
        assert r["status"] == "finished"
        end = datetime.fromisoformat(r["period"]["end"])
        if now - timedelta(days=days) <= end <= now:
            found.add(r["serviceProvider"]["reference"].rsplit("|", 1)[1])
    return found


def test_synthea_encounters_are_found_by_the_identifiers_they_carry() -> None:
    """Synthea names organisations by its own identifier system and clinicians by US
    NPI. Neither can be a token's ODS code or subject, so the encounters come back as
    unusable parties naming exactly those identifiers; once the organisations carry
    ODS codes (as a London-ised copy would), the same encounters become relationships."""
    people, shared = _synthea_bundles()
    ods_of = {
        org["id"]: f"R{index:04d}"
        for index, org in enumerate(r for r in shared if r["resourceType"] == "Organization")
    }
    londonised = [
        r | {"identifier": [*r.get("identifier", []), {"system": ODS, "value": ods_of[r["id"]]}]}
        if r["resourceType"] == "Organization"
        else r
        for r in shared
    ]
    checked = 0
    for resources in people:
        ends = [
            datetime.fromisoformat(r["period"]["end"])
            for r in resources
            if r["resourceType"] == "Encounter"
        ]
        now = max(ends) + timedelta(days=1)
        expected = _recent_providers(resources, now, 90)
        assert expected, "every Synthea person has a recent encounter before their last"

        derived = derive([*resources, *shared], now)
        assert derived.relationships == []
        organisations = {
            u.party.rsplit("|", 1)[1]
            for u in derived.unusable
            if u.kind == "encounter" and "synthetichealth" in u.party
        }
        assert organisations == expected
        assert all(
            "us-npi" in u.party for u in derived.unusable if "synthetichealth" not in u.party
        )

        usable = derive([*resources, *londonised], now)
        assert {r.organisation for r in usable.relationships} == {ods_of[o] for o in expected}
        assert usable.kinds() == {"encounter"}
        assert all(r.ends_at is not None and r.ends_at >= now for r in usable.relationships)
        checked += 1
    assert checked == 6


def test_the_running_exchange_refreshes_on_its_schedule(tmp_path: Path) -> None:
    """With ``relationship_refresh_interval_seconds`` set, a care team recorded at a node
    gives access without anyone running the command."""
    engine = make_engine(f"sqlite:///{tmp_path / 'exchange.db'}")
    upgrade(engine)
    world = Harness(
        engine,
        settings=ExchangeSettings(
            node_timeout_seconds=1.0,
            node_health_interval_seconds=0,
            relationship_refresh_interval_seconds=0.3,
        ),
    )
    node = world.add_node("north")
    node.store.add_all(
        [
            patient("n-alice", ALICE, "Smith", "Alice"),
            *ordinary_record("n", "n-alice"),
            _organisation("org-ral", (ODS, "RAL01")),
        ]
    )
    with world:
        person_id = world.person_id(ALICE)
        clinician = world.issuer.mint(subject="dr-ral", role="R8000", organisation="RAL01")
        assert _everything(world, clinician, person_id)[0] == 403
        node.store.add(
            _care_team(
                "ct-alice",
                "active",
                [{"reference": "Organization/org-ral"}],
                subject={"reference": "Patient/n-alice"},
            )
        )
        deadline = time.monotonic() + 10
        while _everything(world, clinician, person_id)[0] != 200:
            assert time.monotonic() < deadline, "the scheduled refresh never granted access"
            time.sleep(0.2)
    engine.dispose()


def test_a_refresh_reads_every_page_of_a_search(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A node that pages its answers is read to the end: the relationship on the last
    page counts. A node whose answer goes on past the limit keeps its rows."""
    monkeypatch.setattr(relationships, "PAGE_SIZE", 1)
    person_id = harness.person_id(ALICE)
    north = harness.nodes["north"].store
    for n, status in enumerate(("cancelled", "entered-in-error", "active")):
        north.add(
            _care_team(
                f"ct-{n}", status, [_ods(f"RA{n}")], subject={"reference": "Patient/n-alice"}
            )
        )
    report = _refresh(harness, person_ids=[person_id])
    assert not report.failures
    assert {row[2] for row in _stored(harness.engine, person_id)} >= {"RA2"}
    monkeypatch.setattr(relationships, "MAX_PAGES", 2)
    north.get("CareTeam", "ct-2")["status"] = "inactive"  # type: ignore[index]
    report = _refresh(harness, person_ids=[person_id])
    assert [f.node for f in report.failures] == ["north"]
    assert "beyond" in report.failures[0].error
    assert {row[2] for row in _stored(harness.engine, person_id)} >= {"RA2"}  # kept


def test_paging_links_never_leave_the_node() -> None:
    from healthycity.exchange.federation.fanout import NodeTarget, follow

    node = NodeTarget("n", "http://127.0.0.1:9000/fhir", 1.0)
    request = follow(node, "http://127.0.0.1:9000/fhir/Encounter?patient=p&_offset=5", "p")
    assert request is not None
    assert request.path == "Encounter" and dict(request.params)["_offset"] == "5"
    for elsewhere in (
        "http://evil.example/fhir/Encounter?patient=p",
        "http://127.0.0.1:9000/fhirx/Encounter",
        "https://127.0.0.1:9000/fhir/Encounter",
    ):
        assert follow(node, elsewhere, "p") is None
